package forge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/go-github/v60/github"
)

const perPage = 100 // GitHub's largest page

// FindComment returns the newest of tcbot's own comments (see Login) on
// issue or pull request pr whose body holds marker (the caller puts an
// HTML comment such as "<!-- tcbot:report -->" in the bodies it posts).
// Anyone else's comment is ignored, marker or not. It reads every page.
func (c *Client) FindComment(ctx context.Context, r Repo, pr int, marker string) (id int64, body string, found bool, err error) {
	if marker == "" {
		return 0, "", false, fmt.Errorf("find comment on %s#%d: empty marker", r, pr)
	}
	ctx = c.withBudget(ctx)
	id, body, found, err = c.findComment(ctx, r, pr, func(b string) bool { return strings.Contains(b, marker) })
	if err != nil {
		return 0, "", false, failed(err, "find comment on %s#%d", r, pr)
	}
	return id, body, found, nil
}

// findComment returns the newest of tcbot's own comments whose body
// satisfies match.
func (c *Client) findComment(ctx context.Context, r Repo, pr int, match func(string) bool) (id int64, body string, found bool, err error) {
	self, err := c.Login(ctx)
	if err != nil {
		return 0, "", false, err
	}
	opts := &github.IssueListCommentsOptions{ListOptions: github.ListOptions{PerPage: perPage}}
	for {
		comments, resp, err := c.gh.Issues.ListComments(ctx, r.Owner, r.Name, pr, opts)
		if err != nil {
			return 0, "", false, err
		}
		for _, cm := range comments {
			if mine(cm.GetUser().GetLogin(), self) && match(cm.GetBody()) {
				id, body, found = cm.GetID(), cm.GetBody(), true
			}
		}
		if resp.NextPage == 0 {
			return id, body, found, nil
		}
		opts.Page = resp.NextPage
	}
}

// UpsertComment makes tcbot's newest comment holding marker on pr read
// body (cut to GitHub's limit by CapBody): it edits that comment in place
// (not at all if it already reads body), or creates one. Safe to repeat
// after any failure: it never posts twice.
func (c *Client) UpsertComment(ctx context.Context, r Repo, pr int, marker, body string) (id int64, created bool, err error) {
	body = CapBody(body, "")
	if marker == "" || !strings.Contains(body, marker) {
		return 0, false, fmt.Errorf("upsert comment on %s#%d: body does not hold marker %q (within GitHub's %d characters), so it could not be found again", r, pr, marker, MaxBody)
	}
	ctx = c.withBudget(ctx)
	unlock, err := c.lockWrites(ctx, r)
	if err != nil {
		return 0, false, failed(err, "upsert comment on %s#%d", r, pr)
	}
	defer unlock()

	hasMarker := func(b string) bool { return strings.Contains(b, marker) }
	id, old, found, err := c.findComment(ctx, r, pr, hasMarker)
	if err != nil {
		return 0, false, failed(err, "find comment on %s#%d", r, pr)
	}
	if found {
		if old == body {
			return id, false, nil
		}
		err := c.editComment(ctx, r, id, body)
		if err == nil {
			return id, false, nil
		}
		if !IsNotFound(err) {
			return 0, false, failed(err, "update comment %d on %s#%d", id, r, pr)
		}
		// Deleted by someone since we looked: post a new one.
	}
	id, err = c.createOnce(ctx,
		func(ctx context.Context) (int64, error) { return c.createComment(ctx, r, pr, body) },
		func(ctx context.Context) (int64, bool, error) {
			id, _, found, err := c.findComment(ctx, r, pr, hasMarker)
			return id, found, err
		})
	if err != nil {
		return 0, false, failed(err, "create comment on %s#%d", r, pr)
	}
	return id, true, nil
}

// CreateComment posts a new comment on issue or pull request pr (body cut
// to GitHub's limit by CapBody). After an answer that leaves it unknown
// whether GitHub posted it (a 5xx, a broken connection), it retries only if
// tcbot's newest comment is not already body.
func (c *Client) CreateComment(ctx context.Context, r Repo, pr int, body string) (int64, error) {
	body = CapBody(body, "")
	ctx = c.withBudget(ctx)
	unlock, err := c.lockWrites(ctx, r)
	if err != nil {
		return 0, failed(err, "create comment on %s#%d", r, pr)
	}
	defer unlock()
	id, err := c.createOnce(ctx,
		func(ctx context.Context) (int64, error) { return c.createComment(ctx, r, pr, body) },
		func(ctx context.Context) (int64, bool, error) { return c.newestCommentIs(ctx, r, pr, body) })
	if err != nil {
		return 0, failed(err, "create comment on %s#%d", r, pr)
	}
	return id, nil
}

