package githubtest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-github/v60/github"

	"github.com/tcbot/tcbot/bot/forge"
	"github.com/tcbot/tcbot/bot/forge/githubtest"
)

// clientWith is go-github pointed at s with token tok.
func clientWith(t *testing.T, s *githubtest.Server, tok string) *github.Client {
	t.Helper()
	c := github.NewClient(nil).WithAuthToken(tok)
	u, err := url.Parse(s.URL())
	if err != nil {
		t.Fatal(err)
	}
	c.BaseURL = u
	return c
}

func status(err error) int {
	if er, ok := err.(*github.ErrorResponse); ok {
		return er.Response.StatusCode
	}
	return 0
}

func TestTokensBelongToUsers(t *testing.T) {
	s := githubtest.New(t, token)
	s.AddToken("ghp_mallory", "mallory")
	s.AddAppToken("ghs_app", "perfbot[bot]")
	ctx := context.Background()
	for _, tt := range []struct{ token, login string }{{token, githubtest.BotLogin}, {"ghp_mallory", "mallory"}} {
		u, _, err := clientWith(t, s, tt.token).Users.Get(ctx, "")
		if err != nil || u.GetLogin() != tt.login {
			t.Errorf("GET /user with %s: %q, %v; want %q", tt.token, u.GetLogin(), err, tt.login)
		}
	}
	app := clientWith(t, s, "ghs_app")
	if _, _, err := app.Users.Get(ctx, ""); status(err) != 403 || !strings.Contains(err.Error(), "Resource not accessible by integration") {
		t.Errorf("GET /user with an installation token: %v, want GitHub's 403", err)
	}
	req, _ := app.NewRequest("POST", "graphql", map[string]string{"query": "query { viewer { login } }"})
	var answer struct {
		Data struct{ Viewer struct{ Login string } }
	}
	if _, err := app.Do(ctx, req, &answer); err != nil || answer.Data.Viewer.Login != "perfbot[bot]" {
		t.Errorf("GraphQL viewer: %+v, %v", answer, err)
	}

	s.AddPull("acme/gcc", forge.PR{Number: 3})
	cm, _, err := clientWith(t, s, "ghp_mallory").Issues.CreateComment(ctx, "acme", "gcc", 3, &github.IssueComment{Body: github.String("LGTM")})
	if err != nil || cm.GetUser().GetLogin() != "mallory" {
		t.Fatalf("mallory's comment: %+v, %v", cm, err)
	}
	if cs := s.Comments("acme/gcc", 3); len(cs) != 1 || cs[0].User != "mallory" {
		t.Errorf("comments %+v, want mallory's", cs)
	}
}

func TestWhoMayEditWhat(t *testing.T) {
	s := githubtest.New(t, token)
	s.AddToken("ghp_mallory", "mallory")
	ctx := context.Background()
	bot, mallory := clientWith(t, s, token), clientWith(t, s, "ghp_mallory")
	s.AddPull("acme/gcc", forge.PR{Number: 3})
	edit := func(c *github.Client, id int64) error {
		_, _, err := c.Issues.EditComment(ctx, "acme", "gcc", id, &github.IssueComment{Body: github.String("edited")})
		return err
	}
	botsComment := s.AddComment("acme/gcc", 3, githubtest.BotLogin, "report")
	mallorys := s.AddComment("acme/gcc", 3, "mallory", "LGTM")

	if err := edit(mallory, botsComment); status(err) != 403 {
		t.Errorf("mallory edits tcbot's comment: %v, want 403", err)
	}
	if err := edit(mallory, mallorys); err != nil {
		t.Errorf("mallory edits her own comment: %v", err)
	}
	if err := edit(bot, mallorys); err != nil {
		t.Errorf("tcbot, with write access, edits mallory's comment: %v; GitHub allows it", err)
	}
	s.SetPermission("acme/gcc", githubtest.BotLogin, "read")
	if err := edit(bot, mallorys); status(err) != 403 {
		t.Errorf("tcbot with read access edits mallory's comment: %v, want 403", err)
	}
	if err := edit(bot, botsComment); err != nil {
		t.Errorf("tcbot edits its own comment: %v", err)
	}
	if cs := s.Comments("acme/gcc", 3); cs[0].Body != "edited" || cs[0].Edits != 1 || cs[1].Edits != 2 {
		t.Errorf("comments %+v", cs)
	}

	// Issues: labels from someone without push access are dropped; only
	// the author or a writer edits, only the author or a triager closes.
	is, _, err := mallory.Issues.Create(ctx, "acme", "gcc", &github.IssueRequest{Title: github.String("mine"), Labels: &[]string{"tcbot"}})
	if err != nil || len(is.Labels) != 0 || is.GetUser().GetLogin() != "mallory" {
		t.Fatalf("mallory's issue %+v, %v; want hers, without labels", is, err)
	}
	s.SetPermission("acme/gcc", githubtest.BotLogin, "write")
	botsIssue, _, err := bot.Issues.Create(ctx, "acme", "gcc", &github.IssueRequest{Title: github.String("tcbot's"), Labels: &[]string{"tcbot"}})
	if err != nil || len(botsIssue.Labels) != 1 {
		t.Fatalf("tcbot's issue %+v, %v; want it labelled", botsIssue, err)
	}
	for _, req := range []*github.IssueRequest{{Body: github.String("x")}, {State: github.String("closed")}, {Labels: &[]string{}}} {
		if _, _, err := mallory.Issues.Edit(ctx, "acme", "gcc", botsIssue.GetNumber(), req); status(err) != 403 {
			t.Errorf("mallory edits tcbot's issue with %+v: %v, want 403", req, err)
		}
	}
	if _, _, err := mallory.Issues.Edit(ctx, "acme", "gcc", is.GetNumber(), &github.IssueRequest{State: github.String("closed")}); err != nil {
		t.Errorf("mallory closes her own issue: %v", err)
	}
}

func TestBodiesOverGitHubsLimitAreRefused(t *testing.T) {
	s := githubtest.New(t, token)
	s.AddPull("acme/gcc", forge.PR{Number: 3})
	post := func(body string) int {
		data, _ := json.Marshal(map[string]string{"body": body})
		req, _ := http.NewRequest("POST", s.URL()+"repos/acme/gcc/issues/3/comments", bytes.NewReader(data))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(strings.Repeat("é", githubtest.MaxBody)); code != 201 {
		t.Errorf("%d characters: %d, want 201", githubtest.MaxBody, code)
	}
	if code := post(strings.Repeat("é", githubtest.MaxBody+1)); code != 422 {
		t.Errorf("%d characters: %d, want 422", githubtest.MaxBody+1, code)
	}
}
