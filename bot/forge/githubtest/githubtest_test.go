package githubtest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/tcbot/tcbot/bot/forge"
	"github.com/tcbot/tcbot/bot/forge/githubtest"
)

const token = "ghs_test"

const sha = "0123456789abcdef0123456789abcdef01234567"

// client is go-github itself pointed at s: the stand-in must answer in
// shapes it decodes.
func client(t *testing.T, s *githubtest.Server) *github.Client {
	t.Helper()
	c := github.NewClient(nil).WithAuthToken(token)
	u, err := url.Parse(s.URL())
	if err != nil {
		t.Fatal(err)
	}
	c.BaseURL = u
	return c
}

func get(t *testing.T, s *githubtest.Server, path, auth string) (*http.Response, map[string]any) {
	t.Helper()
	req, err := http.NewRequest("GET", s.URL()+strings.TrimPrefix(path, "/"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var body map[string]any
	_ = json.Unmarshal(data, &body)
	return resp, body
}

func TestAuthorization(t *testing.T) {
	s := githubtest.New(t, token)
	s.AddPull("acme/gcc", forge.PR{Number: 1})
	tests := []struct {
		name, auth string
		want       int
	}{
		{"bearer token", "Bearer " + token, 200},
		{"token scheme", "token " + token, 200},
		{"no header", "", 401},
		{"wrong token", "Bearer nope", 401},
		{"basic auth", "Basic " + token, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := get(t, s, "/repos/acme/gcc/pulls/1", tt.auth)
			if resp.StatusCode != tt.want {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.want)
			}
			if tt.want == 401 && body["message"] != "Bad credentials" {
				t.Errorf("body %v, want GitHub's Bad credentials", body)
			}
		})
	}
}

func TestUnknownEndpointsAreRecorded(t *testing.T) {
	s := githubtest.New(t, token)
	resp, body := get(t, s, "/repos/acme/gcc/releases", "Bearer "+token)
	if resp.StatusCode != 404 || body["message"] != "Not Found" {
		t.Errorf("answer %d %v, want GitHub's 404", resp.StatusCode, body)
	}
	get(t, s, "/repos/acme/gcc/issues/comments/1", "Bearer "+token) // known, just absent
	u := s.Unhandled()
	if len(u) != 1 || u[0].Path != "/repos/acme/gcc/releases" || u[0].Status != 404 {
		t.Errorf("unhandled calls %+v, want the releases call only", u)
	}
}

