package forge

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/google/go-github/v60/github"
)

// IssueLabel labels the issues tcbot opens; UpsertIssue and CloseIssue look
// only among open issues with it that tcbot opened (see Login).
const IssueLabel = "tcbot"

// openIssues returns the open issues labelled IssueLabel that tcbot opened
// and whose body holds marker, oldest first. Pull requests, which GitHub
// lists as issues too, are skipped, and so is anyone else's issue.
func (c *Client) openIssues(ctx context.Context, r Repo, marker string) ([]*github.Issue, error) {
	self, err := c.Login(ctx)
	if err != nil {
		return nil, err
	}
	opts := &github.IssueListByRepoOptions{
		State:       "open",
		Labels:      []string{IssueLabel},
		Sort:        "created",
		Direction:   "asc",
		ListOptions: github.ListOptions{PerPage: perPage},
	}
	var found []*github.Issue
	for {
		page, resp, err := c.gh.Issues.ListByRepo(ctx, r.Owner, r.Name, opts)
		if err != nil {
			return nil, err
		}
		for _, is := range page {
			if !is.IsPullRequest() && mine(is.GetUser().GetLogin(), self) && strings.Contains(is.GetBody(), marker) {
				found = append(found, is)
			}
		}
		if resp.NextPage == 0 {
			slices.SortFunc(found, func(a, b *github.Issue) int { return a.GetNumber() - b.GetNumber() })
			return found, nil
		}
		opts.Page = resp.NextPage
	}
}

// UpsertIssue makes the open tcbot issue whose body holds marker read
// title and body (cut to GitHub's limits, the body by CapBody): it edits
// the oldest such issue (not at all if it already reads so), or opens one
// labelled IssueLabel. Safe to repeat after any failure.
func (c *Client) UpsertIssue(ctx context.Context, r Repo, marker, title, body string) (number int, created bool, err error) {
	title, body = truncate(title, maxTitle), CapBody(body, "")
	if marker == "" || !strings.Contains(body, marker) {
		return 0, false, fmt.Errorf("upsert issue on %s: body does not hold marker %q (within GitHub's %d characters), so it could not be found again", r, marker, MaxBody)
	}
	ctx = c.withBudget(ctx)
	unlock, err := c.lockWrites(ctx, r)
	if err != nil {
		return 0, false, failed(err, "upsert issue on %s", r)
	}
	defer unlock()

	open, err := c.openIssues(ctx, r, marker)
	if err != nil {
		return 0, false, failed(err, "find issue on %s", r)
	}
	if len(open) > 0 {
		is := open[0]
		if is.GetTitle() == title && is.GetBody() == body {
			return is.GetNumber(), false, nil
		}
		_, _, err := c.gh.Issues.Edit(ctx, r.Owner, r.Name, is.GetNumber(), &github.IssueRequest{Title: &title, Body: &body})
		if err != nil {
			return 0, false, failed(err, "update issue %s#%d", r, is.GetNumber())
		}
		return is.GetNumber(), false, nil
	}

	n, err := c.createOnce(ctx,
		func(ctx context.Context) (int64, error) {
			labels := []string{IssueLabel}
			is, _, err := c.gh.Issues.Create(ctx, r.Owner, r.Name, &github.IssueRequest{Title: &title, Body: &body, Labels: &labels})
			return int64(is.GetNumber()), err
		},
		func(ctx context.Context) (int64, bool, error) {
			open, err := c.openIssues(ctx, r, marker)
			if err != nil || len(open) == 0 {
				return 0, false, err
			}
			return int64(open[0].GetNumber()), true, nil
		})
	if err != nil {
		return 0, false, failed(err, "create issue on %s", r)
	}
	return int(n), true, nil
}

// CloseIssue closes every open tcbot issue whose body holds marker, first
// commenting comment on it (unless comment is empty or is already tcbot's
// newest comment there, as after an interrupted earlier call). With no such
// issue open it does nothing and reports closed false.
func (c *Client) CloseIssue(ctx context.Context, r Repo, marker, comment string) (closed bool, err error) {
	if marker == "" {
		return false, fmt.Errorf("close issue on %s: empty marker", r)
	}
	comment = CapBody(comment, "")
	ctx = c.withBudget(ctx)
	unlock, err := c.lockWrites(ctx, r)
	if err != nil {
		return false, failed(err, "close issue on %s", r)
	}
	defer unlock()

	open, err := c.openIssues(ctx, r, marker)
	if err != nil {
		return false, failed(err, "find issue on %s", r)
	}
	for _, is := range open {
		n := is.GetNumber()
		if comment != "" {
			_, posted, err := c.newestCommentIs(ctx, r, n, comment)
			if err != nil {
				return closed, failed(err, "close issue %s#%d: read comments", r, n)
			}
			if !posted {
				_, err = c.createOnce(ctx,
					func(ctx context.Context) (int64, error) { return c.createComment(ctx, r, n, comment) },
					func(ctx context.Context) (int64, bool, error) { return c.newestCommentIs(ctx, r, n, comment) })
				if err != nil {
					return closed, failed(err, "close issue %s#%d: comment", r, n)
				}
			}
		}
		state, reason := "closed", "completed"
		if _, _, err := c.gh.Issues.Edit(ctx, r.Owner, r.Name, n, &github.IssueRequest{State: &state, StateReason: &reason}); err != nil {
			return closed, failed(err, "close issue %s#%d", r, n)
		}
		closed = true
	}
	return closed, nil
}
