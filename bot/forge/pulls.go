package forge

import (
	"context"

	"github.com/google/go-github/v60/github"
)

// PR is what tcbot needs of a pull request.
type PR struct {
	Number           int
	HeadSHA, HeadRef string
	BaseRef, BaseSHA string
	Author           string
	State            string // open or closed
	Draft            bool
}

func prFrom(p *github.PullRequest) PR {
	return PR{
		Number:  p.GetNumber(),
		HeadSHA: p.GetHead().GetSHA(),
		HeadRef: p.GetHead().GetRef(),
		BaseRef: p.GetBase().GetRef(),
		BaseSHA: p.GetBase().GetSHA(),
		Author:  p.GetUser().GetLogin(),
		State:   p.GetState(),
		Draft:   p.GetDraft(),
	}
}

// PullRequest returns pull request number of r.
func (c *Client) PullRequest(ctx context.Context, r Repo, number int) (PR, error) {
	p, _, err := c.gh.PullRequests.Get(c.withBudget(ctx), r.Owner, r.Name, number)
	if err != nil {
		return PR{}, failed(err, "get pull request %s#%d", r, number)
	}
	return prFrom(p), nil
}

// OpenPullRequests returns every open pull request of r, newest first.
func (c *Client) OpenPullRequests(ctx context.Context, r Repo) ([]PR, error) {
	ctx = c.withBudget(ctx)
	opts := &github.PullRequestListOptions{State: "open", ListOptions: github.ListOptions{PerPage: perPage}}
	var prs []PR
	for {
		page, resp, err := c.gh.PullRequests.List(ctx, r.Owner, r.Name, opts)
		if err != nil {
			return nil, failed(err, "list open pull requests of %s", r)
		}
		for _, p := range page {
			prs = append(prs, prFrom(p))
		}
		if resp.NextPage == 0 {
			return prs, nil
		}
		opts.Page = resp.NextPage
	}
}
