package forge_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tcbot/tcbot/bot/forge"
	"github.com/tcbot/tcbot/bot/forge/githubtest"
)

func TestParseRepo(t *testing.T) {
	tests := []struct {
		in   string
		want forge.Repo
		ok   bool
	}{
		{"acme/gcc", forge.Repo{Owner: "acme", Name: "gcc"}, true},
		{" llvm/llvm-project ", forge.Repo{Owner: "llvm", Name: "llvm-project"}, true},
		{"torvalds/linux.git-mirror_2", forge.Repo{Owner: "torvalds", Name: "linux.git-mirror_2"}, true},
		{"acme", forge.Repo{}, false},
		{"acme/", forge.Repo{}, false},
		{"/gcc", forge.Repo{}, false},
		{"acme/gcc/extra", forge.Repo{}, false},
		{"acme/..", forge.Repo{}, false},
		{"https://github.com/acme/gcc", forge.Repo{}, false},
	}
	for _, tt := range tests {
		got, err := forge.ParseRepo(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseRepo(%q) = %v, %v; want %v, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestNewRefusesBadOptions(t *testing.T) {
	tests := []struct {
		name string
		o    forge.Options
		want string
	}{
		{"no token", forge.Options{APIURL: "https://api.github.com/"}, "empty token"},
		{"not a URL", forge.Options{Token: token, APIURL: "api.github.com"}, "api url"},
		{"ftp", forge.Options{Token: token, APIURL: "ftp://example.org/"}, "api url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := forge.New(tt.o)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestAPIURLWithoutTrailingSlash(t *testing.T) {
	e := setup(t, func(o *forge.Options) { o.APIURL = strings.TrimSuffix(o.APIURL, "/") })
	if _, err := e.c.PullRequest(context.Background(), acme, 7); err != nil {
		t.Fatal(err)
	}
}

func TestCanCommand(t *testing.T) {
	tests := []struct {
		permission string
		want       bool
	}{
		{"admin", true},
		{"maintain", true},
		{"write", true},
		{"triage", false},
		{"read", false},
		{"none", false},
		{"", false},
		{"Write", false},
	}
	for _, tt := range tests {
		if got := forge.CanCommand(tt.permission); got != tt.want {
			t.Errorf("CanCommand(%q) = %v, want %v", tt.permission, got, tt.want)
		}
	}
}

func TestPermission(t *testing.T) {
	e := setup(t)
	for _, role := range []string{"admin", "maintain", "write", "triage", "read", "none"} {
		e.gh.SetPermission("acme/gcc", "user-"+role, role)
	}
	tests := []struct{ user, want string }{
		{"user-admin", "admin"},
		{"user-maintain", "maintain"}, // GitHub's legacy "permission" says write
		{"user-write", "write"},
		{"user-triage", "triage"}, // legacy: read
		{"user-read", "read"},
		{"user-none", "none"},
		{"stranger", "none"}, // 404
	}
	for _, tt := range tests {
		got, err := e.c.Permission(context.Background(), acme, tt.user)
		if err != nil || got != tt.want {
			t.Errorf("Permission(%s) = %q, %v; want %q", tt.user, got, err, tt.want)
		}
	}
}

func TestPermissionIsCached(t *testing.T) {
	e := setup(t, func(o *forge.Options) { o.PermissionTTL = time.Minute })
	ctx := context.Background()
	e.gh.SetPermission("acme/gcc", "alice", "write")
	asks := func() int { return e.calls("GET", "/repos/acme/gcc/collaborators/") }

	steps := []struct {
		name    string
		advance time.Duration
		perm    string // set on the stand-in before asking
		want    string
		asks    int
	}{
		{"first ask goes to GitHub", 0, "", "write", 1},
		{"second ask is cached", 0, "", "write", 1},
		{"a demotion is not seen within the TTL", 30 * time.Second, "read", "write", 1},
		{"after the TTL GitHub is asked again", 31 * time.Second, "", "read", 2},
	}
	for _, s := range steps {
		e.clock.Advance(s.advance)
		if s.perm != "" {
			e.gh.SetPermission("acme/gcc", "alice", s.perm)
		}
		got, err := e.c.Permission(ctx, acme, "Alice")
		if err != nil || got != s.want || asks() != s.asks {
			t.Errorf("%s: Permission = %q, %v after %d asks; want %q after %d", s.name, got, err, asks(), s.want, s.asks)
		}
	}
	if _, err := e.c.Permission(ctx, forge.Repo{Owner: "acme", Name: "binutils"}, "alice"); err != nil || asks() != 2 {
		t.Errorf("another repository: err %v; want its own cache entry", err)
	}
}

func TestStatuses(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	long := strings.Repeat("é", 200)
	steps := []struct{ context, state, description, url string }{
		{"tcbot/armv8-qemu", "pending", "queued", ""},
		{"tcbot/armv7-qemu", "pending", "queued", ""},
		{"tcbot/armv8-qemu", "failure", long, "https://tcbot.example.org/r/1"},
	}
	for _, s := range steps {
		if err := e.c.SetStatus(ctx, acme, headSHA, s.context, s.state, s.description, s.url); err != nil {
			t.Fatal(err)
		}
	}
	got := e.gh.Statuses("acme/gcc", headSHA)
	if len(got) != 3 || got[0].State != "pending" || got[1].Context != "tcbot/armv7-qemu" {
		t.Fatalf("statuses = %+v", got)
	}
	last, ok := e.gh.LatestStatus("acme/gcc", headSHA, "tcbot/armv8-qemu")
	if !ok || last.State != "failure" || last.TargetURL != "https://tcbot.example.org/r/1" {
		t.Errorf("latest armv8 status = %+v", last)
	}
	if n := utf8.RuneCountInString(last.Description); n != 140 || !strings.HasSuffix(last.Description, "…") {
		t.Errorf("description of %d characters (%q), want 140 ending in …", n, last.Description)
	}

	calls := len(e.gh.Calls())
	err := e.c.SetStatus(ctx, acme, headSHA, "tcbot/armv8-qemu", "green", "", "")
	if err == nil || !strings.HasPrefix(err.Error(), "set status tcbot/armv8-qemu on acme/gcc@") {
		t.Errorf("state green: err = %v, want a refusal naming the status", err)
	}
	if len(e.gh.Calls()) != calls {
		t.Error("a bad state was sent to GitHub")
	}
}

func TestPullRequests(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	for n := 8; n <= 130; n++ {
		pr := forge.PR{Number: n, HeadSHA: fmt.Sprintf("%040x", n), BaseSHA: baseSHA, Author: "bob"}
		if n%10 == 0 {
			pr.State = "closed"
		}
		pr.Draft = n == 9
		e.gh.AddPull("acme/gcc", pr)
	}
	e.gh.SetPullHead("acme/gcc", 7, "3333333333333333333333333333333333333333")

	pr, err := e.c.PullRequest(ctx, acme, 7)
	want := forge.PR{Number: 7, HeadSHA: "3333333333333333333333333333333333333333", HeadRef: "topic", BaseRef: "main", BaseSHA: baseSHA, Author: "alice", State: "open"}
	if err != nil || pr != want {
		t.Errorf("PullRequest = %+v, %v; want %+v", pr, err, want)
	}
	if _, err := e.c.PullRequest(ctx, acme, 404); !forge.IsNotFound(err) || !strings.HasPrefix(err.Error(), "get pull request acme/gcc#404: ") {
		t.Errorf("missing PR: err = %v", err)
	}

	prs, err := e.c.OpenPullRequests(ctx, acme)
	if err != nil {
		t.Fatal(err)
	}
	if len(prs) != 111 { // #7..#130 less the 13 closed ones, #10, #20, ... #130
		t.Errorf("%d open pull requests, want 111", len(prs))
	}
	for _, p := range prs {
		if p.State != "open" || (p.Number == 9) != p.Draft {
			t.Errorf("PR %+v", p)
		}
	}
	pages := 0
	for _, c := range e.gh.Calls() {
		if c.Path == "/repos/acme/gcc/pulls" {
			pages++
		}
	}
	if pages != 2 {
		t.Errorf("%d pages of pull requests listed, want 2", pages)
	}
}

func TestSweepIssues(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	const mark = "<!-- tcbot:sweep gcc/main armv8-qemu -->"
	issues := func() []githubtest.Issue { return e.gh.Issues("acme/gcc") }

	n, created, err := e.c.UpsertIssue(ctx, acme, mark, "Regression in sha256", mark+"\n+8% instructions")
	if err != nil || !created {
		t.Fatalf("UpsertIssue: %d, %v, %v; want created", n, created, err)
	}
	if n == 7 {
		t.Errorf("issue number %d is the pull request's", n)
	}
	n2, created, err := e.c.UpsertIssue(ctx, acme, mark, "Regression in sha256", mark+"\n+9% instructions")
	if err != nil || created || n2 != n {
		t.Fatalf("second UpsertIssue: %d, %v, %v; want #%d updated", n2, created, err, n)
	}
	patches := e.calls("PATCH", "/repos/acme/gcc/issues/")
	if _, _, err := e.c.UpsertIssue(ctx, acme, mark, "Regression in sha256", mark+"\n+9% instructions"); err != nil {
		t.Fatal(err)
	}
	if e.calls("PATCH", "/repos/acme/gcc/issues/") != patches {
		t.Error("an identical issue was edited")
	}
	is := issues()
	if len(is) != 1 || is[0].Body != mark+"\n+9% instructions" || is[0].State != "open" || strings.Join(is[0].Labels, ",") != "tcbot" {
		t.Fatalf("issues = %+v; want one open issue labelled tcbot with the new body", is)
	}

	// Interrupted earlier: commented, but the close failed.
	e.gh.Fail("PATCH", "/repos/acme/gcc/issues/", 1, 422, nil)
	if _, err := e.c.CloseIssue(ctx, acme, mark, "Fixed by 4444444."); err == nil {
		t.Fatal("CloseIssue succeeded though the close failed")
	}
	closed, err := e.c.CloseIssue(ctx, acme, mark, "Fixed by 4444444.")
	if err != nil || !closed {
		t.Fatalf("CloseIssue = %v, %v; want closed", closed, err)
	}
	is = issues()
	if is[0].State != "closed" || strings.Join(is[0].Comments, "|") != "Fixed by 4444444." {
		t.Errorf("issue = %+v; want closed with one comment", is[0])
	}

	writes := e.calls("POST", "/") + e.calls("PATCH", "/")
	closed, err = e.c.CloseIssue(ctx, acme, mark, "Fixed again.")
	if err != nil || closed {
		t.Errorf("CloseIssue with none open = %v, %v; want a no-op", closed, err)
	}
	if e.calls("POST", "/")+e.calls("PATCH", "/") != writes {
		t.Error("CloseIssue with none open wrote to GitHub")
	}

	// A closed issue is not reused: the regression came back.
	n3, created, err := e.c.UpsertIssue(ctx, acme, mark, "Regression in sha256", mark+"\nagain")
	if err != nil || !created || n3 == n {
		t.Errorf("UpsertIssue after close = #%d, %v, %v; want a new issue", n3, created, err)
	}
}

func TestUpsertIssueAppliedButAnswered502(t *testing.T) {
	e := setup(t)
	e.gh.FailAfterApply("POST", "/repos/acme/gcc/issues", 1, 502)
	const mark = "<!-- tcbot:sweep -->"
	_, created, err := e.c.UpsertIssue(context.Background(), acme, mark, "Regression", mark)
	if err != nil || !created {
		t.Fatalf("UpsertIssue: %v, %v", created, err)
	}
	if is := e.gh.Issues("acme/gcc"); len(is) != 1 {
		t.Errorf("%d issues, want 1", len(is))
	}
}

func TestWritesToOneRepositoryAreSerialized(t *testing.T) {
	e := setup(t)
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			ctx := context.Background()
			var err error
			switch i % 3 {
			case 0:
				err = e.c.SetStatus(ctx, acme, headSHA, fmt.Sprint("tcbot/t", i), "pending", "", "")
			case 1:
				_, err = e.c.CreateComment(ctx, acme, 7, fmt.Sprint("comment ", i))
			case 2:
				_, _, err = e.c.UpsertComment(ctx, acme, 7, marker, report(fmt.Sprint(i)))
			}
			if err != nil {
				t.Error(err)
			}
		})
		wg.Go(func() { // reads are not held up
			if _, err := e.c.PullRequest(context.Background(), acme, 7); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := e.gh.MaxInFlightWrites("acme/gcc"); n != 1 {
		t.Errorf("up to %d writes to acme/gcc in flight at once, want 1", n)
	}
}

func TestWritesToTwoRepositoriesOverlap(t *testing.T) {
	e := setup(t)
	binutils := forge.Repo{Owner: "acme", Name: "binutils"}
	// Both statuses must be in flight together, or the stand-in refuses them.
	e.gh.Barrier("POST", "/repos/acme/", 2, 10*time.Second)
	var wg sync.WaitGroup
	for _, r := range []forge.Repo{acme, binutils} {
		wg.Go(func() {
			if err := e.c.SetStatus(context.Background(), r, headSHA, "tcbot/armv8-qemu", "success", "", ""); err != nil {
				t.Errorf("%s: %v", r, err)
			}
		})
	}
	wg.Wait()
}

func TestCallsAreCounted(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	if _, err := e.c.PullRequest(ctx, acme, 7); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.PullRequest(ctx, acme, 8); !forge.IsNotFound(err) {
		t.Fatal(err)
	}
	e.gh.Fail("POST", "/repos/acme/gcc/statuses/", 2, http.StatusBadGateway, nil)
	if err := e.c.SetStatus(ctx, acme, headSHA, "tcbot/armv8-qemu", "pending", "", ""); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.c.UpsertComment(ctx, acme, 7, marker, report("x")); err != nil {
		t.Fatal(err)
	}

	// GET: the pull request, GET /user (tcbot's login, asked once) and the comments.
	want := `
# HELP tcbot_github_calls_total GitHub API calls by HTTP method and final status code after retries ("error" when no answer arrived).
# TYPE tcbot_github_calls_total counter
tcbot_github_calls_total{method="GET",status="200"} 3
tcbot_github_calls_total{method="GET",status="404"} 1
tcbot_github_calls_total{method="POST",status="201"} 2
`
	if err := testutil.GatherAndCompare(e.reg, strings.NewReader(want), "tcbot_github_calls_total"); err != nil {
		t.Error(err)
	}
}

func TestTwoClientsShareTheCounter(t *testing.T) {
	e := setup(t)
	o := forge.Options{APIURL: e.gh.URL(), Token: token, Registerer: e.reg}
	c2, err := forge.New(o)
	if err != nil {
		t.Fatalf("a second client on the same registry: %v", err)
	}
	if _, err := c2.PullRequest(context.Background(), acme, 7); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.PullRequest(context.Background(), acme, 7); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(e.reg, "tcbot_github_calls_total"); n != 1 {
		t.Errorf("%d series, want 1", n)
	}
}
