package forge

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"
)

type permEntry struct {
	perm    string
	expires time.Time
}

// Permission returns user's role on r: "admin", "maintain", "write",
// "triage", "read" or "none" ("none" also for users GitHub does not know).
// Answers are cached for Options.PermissionTTL per repository and user.
func (c *Client) Permission(ctx context.Context, r Repo, user string) (string, error) {
	key := r.key() + "\x00" + strings.ToLower(user)
	now := c.now()
	c.permMu.Lock()
	e, ok := c.perms[key]
	c.permMu.Unlock()
	if ok && now.Before(e.expires) {
		return e.perm, nil
	}

	perm, err := c.permission(c.withBudget(ctx), r, user)
	if err != nil {
		return "", failed(err, "permission of %s on %s", user, r)
	}
	c.permMu.Lock()
	defer c.permMu.Unlock()
	if len(c.perms) > 10000 {
		for k, e := range c.perms {
			if !now.Before(e.expires) {
				delete(c.perms, k)
			}
		}
	}
	c.perms[key] = permEntry{perm: perm, expires: now.Add(c.permTTL)}
	return perm, nil
}

func (c *Client) permission(ctx context.Context, r Repo, user string) (string, error) {
	// go-github v60's RepositoryPermissionLevel lacks role_name, and
	// "permission" folds maintain into write and triage into read.
	u := fmt.Sprintf("repos/%s/%s/collaborators/%s/permission",
		url.PathEscape(r.Owner), url.PathEscape(r.Name), url.PathEscape(user))
	req, err := c.gh.NewRequest("GET", u, nil)
	if err != nil {
		return "", err
	}
	var level struct {
		Permission string `json:"permission"`
		RoleName   string `json:"role_name"`
	}
	if _, err := c.gh.Do(ctx, req, &level); err != nil {
		if IsNotFound(err) {
			return "none", nil
		}
		return "", err
	}
	switch level.RoleName {
	case "admin", "maintain", "write", "triage", "read":
		return level.RoleName, nil
	}
	// A custom role: its base permission is what counts.
	if level.Permission == "" {
		return "none", nil
	}
	return level.Permission, nil
}

// CanCommand reports whether a user with permission may command tcbot:
// write, maintain and admin may.
func CanCommand(permission string) bool {
	switch permission {
	case "write", "maintain", "admin":
		return true
	}
	return false
}
