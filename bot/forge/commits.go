package forge

import (
	"context"
	"net/http"
)

// CommitAuthor returns the GitHub login of a commit's author, "" when
// GitHub does not link the commit's email to an account or does not know
// the commit (a mirror ahead of GitHub).
func (c *Client) CommitAuthor(ctx context.Context, r Repo, sha string) (string, error) {
	cm, resp, err := c.gh.Repositories.GetCommit(c.withBudget(ctx), r.Owner, r.Name, sha, nil)
	if err != nil {
		if resp != nil && (resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusUnprocessableEntity) {
			return "", nil
		}
		return "", failed(err, "author of commit %s on %s", sha, r)
	}
	return cm.GetAuthor().GetLogin(), nil
}