func TestCommentsPaginateLikeGitHub(t *testing.T) {
	s := githubtest.New(t, token)
	c := client(t, s)
	ctx := context.Background()
	s.AddPull("acme/gcc", forge.PR{Number: 3})
	for i := range 65 {
		s.AddComment("acme/gcc", 3, "human", fmt.Sprint("c", i))
	}
	var bodies []string
	opts := &github.IssueListCommentsOptions{}
	pages := 0
	for {
		cs, resp, err := c.Issues.ListComments(ctx, "acme", "gcc", 3, opts)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if pages == 1 && (resp.LastPage != 3 || len(cs) != 30) {
			t.Errorf("first page: %d comments, last page %d; want 30 of 3 pages", len(cs), resp.LastPage)
		}
		for _, cm := range cs {
			bodies = append(bodies, cm.GetBody())
			if cm.GetUser().GetLogin() != "human" || cm.GetID() == 0 || cm.GetCreatedAt().IsZero() {
				t.Errorf("comment %+v", cm)
			}
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	if pages != 3 || len(bodies) != 65 || bodies[64] != "c64" {
		t.Errorf("%d pages, %d comments, want 3 pages of 65 in order", pages, len(bodies))
	}
	cs, _, err := c.Issues.ListComments(ctx, "acme", "gcc", 3, &github.IssueListCommentsOptions{ListOptions: github.ListOptions{PerPage: 500}})
	if err != nil || len(cs) != 65 {
		t.Errorf("per_page 500: %d comments, %v; want them all (at most 100 a page)", len(cs), err)
	}
}

func TestCommentsCreateAndEdit(t *testing.T) {
	s := githubtest.New(t, token)
	c := client(t, s)
	ctx := context.Background()
	s.AddPull("acme/gcc", forge.PR{Number: 3})

	cm, resp, err := c.Issues.CreateComment(ctx, "acme", "gcc", 3, &github.IssueComment{Body: github.String("hello")})
	if err != nil || resp.StatusCode != 201 || cm.GetUser().GetLogin() != githubtest.BotLogin {
		t.Fatalf("create: %+v, %v", cm, err)
	}
	if _, _, err := c.Issues.EditComment(ctx, "acme", "gcc", cm.GetID(), &github.IssueComment{Body: github.String("bye")}); err != nil {
		t.Fatal(err)
	}
	got := s.Comments("ACME/GCC", 3) // names are case-insensitive
	if len(got) != 1 || got[0].Body != "bye" || got[0].Edits != 1 {
		t.Errorf("comments %+v", got)
	}
	if _, _, err := c.Issues.CreateComment(ctx, "acme", "gcc", 99, &github.IssueComment{Body: github.String("x")}); err == nil {
		t.Error("a comment on a missing pull request was accepted")
	}
	if _, _, err := c.Issues.EditComment(ctx, "acme", "binutils", cm.GetID(), &github.IssueComment{Body: github.String("x")}); err == nil {
		t.Error("a comment was edited through another repository")
	}
}

func TestFailures(t *testing.T) {
	s := githubtest.New(t, token)
	c := client(t, s)
	ctx := context.Background()
	s.AddPull("acme/gcc", forge.PR{Number: 3})

	s.Fail("POST", "/repos/acme/gcc/issues/", 1, 403, map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "2000000000"})
	_, _, err := c.Issues.CreateComment(ctx, "acme", "gcc", 3, &github.IssueComment{Body: github.String("a")})
	if _, ok := err.(*github.RateLimitError); !ok {
		t.Errorf("err = %T %v, want go-github's RateLimitError", err, err)
	}
	c = client(t, s) // go-github would now refuse calls until the reset

	s.Fail("POST", "/repos/acme/gcc/issues/", 1, 403, map[string]string{"Retry-After": "5"})
	_, _, err = c.Issues.CreateComment(ctx, "acme", "gcc", 3, &github.IssueComment{Body: github.String("b")})
	if ae, ok := err.(*github.AbuseRateLimitError); !ok || ae.GetRetryAfter() != 5*time.Second {
		t.Errorf("err = %T %v, want go-github's AbuseRateLimitError after 5s", err, err)
	}
	c = client(t, s)

	s.FailAfterApply("POST", "/repos/acme/gcc/issues/3/comments", 1, 502)
	_, resp, err := c.Issues.CreateComment(ctx, "acme", "gcc", 3, &github.IssueComment{Body: github.String("c")})
	if err == nil || resp.StatusCode != 502 {
		t.Errorf("applied-then-failed: %v, want a 502", err)
	}
	if cs := s.Comments("acme/gcc", 3); len(cs) != 1 || cs[0].Body != "c" {
		t.Errorf("comments %+v, want the applied one only", cs)
	}

	s.Fail("", "", 2, 500, nil)
	for range 2 {
		if _, _, err := c.PullRequests.Get(ctx, "acme", "gcc", 3); err == nil {
			t.Error("a call got through a fault")
		}
	}
	if _, _, err := c.PullRequests.Get(ctx, "acme", "gcc", 3); err != nil {
		t.Errorf("after the faults: %v", err)
	}
	var statuses []int
	for _, call := range s.Calls() {
		statuses = append(statuses, call.Status)
	}
	if fmt.Sprint(statuses) != "[403 403 502 500 500 200]" {
		t.Errorf("recorded statuses %v", statuses)
	}
}

func TestBarrier(t *testing.T) {
	s := githubtest.New(t, token)
	c := client(t, s)
	ctx := context.Background()

	s.Barrier("POST", "/repos/", 2, 10*time.Second)
	var wg sync.WaitGroup
	for _, repo := range []string{"gcc", "glibc"} {
		wg.Go(func() {
			if _, _, err := c.Repositories.CreateStatus(ctx, "acme", repo, sha, &github.RepoStatus{State: github.String("success")}); err != nil {
				t.Errorf("%s: %v", repo, err)
			}
		})
	}
	wg.Wait()

	s.Barrier("POST", "/repos/", 2, time.Millisecond)
	_, resp, err := c.Repositories.CreateStatus(ctx, "acme", "gcc", sha, &github.RepoStatus{State: github.String("success")})
	if err == nil || resp.StatusCode != 409 {
		t.Errorf("a lone request at a barrier: %v, want 409", err)
	}
}

func TestStatusesAndReactions(t *testing.T) {
	s := githubtest.New(t, token)
	c := client(t, s)
	ctx := context.Background()

	st, _, err := c.Repositories.CreateStatus(ctx, "acme", "gcc", sha, &github.RepoStatus{
		State: github.String("failure"), Context: github.String("tcbot/armv7-qemu"),
		Description: github.String("2 regressions"), TargetURL: github.String("https://x/1"),
	})
	if err != nil || st.GetState() != "failure" || st.GetContext() != "tcbot/armv7-qemu" {
		t.Fatalf("status %+v, %v", st, err)
	}
	bad := []*github.RepoStatus{
		{State: github.String("green")},
		{State: github.String("success"), Description: github.String(strings.Repeat("x", 141))},
	}
	for _, b := range bad {
		if _, _, err := c.Repositories.CreateStatus(ctx, "acme", "gcc", sha, b); err == nil {
			t.Errorf("status %+v accepted", b)
		}
	}
	if _, _, err := c.Repositories.CreateStatus(ctx, "acme", "gcc", "main", &github.RepoStatus{State: github.String("success")}); err == nil {
		t.Error("a status on a branch name was accepted; GitHub wants a commit SHA")
	}
	if got := s.Statuses("acme/gcc", sha); len(got) != 1 || got[0].TargetURL != "https://x/1" || got[0].Description != "2 regressions" {
		t.Errorf("statuses %+v", got)
	}

	s.AddPull("acme/gcc", forge.PR{Number: 3})
	id := s.AddComment("acme/gcc", 3, "maintainer", "/tcbot rerun")
	r, resp, err := c.Reactions.CreateIssueCommentReaction(ctx, "acme", "gcc", id, "eyes")
	if err != nil || resp.StatusCode != 201 || r.GetContent() != "eyes" {
		t.Fatalf("reaction %+v, %v", r, err)
	}
	if _, resp, _ := c.Reactions.CreateIssueCommentReaction(ctx, "acme", "gcc", id, "eyes"); resp.StatusCode != 200 {
		t.Errorf("a repeated reaction: %d, want GitHub's 200", resp.StatusCode)
	}
	if _, _, err := c.Reactions.CreateIssueCommentReaction(ctx, "acme", "gcc", id, "thumbsup"); err == nil {
		t.Error("an unknown reaction was accepted")
	}
	if got := s.Reactions("acme/gcc", id); len(got) != 1 {
		t.Errorf("reactions %v, want one", got)
	}
}

func TestPermissions(t *testing.T) {
	s := githubtest.New(t, token)
	c := client(t, s)
	s.SetPermission("acme/gcc", "Mia", "maintain")
	p, _, err := c.Repositories.GetPermissionLevel(context.Background(), "acme", "gcc", "mia")
	if err != nil || p.GetPermission() != "write" {
		t.Errorf("permission %+v, %v; want the legacy level write", p, err)
	}
	_, body := get(t, s, "/repos/acme/gcc/collaborators/mia/permission", "token "+token)
	if body["role_name"] != "maintain" {
		t.Errorf("body %v, want role_name maintain", body)
	}
	if _, resp, err := c.Repositories.GetPermissionLevel(context.Background(), "acme", "gcc", "nobody"); err == nil || resp.StatusCode != 404 {
		t.Errorf("unknown user: %v, want 404", err)
	}
}

func TestPullsAndIssues(t *testing.T) {
	s := githubtest.New(t, token)
	c := client(t, s)
	ctx := context.Background()
	s.AddPull("acme/gcc", forge.PR{Number: 1, HeadSHA: sha, BaseSHA: sha, Author: "alice", Draft: true})
	s.AddPull("acme/gcc", forge.PR{Number: 2, State: "closed"})

	p, _, err := c.PullRequests.Get(ctx, "acme", "gcc", 1)
	if err != nil || p.GetHead().GetSHA() != sha || p.GetHead().GetRef() != "topic" || p.GetBase().GetRef() != "main" || !p.GetDraft() || p.GetUser().GetLogin() != "alice" || p.GetState() != "open" {
		t.Errorf("pull %+v, %v", p, err)
	}
	open, _, err := c.PullRequests.List(ctx, "acme", "gcc", nil)
	if err != nil || len(open) != 1 {
		t.Errorf("open pulls: %d, %v; want 1", len(open), err)
	}

	is, resp, err := c.Issues.Create(ctx, "acme", "gcc", &github.IssueRequest{Title: github.String("Regression"), Body: github.String("b"), Labels: &[]string{"tcbot"}})
	if err != nil || resp.StatusCode != 201 || is.GetNumber() != 3 {
		t.Fatalf("issue %+v, %v; want #3 after the pull requests", is, err)
	}
	if _, _, err := c.Issues.Create(ctx, "acme", "gcc", &github.IssueRequest{Body: github.String("no title")}); err == nil {
		t.Error("an issue without a title was accepted")
	}
	list := func(opts *github.IssueListByRepoOptions) []int {
		t.Helper()
		got, _, err := c.Issues.ListByRepo(ctx, "acme", "gcc", opts)
		if err != nil {
			t.Fatal(err)
		}
		var ns []int
		for _, i := range got {
			ns = append(ns, i.GetNumber())
			if (i.GetNumber() <= 2) != i.IsPullRequest() {
				t.Errorf("#%d: IsPullRequest %v", i.GetNumber(), i.IsPullRequest())
			}
		}
		return ns
	}
	if got := list(nil); fmt.Sprint(got) != "[3 1]" {
		t.Errorf("open issues %v, want [3 1]: newest first, pull requests included", got)
	}
	if got := list(&github.IssueListByRepoOptions{Labels: []string{"tcbot"}}); fmt.Sprint(got) != "[3]" {
		t.Errorf("labelled issues %v, want [3]", got)
	}
	if _, _, err := c.Issues.Edit(ctx, "acme", "gcc", 3, &github.IssueRequest{State: github.String("closed")}); err != nil {
		t.Fatal(err)
	}
	if got := list(&github.IssueListByRepoOptions{State: "closed"}); fmt.Sprint(got) != "[3 2]" {
		t.Errorf("closed issues %v, want [3 2]", got)
	}
	if _, _, err := c.Issues.CreateComment(ctx, "acme", "gcc", 3, &github.IssueComment{Body: github.String("closing")}); err != nil {
		t.Fatal(err)
	}
	want := []githubtest.Issue{{Number: 3, Title: "Regression", Body: "b", State: "closed", Author: githubtest.BotLogin, Labels: []string{"tcbot"}, Comments: []string{"closing"}}}
	if got := s.Issues("acme/gcc"); fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", want) {
		t.Errorf("Issues = %+v, want %+v", got, want)
	}
}
