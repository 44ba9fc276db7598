package forge

import (
	"context"
	"fmt"

	"github.com/google/go-github/v60/github"
)

// Commit status states GitHub accepts.
const (
	StatePending = "pending"
	StateSuccess = "success"
	StateFailure = "failure"
	StateError   = "error"
)

// maxDescription is the longest status description GitHub accepts, in characters.
const maxDescription = 140

// SetStatus sets the commit status context (such as "tcbot/armv8-qemu") of
// commit sha to state (pending, success, failure or error). A description
// longer than GitHub's 140 characters is cut short with an ellipsis;
// targetURL may be empty. GitHub keeps every status; the latest per context counts.
func (c *Client) SetStatus(ctx context.Context, r Repo, sha, context, state, description, targetURL string) error {
	switch state {
	case StatePending, StateSuccess, StateFailure, StateError:
	default:
		return fmt.Errorf("set status %s on %s@%s: state %q: want pending, success, failure or error", context, r, short(sha), state)
	}
	ctx = c.withBudget(ctx)
	unlock, err := c.lockWrites(ctx, r)
	if err != nil {
		return failed(err, "set status %s on %s@%s", context, r, short(sha))
	}
	defer unlock()
	st := &github.RepoStatus{
		State:       &state,
		Context:     &context,
		Description: github.String(truncate(description, maxDescription)),
	}
	if targetURL != "" {
		st.TargetURL = &targetURL
	}
	if _, _, err := c.gh.Repositories.CreateStatus(ctx, r.Owner, r.Name, sha, st); err != nil {
		return failed(err, "set status %s on %s@%s", context, r, short(sha))
	}
	return nil
}

// truncate cuts s to at most n characters, marking the cut with "…".
func truncate(s string, n int) string {
	rs := []rune(s)
	if len(rs) <= n {
		return s
	}
	return string(rs[:n-1]) + "…"
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}