// newestCommentIs reports whether tcbot's newest comment on pr reads body.
func (c *Client) newestCommentIs(ctx context.Context, r Repo, pr int, body string) (int64, bool, error) {
	id, last, found, err := c.findComment(ctx, r, pr, func(string) bool { return true })
	if err != nil || !found || last != body {
		return 0, false, err
	}
	return id, true, nil
}

func (c *Client) createComment(ctx context.Context, r Repo, pr int, body string) (int64, error) {
	cm, _, err := c.gh.Issues.CreateComment(ctx, r.Owner, r.Name, pr, &github.IssueComment{Body: &body})
	if err != nil {
		return 0, err
	}
	return cm.GetID(), nil
}

// EditComment replaces the body of comment id (cut to GitHub's limit by
// CapBody). Find the comment with FindComment: only tcbot's own are meant
// to be edited, and GitHub lets a token with write access edit anyone's.
func (c *Client) EditComment(ctx context.Context, r Repo, id int64, body string) error {
	body = CapBody(body, "")
	ctx = c.withBudget(ctx)
	unlock, err := c.lockWrites(ctx, r)
	if err != nil {
		return failed(err, "update comment %d on %s", id, r)
	}
	defer unlock()
	if err := c.editComment(ctx, r, id, body); err != nil {
		return failed(err, "update comment %d on %s", id, r)
	}
	return nil
}

func (c *Client) editComment(ctx context.Context, r Repo, id int64, body string) error {
	_, _, err := c.gh.Issues.EditComment(ctx, r.Owner, r.Name, id, &github.IssueComment{Body: &body})
	return err
}

// createOnce runs create, a POST that GitHub may have applied even though
// the answer was an error, until it succeeds, with backoff inside the
// operation's budget. After every answer that leaves it unknown whether
// GitHub applied it, applied looks for the result before create runs again.
func (c *Client) createOnce(ctx context.Context, create func(context.Context) (int64, error), applied func(context.Context) (int64, bool, error)) (int64, error) {
	b := ctx.Value(budgetKey{}).(budget)
	for attempt := 1; ; attempt++ {
		id, err := create(noReplay(ctx))
		if err == nil {
			return id, nil
		}
		if !doubtful(ctx, err) {
			return 0, err
		}
		id, found, ferr := applied(ctx)
		if ferr == nil && found {
			return id, nil
		}
		if ferr != nil && !doubtful(ctx, ferr) {
			return 0, ferr
		}
		remaining := b.deadline.Sub(c.now())
		if remaining <= 0 {
			return 0, &UnavailableError{
				Method: http.MethodPost, Path: postPath(err), Attempts: attempt,
				Retried: c.now().Sub(b.start), Last: err.Error(),
			}
		}
		wait := min(backoff(attempt-1), remaining)
		c.log.WithField("attempt", attempt).WithField("wait", wait).
			Warnf("github create may not have been applied (%v); looked, not there, retrying", err)
		if err := c.sleep(ctx, wait); err != nil {
			return 0, err
		}
	}
}

// doubtful reports whether err leaves it unknown whether GitHub applied a
// write: a 5xx answer or a connection that broke after sending. Rate limits
// and 4xx answers are certain refusals, and ErrUnavailable means the budget
// is spent.
func doubtful(ctx context.Context, err error) bool {
	if ctx.Err() != nil || errors.Is(err, ErrUnavailable) {
		return false
	}
	if code := statusOf(err); code != 0 {
		return code >= 500
	}
	var ue interface{ Timeout() bool } // *url.Error: the request did not complete
	return errors.As(err, &ue)
}

// postPath is the path of the request behind err, for messages.
func postPath(err error) string {
	var er *github.ErrorResponse
	if errors.As(err, &er) && er.Response != nil && er.Response.Request != nil {
		return er.Response.Request.URL.Path
	}
	return "(create)"
}

// reactions GitHub accepts.
var reactions = map[string]bool{
	"+1": true, "-1": true, "laugh": true, "confused": true,
	"heart": true, "hooray": true, "rocket": true, "eyes": true,
}

// React adds reaction content ("eyes", "+1", "confused", ...) to issue or
// pull request comment commentID. Reacting twice is harmless.
func (c *Client) React(ctx context.Context, r Repo, commentID int64, content string) error {
	if !reactions[content] {
		return fmt.Errorf("react %q to comment %d on %s: GitHub knows no such reaction", content, commentID, r)
	}
	ctx = c.withBudget(ctx)
	unlock, err := c.lockWrites(ctx, r)
	if err != nil {
		return failed(err, "react %q to comment %d on %s", content, commentID, r)
	}
	defer unlock()
	if _, _, err := c.gh.Reactions.CreateIssueCommentReaction(ctx, r.Owner, r.Name, commentID, content); err != nil {
		return failed(err, "react %q to comment %d on %s", content, commentID, r)
	}
	return nil
}
