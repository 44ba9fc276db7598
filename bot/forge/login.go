package forge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Login returns the login the token acts as: a user's, or a GitHub App's
// bot user ("name[bot]"). tcbot's own comments and issues are the ones this
// login wrote; every lookup by marker considers only those, so a comment
// anyone can write with the same hidden marker is never taken for tcbot's.
//
// GitHub is asked once per Client (GET /user; an App installation token,
// which may not read /user, is answered by GraphQL's viewer instead),
// retried like any call. A failure is not remembered: the next call asks
// again. Call it when starting, so that a token GitHub will not name fails
// there with a clear error; lookups ask on their own otherwise.
func (c *Client) Login(ctx context.Context) (string, error) {
	if login := c.knownLogin(); login != "" {
		return login, nil
	}
	ctx = c.withBudget(ctx)
	select {
	case c.asking <- struct{}{}:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	defer func() { <-c.asking }()
	if login := c.knownLogin(); login != "" {
		return login, nil // another call asked meanwhile
	}
	login, err := c.askLogin(ctx)
	if err != nil {
		return "", failed(err, "ask GitHub whose token tcbot has (GET /user), to tell tcbot's own comments and issues from anyone else's")
	}
	c.loginMu.Lock()
	c.login = login
	c.loginMu.Unlock()
	return login, nil
}

func (c *Client) knownLogin() string {
	c.loginMu.Lock()
	defer c.loginMu.Unlock()
	return c.login
}

func (c *Client) askLogin(ctx context.Context) (string, error) {
	u, _, err := c.gh.Users.Get(ctx, "")
	if err == nil {
		if u.GetLogin() == "" {
			return "", errors.New("GET /user: the answer names no login")
		}
		return u.GetLogin(), nil
	}
	if statusOf(err) != http.StatusForbidden {
		return "", err
	}
	// "Resource not accessible by integration": an App installation token.
	login, gerr := c.viewerLogin(ctx)
	if gerr != nil {
		return "", fmt.Errorf("%w; and GraphQL's viewer: %v", err, gerr)
	}
	return login, nil
}

// viewerLogin asks GraphQL who the token is.
func (c *Client) viewerLogin(ctx context.Context) (string, error) {
	req, err := c.gh.NewRequest(http.MethodPost, c.graphqlPath, map[string]string{"query": "query { viewer { login } }"})
	if err != nil {
		return "", err
	}
	var answer struct {
		Data struct {
			Viewer struct {
				Login string `json:"login"`
			} `json:"viewer"`
		} `json:"data"`
		Errors []struct {
			Message string `json:"message"`
		} `json:"errors"`
	}
	if _, err := c.gh.Do(ctx, req, &answer); err != nil {
		return "", err
	}
	if login := answer.Data.Viewer.Login; login != "" {
		return login, nil
	}
	var msgs []string
	for _, e := range answer.Errors {
		msgs = append(msgs, e.Message)
	}
	return "", fmt.Errorf("POST %s: no viewer login in the answer (%s)", req.URL.Path, strings.Join(msgs, "; "))
}

// mine reports whether author, a comment's or an issue's, is the token's login.
func mine(author, login string) bool { return login != "" && strings.EqualFold(author, login) }
