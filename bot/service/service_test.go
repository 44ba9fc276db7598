package service_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/sirupsen/logrus"

	"github.com/tcbot/tcbot/bot/config"
	"github.com/tcbot/tcbot/bot/demo"
	"github.com/tcbot/tcbot/bot/executor"
	"github.com/tcbot/tcbot/bot/forge"
	"github.com/tcbot/tcbot/bot/forge/githubtest"
	"github.com/tcbot/tcbot/bot/measure"
	"github.com/tcbot/tcbot/bot/measure/measuretest"
	"github.com/tcbot/tcbot/bot/service"
	"github.com/tcbot/tcbot/bot/store"
	"github.com/tcbot/tcbot/bot/store/pgtest"
	"github.com/tcbot/tcbot/bot/webhook"
)

const (
	ghRepo     = "Codertocat/Hello-World" // the repository of the real payloads
	token      = "ghp_testtoken_do_not_log_0123456789"
	secret     = "webhook-secret-for-tests"
	maintainer = "Codertocat"
	stranger   = "drive-by"
)

// The toolchain repository: master stays at "base"; pull requests point
// at the later commits through refs/pull/N/head, as on GitHub.
var commits = []demo.Commit{
	{Subject: "base", Files: map[string]string{"tcbot-toolchain.yaml": measuretest.Manifest(""), "README": "a\n"}},
	{Subject: "no-op", Files: map[string]string{"README": "b\n"}},
	{Subject: "slow", Files: map[string]string{"tcbot-toolchain.yaml": measuretest.Manifest("-DSLOW")}},
	{Subject: "slow, docs", Files: map[string]string{"README": "c\n"}},
	{Subject: "fast again", Files: map[string]string{"tcbot-toolchain.yaml": measuretest.Manifest("")}},
}

type env struct {
	t      *testing.T
	dir    string
	origin string
	sha    map[string]string
	gh     *githubtest.Server
	svc    *service.Service
	st     *store.Store
	cfg    *config.Config
	m      *measure.Measurer
	srv    *httptest.Server
	logs   *syncBuffer
}

// syncBuffer is a log sink safe to read while the service writes to it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type setupOpts struct {
	extraConfig string
	repoConfig  string // more keys of the hello repository, indented by 4
	forgeWait   time.Duration
	newExecutor func(config.Target) (executor.Executor, error)
}

func setup(t *testing.T, o setupOpts) *env {
	t.Helper()
	dir := t.TempDir()
	e := &env{t: t, dir: dir, origin: filepath.Join(dir, "origin"), sha: map[string]string{}, logs: &syncBuffer{}}
	if err := measuretest.WriteSuite(filepath.Join(dir, "suite")); err != nil {
		t.Fatal(err)
	}
	shas, err := demo.MakeRepo(e.origin, commits)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range commits {
		e.sha[c.Subject] = shas[i]
	}
	e.setRef("refs/heads/master", e.sha["base"])
	e.setRef("refs/heads/release-1", e.sha["base"]) // a pinned baseline
	e.gh = githubtest.New(t, token)
	e.gh.SetPermission(ghRepo, maintainer, "admin")
	e.gh.SetPermission(ghRepo, stranger, "read")

	t.Setenv("TCBOT_TEST_TOKEN", token)
	database := ""
	if onPostgres {
		database = "database: " + pgtest.URL(t) + "\n"
	}
	cfgText := fmt.Sprintf(`%sworkdir: work
benchmarks_dir: suite
workers: 2
reconcile: 1h
public_url: https://tcbot.example.org/
github:
  api_url: %s
  token_env: TCBOT_TEST_TOKEN
  webhook_secret_env: TCBOT_TEST_SECRET
repos:
  - name: hello
    url: origin
    branches: [master]
    github: %s
%stargets:
  - {name: armv7-qemu, arch: armv7, executor: qemu-user}
  - {name: armv8-qemu, arch: armv8, executor: qemu-user}
%s`, database, e.gh.URL(), ghRepo, o.repoConfig, o.extraConfig)
	path := filepath.Join(dir, "tcbot.yaml")
	if err := os.WriteFile(path, []byte(cfgText), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	log := logrus.New()
	log.SetOutput(e.logs)
	log.SetLevel(logrus.DebugLevel)
	ctx := context.Background()
	m, err := measure.New(ctx, cfg, log, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.st, e.cfg, e.m = m.Store, cfg, m
	m.NewExecutor = o.newExecutor
	wait := o.forgeWait
	if wait == 0 {
		wait = 30 * time.Second
	}
	reg := prometheus.NewRegistry()
	client, err := forge.New(forge.Options{APIURL: e.gh.URL(), Token: token, Log: log, MaxWait: wait, Registerer: reg,
		// Waits are real but short: a test must not take GitHub's minutes.
		Sleep: func(ctx context.Context, d time.Duration) error {
			if d > 20*time.Millisecond {
				d = 20 * time.Millisecond
			}
			select {
			case <-time.After(d):
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	e.svc, err = service.New(ctx, service.Options{Config: cfg, Measurer: m, Forge: client, Secret: []byte(secret), Log: log, Registry: reg, PollInterval: 20 * time.Millisecond, RetryBase: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	h, err := e.svc.Handler()
	if err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(h)
	if err := e.svc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		e.svc.Stop(sctx)
		e.srv.Close()
		m.Store.Close()
		if t.Failed() {
			t.Logf("service log:\n%s", e.logs.String())
		}
		if strings.Contains(e.logs.String(), token) || strings.Contains(e.logs.String(), secret) {
			t.Error("a secret reached the log")
		}
	})
	return e
}

func (e *env) setRef(name, sha string) {
	e.t.Helper()
	r, err := git.PlainOpen(e.origin)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := r.Storer.SetReference(plumbing.NewHashReference(plumbing.ReferenceName(name), plumbing.NewHash(sha))); err != nil {
		e.t.Fatal(err)
	}
}

// payload loads a real webhook payload and applies edits to its JSON.
func payload(t *testing.T, file string, edit func(m map[string]any)) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "webhook", "testdata", "webhooks", file))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func obj(m map[string]any, keys ...string) map[string]any {
	for _, k := range keys {
		m = m[k].(map[string]any)
	}
	return m
}

// pull makes a pull_request delivery for PR number with head sha.
func (e *env) pull(action string, number int, head, author string, draft bool) []byte {
	file := "pull_request/opened.json"
	if action == "synchronize" || action == "reopened" || action == "closed" {
		file = "pull_request/" + action + ".json"
	}
	e.setRef(fmt.Sprintf("refs/pull/%d/head", number), head)
	state := "open"
	if action == "closed" {
		state = "closed"
	}
	e.gh.AddPull(ghRepo, forge.PR{Number: number, HeadSHA: head, HeadRef: "feature", BaseRef: "master", Author: author, Draft: draft, State: state})
	return payload(e.t, file, func(m map[string]any) {
		m["action"] = action
		m["number"] = number
		pr := obj(m, "pull_request")
		pr["number"] = number
		pr["draft"] = draft
		obj(pr, "head")["sha"] = head
		obj(pr, "base")["ref"] = "master"
		obj(pr, "user")["login"] = author
	})
}

// comment makes an issue_comment delivery on pull request number.
func (e *env) comment(number int, user, body string) []byte {
	id := e.gh.AddComment(ghRepo, number, user, body)
	return payload(e.t, "issue_comment/created.json", func(m map[string]any) {
		issue := obj(m, "issue")
		issue["number"] = number
		issue["pull_request"] = map[string]any{"url": fmt.Sprintf("https://api.github.com/repos/%s/pulls/%d", ghRepo, number)}
		c := obj(m, "comment")
		c["id"] = id
		c["body"] = body
		obj(c, "user")["login"] = user
	})
}

func (e *env) deliver(event string, body []byte) int {
	e.t.Helper()
	status, reply, _, err := webhook.Send(context.Background(), e.srv.URL+"/webhook", []byte(secret), event, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if status >= 300 {
		e.t.Fatalf("delivery of %s: HTTP %d %s", event, status, reply)
	}
	return status
}

// idle waits until no job is queued or running and every change is
// finished and reported.
func (e *env) idle() {
	e.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		res, err := e.svc.River().JobList(context.Background(), river.NewJobListParams().
			States(rivertype.JobStateAvailable, rivertype.JobStateRunning, rivertype.JobStateRetryable, rivertype.JobStateScheduled, rivertype.JobStatePending).First(100))
		if err != nil {
			e.t.Fatal(err)
		}
		busy := 0
		for _, j := range res.Jobs {
			// Periodic jobs scheduled in the future are not work in flight.
			if j.State == rivertype.JobStateScheduled && j.ScheduledAt.After(time.Now().Add(time.Second)) {
				continue
			}
			busy++
		}
		if busy == 0 {
			open, err := store.ListChanges(context.Background(), e.st.Q(), "state IN ('queued','running') OR (state = 'done' AND reported = 0)", 10)
			if err != nil {
				e.t.Fatal(err)
			}
			bs, err := store.ListBisections(context.Background(), e.st.Q(), "state IN ('queued','running') OR (state IN ('done','error') AND reported = 0)", 10)
			if err != nil {
				e.t.Fatal(err)
			}
			if len(open) == 0 && len(bs) == 0 {
				return
			}
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("service not idle after 90s: %d jobs in flight", busy)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (e *env) changes() []*store.Change {
	e.t.Helper()
	cs, err := store.ListChanges(context.Background(), e.st.Q(), "", 100)
	if err != nil {
		e.t.Fatal(err)
	}
	return cs
}

func marked(cs []githubtest.Comment) []githubtest.Comment {
	var out []githubtest.Comment
	for _, c := range cs {
		if strings.Contains(c.Body, "<!-- tcbot:report -->") {
			out = append(out, c)
		}
	}
	return out
}

// onPostgres makes setup put the service on PostgreSQL (TestOnPostgres).
var onPostgres bool

// TestOnPostgres runs the service's tests again with the store and River's
// queue on PostgreSQL (pgx, riverpgxv5) instead of SQLite.
func TestOnPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("the service suite again on PostgreSQL")
	}
	onPostgres = true
	defer func() { onPostgres = false }()
	for _, tt := range []struct {
		name string
		fn   func(*testing.T)
	}{
		{"PullRequestStickyComment", TestPullRequestStickyComment},
		{"Commands", TestCommands},
		{"UntrustedPullRequestWaitsForOkToTest", TestUntrustedPullRequestWaitsForOkToTest},
		{"DraftWaitsUntilReady", TestDraftWaitsUntilReady},
		{"BadSignatureAndDuplicateDeliveries", TestBadSignatureAndDuplicateDeliveries},
		{"GitHubOutageStillEndsWithOneReport", TestGitHubOutageStillEndsWithOneReport},
		{"PushIsMeasuredAgainstThePreviousHead", TestPushIsMeasuredAgainstThePreviousHead},
		{"PollingTurnsMovedBranchesIntoChanges", TestPollingTurnsMovedBranchesIntoChanges},
		{"SweepOpensAndClosesAnIssue", TestSweepOpensAndClosesAnIssue},
		{"ReconcileHealsAMissedWebhook", TestReconcileHealsAMissedWebhook},
		{"CheckRerequestReruns", TestCheckRerequestReruns},
		{"CancelInterruptsARunningMeasurement", TestCancelInterruptsARunningMeasurement},
		{"DashboardAndChangePages", TestDashboardAndChangePages},
		{"LateReportOfAnOldHeadDoesNotReplaceTheCurrentOne", TestLateReportOfAnOldHeadDoesNotReplaceTheCurrentOne},
	} {
		t.Run(tt.name, tt.fn)
	}
}

func TestPullRequestStickyComment(t *testing.T) {
	e := setup(t, setupOpts{})

	// Opened with a head that changes nothing measurable.
	e.deliver("pull_request", e.pull("opened", 1, e.sha["no-op"], maintainer, false))
	e.idle()
	cs := e.gh.Comments(ghRepo, 1)
	if len(cs) != 1 || len(marked(cs)) != 1 || !strings.Contains(cs[0].Body, "unchanged") {
		t.Fatalf("after opened: %d comments, want one sticky report saying unchanged: %+v", len(cs), cs)
	}
	for _, target := range []string{"armv7-qemu", "armv8-qemu"} {
		st, ok := e.gh.LatestStatus(ghRepo, e.sha["no-op"], "tcbot/"+target)
		if !ok || st.State != "success" {
			t.Errorf("status tcbot/%s = %+v, want success", target, st)
		}
	}

	// A push that turns it into a regression: a new comment notifies.
	e.deliver("pull_request", e.pull("synchronize", 1, e.sha["slow"], maintainer, false))
	e.idle()
	cs = e.gh.Comments(ghRepo, 1)
	if len(cs) != 2 || len(marked(cs)) != 1 || !strings.Contains(marked(cs)[0].Body, "regression") {
		t.Fatalf("after the regression: %d comments (%d sticky), want 2 with the newest one sticky", len(cs), len(marked(cs)))
	}
	if st, _ := e.gh.LatestStatus(ghRepo, e.sha["slow"], "tcbot/armv8-qemu"); st.State != "failure" {
		t.Errorf("status on the regressing head = %+v, want failure", st)
	}
	// The comment links to the change page (public_url), and its
	// reproduce line names the repository, not this server's config.
	body := marked(cs)[0].Body
	if !regexp.MustCompile(`\]\(https://tcbot\.example\.org/changes/\d+\)`).MatchString(body) {
		t.Errorf("the comment does not link to its change page:\n%s", body)
	}
	if !strings.Contains(body, "tcbot run --repo-url ") || strings.Contains(body, "--config") {
		t.Errorf("the reproduce line should run anywhere (--repo-url, no --config):\n%s", body)
	}

	// Still a regression after another push: the sticky comment is edited.
	sticky := marked(cs)[0]
	e.deliver("pull_request", e.pull("synchronize", 1, e.sha["slow, docs"], maintainer, false))
	e.idle()
	cs = e.gh.Comments(ghRepo, 1)
	if len(cs) != 2 {
		t.Fatalf("after a second regressing push: %d comments, want still 2", len(cs))
	}
	now := marked(cs)[0]
	if now.ID != sticky.ID || now.Edits == 0 || !strings.Contains(now.Body, e.sha["slow, docs"]) {
		t.Errorf("sticky comment %d (edits %d) was not edited in place for the new head", now.ID, now.Edits)
	}
}

func TestCommands(t *testing.T) {
	e := setup(t, setupOpts{})
	e.deliver("pull_request", e.pull("opened", 2, e.sha["no-op"], maintainer, false))
	e.idle()
	before := len(e.changes())

	t.Run("rerun by a maintainer reruns the named target", func(t *testing.T) {
		e.deliver("issue_comment", e.comment(2, maintainer, "Looks odd.\n/tcbot rerun armv8-qemu\n"))
		e.idle()
		cs := e.changes()
		if len(cs) != before+1 || len(cs[0].Targets) != 1 || cs[0].Targets[0] != "armv8-qemu" || cs[0].State != store.ChangeDone {
			t.Fatalf("changes after rerun: %d (want %d), newest %+v", len(cs), before+1, cs[0])
		}
		before = len(cs)
	})
	t.Run("rerun by a user without write permission is refused", func(t *testing.T) {
		n := len(e.gh.Comments(ghRepo, 2))
		body := e.comment(2, stranger, "/tcbot rerun")
		id := int64(obj(func() map[string]any { var m map[string]any; json.Unmarshal(body, &m); return m }(), "comment")["id"].(float64))
		e.deliver("issue_comment", body)
		e.idle()
		if got := len(e.changes()); got != before {
			t.Errorf("a refused command created %d changes", got-before)
		}
		cs := e.gh.Comments(ghRepo, 2)
		if len(cs) != n+2 || !strings.Contains(cs[len(cs)-1].Body, "only people with write access") {
			t.Errorf("no polite refusal: %+v", cs[len(cs)-1])
		}
		if r := e.gh.Reactions(ghRepo, id); len(r) == 0 || r[len(r)-1] != "confused" {
			t.Errorf("reactions %v, want eyes then confused", r)
		}
	})
	t.Run("commands in code blocks and quotes do nothing", func(t *testing.T) {
		for _, body := range []string{"```\n/tcbot rerun\n```", "> /tcbot rerun\n\nI agree", "Use `/tcbot rerun` to rerun"} {
			e.deliver("issue_comment", e.comment(2, maintainer, body))
		}
		e.idle()
		if got := len(e.changes()); got != before {
			t.Errorf("quoted commands created %d changes", got-before)
		}
	})
	t.Run("help and unknown commands are answered", func(t *testing.T) {
		e.deliver("issue_comment", e.comment(2, maintainer, "/tcbot frobnicate"))
		e.idle()
		cs := e.gh.Comments(ghRepo, 2)
		if last := cs[len(cs)-1].Body; !strings.Contains(last, "frobnicate") || !strings.Contains(last, "ok-to-test") {
			t.Errorf("reply to an unknown command lacks the help: %q", last)
		}
	})
	t.Run("cancel", func(t *testing.T) {
		e.deliver("issue_comment", e.comment(2, maintainer, "/tcbot cancel"))
		e.idle()
		cs := e.gh.Comments(ghRepo, 2)
		if last := cs[len(cs)-1].Body; !strings.Contains(last, "Cancelled") {
			t.Errorf("reply to cancel: %q", last)
		}
	})
}

func TestUntrustedPullRequestWaitsForOkToTest(t *testing.T) {
	e := setup(t, setupOpts{})
	e.deliver("pull_request", e.pull("opened", 3, e.sha["slow"], stranger, false))
	e.idle()
	if n := len(e.changes()); n != 0 {
		t.Fatalf("an untrusted pull request started %d changes", n)
	}
	cs := e.gh.Comments(ghRepo, 3)
	if len(cs) != 1 || !strings.Contains(cs[0].Body, "/tcbot ok-to-test") {
		t.Fatalf("no waiting note: %+v", cs)
	}
	e.deliver("issue_comment", e.comment(3, maintainer, "/tcbot ok-to-test"))
	e.idle()
	if n := len(e.changes()); n != 1 {
		t.Fatalf("ok-to-test started %d changes, want 1", n)
	}
	if len(marked(e.gh.Comments(ghRepo, 3))) != 1 {
		t.Error("no report after ok-to-test")
	}
	// A new push needs a new approval.
	e.deliver("pull_request", e.pull("synchronize", 3, e.sha["slow, docs"], stranger, false))
	e.idle()
	if n := len(e.changes()); n != 1 {
		t.Errorf("a new push of an untrusted author ran without approval (%d changes)", n)
	}
}

func TestDraftWaitsUntilReady(t *testing.T) {
	e := setup(t, setupOpts{})
	e.deliver("pull_request", e.pull("opened", 4, e.sha["no-op"], maintainer, true))
	e.idle()
	if n := len(e.changes()); n != 0 {
		t.Fatalf("a draft started %d changes", n)
	}
	e.deliver("pull_request", e.pull("ready_for_review", 4, e.sha["no-op"], maintainer, false))
	e.idle()
	if n := len(e.changes()); n != 1 {
		t.Fatalf("ready_for_review started %d changes, want 1", n)
	}
}

func TestBadSignatureAndDuplicateDeliveries(t *testing.T) {
	e := setup(t, setupOpts{})
	body := e.pull("opened", 5, e.sha["no-op"], maintainer, false)
	post := func(sig, delivery string) int {
		req, _ := http.NewRequest("POST", e.srv.URL+"/webhook", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-GitHub-Event", "pull_request")
		req.Header.Set("X-GitHub-Delivery", delivery)
		req.Header.Set("X-Hub-Signature-256", sig)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(webhook.Sign([]byte("wrong secret"), body), "d-1"); code != http.StatusUnauthorized {
		t.Errorf("bad signature: HTTP %d, want 401", code)
	}
	e.idle()
	if n := len(e.changes()); n != 0 {
		t.Fatalf("a badly signed delivery started %d changes", n)
	}
	good := webhook.Sign([]byte(secret), body)
	if code := post(good, "d-2"); code != http.StatusAccepted {
		t.Errorf("good delivery: HTTP %d, want 202", code)
	}
	if code := post(good, "d-2"); code != http.StatusOK {
		t.Errorf("same delivery again: HTTP %d, want 200 (duplicate)", code)
	}
	e.idle()
	if n := len(e.changes()); n != 1 {
		t.Errorf("the same delivery twice made %d changes, want 1", n)
	}
}

func TestGitHubOutageStillEndsWithOneReport(t *testing.T) {
	e := setup(t, setupOpts{forgeWait: 200 * time.Millisecond})
	// GitHub fails for a while: 500s, then a primary rate limit.
	e.gh.Fail("", "", 8, http.StatusInternalServerError, nil)
	e.gh.Fail("", "", 2, http.StatusForbidden, map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": fmt.Sprint(time.Now().Add(time.Second).Unix())})
	e.deliver("pull_request", e.pull("opened", 6, e.sha["slow"], maintainer, false))
	e.idle()
	if cs := marked(e.gh.Comments(ghRepo, 6)); len(cs) != 1 || !strings.Contains(cs[0].Body, "regression") {
		t.Fatalf("after the outage: %d report comments, want exactly 1", len(cs))
	}
}

func TestPushIsMeasuredAgainstThePreviousHead(t *testing.T) {
	e := setup(t, setupOpts{})
	push := func(before, after string) []byte {
		return payload(t, "push/payload.json", func(m map[string]any) {
			m["ref"] = "refs/heads/master"
			m["before"], m["after"] = before, after
			m["deleted"], m["created"], m["forced"] = false, false, false
		})
	}
	e.setRef("refs/heads/master", e.sha["slow"])
	e.deliver("push", push(e.sha["base"], e.sha["slow"]))
	e.idle()
	cs := e.changes()
	if len(cs) != 1 || cs[0].Verdict != "regression" || cs[0].Base == "" {
		t.Fatalf("push: %+v", cs)
	}
	if st, _ := e.gh.LatestStatus(ghRepo, e.sha["slow"], "tcbot/armv7-qemu"); st.State != "failure" {
		t.Errorf("status on the pushed commit = %+v, want failure", st)
	}
	e.setRef("refs/heads/master", e.sha["fast again"])
	e.deliver("push", push(e.sha["slow"], e.sha["fast again"]))
	e.idle()
	cs = e.changes()
	if len(cs) != 2 || cs[0].Base != e.sha["slow"] || cs[0].Verdict != "improvement" {
		t.Fatalf("second push measured against %s with verdict %s; want the previous head and improvement", cs[0].Base, cs[0].Verdict)
	}
}

func TestPollingTurnsMovedBranchesIntoChanges(t *testing.T) {
	e := setup(t, setupOpts{})
	ctx := context.Background()
	if err := e.svc.Poll(ctx, "hello"); err != nil {
		t.Fatal(err)
	}
	if n := len(e.changes()); n != 0 {
		t.Fatalf("first poll measured %d changes; it should only take the baseline", n)
	}
	e.setRef("refs/heads/master", e.sha["slow"])
	if err := e.svc.Poll(ctx, "hello"); err != nil {
		t.Fatal(err)
	}
	e.idle()
	cs := e.changes()
	if len(cs) != 1 || cs[0].Base != e.sha["base"] || cs[0].Head != e.sha["slow"] || cs[0].Verdict != "regression" {
		t.Fatalf("after the branch moved: %+v", cs)
	}
	// A deleted branch is forgotten, not a crash.
	r, _ := git.PlainOpen(e.origin)
	if err := r.Storer.RemoveReference("refs/heads/master"); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Poll(ctx, "hello"); err != nil {
		t.Fatalf("poll after the branch was deleted: %v", err)
	}
	if !strings.Contains(e.logs.String(), "watched branch deleted") {
		t.Error("a deleted branch was not logged")
	}
}

func TestSweepOpensAndClosesAnIssue(t *testing.T) {
	e := setup(t, setupOpts{extraConfig: "sweeps:\n  - {name: nightly, schedule: \"0 2 * * *\", repos: [hello]}\n"})
	ctx := context.Background()
	sweep := func() {
		if err := e.svc.Sweep(ctx, "nightly"); err != nil {
			t.Fatal(err)
		}
		e.idle()
	}
	sweep() // master at base: measured against its parent (none) -> baseline run
	e.setRef("refs/heads/master", e.sha["slow"])
	sweep()
	issues := e.gh.Issues(ghRepo)
	if len(issues) != 1 || issues[0].State != "open" || !strings.Contains(issues[0].Title, "regression on hello master (sweep nightly)") {
		t.Fatalf("after a regressing sweep: %+v", issues)
	}
	e.setRef("refs/heads/master", e.sha["fast again"])
	sweep()
	issues = e.gh.Issues(ghRepo)
	if len(issues) != 1 || issues[0].State != "closed" {
		t.Fatalf("after a clean sweep: %+v", issues)
	}
}

func TestReconcileHealsAMissedWebhook(t *testing.T) {
	e := setup(t, setupOpts{})
	e.setRef("refs/pull/8/head", e.sha["slow"])
	e.gh.AddPull(ghRepo, forge.PR{Number: 8, HeadSHA: e.sha["slow"], HeadRef: "feature", BaseRef: "master", Author: maintainer, State: "open"})
	if err := e.svc.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.idle()
	if cs := marked(e.gh.Comments(ghRepo, 8)); len(cs) != 1 {
		t.Fatalf("reconcile after a missed webhook: %d report comments, want 1", len(cs))
	}
}

func TestCheckRerequestReruns(t *testing.T) {
	e := setup(t, setupOpts{})
	e.deliver("pull_request", e.pull("opened", 10, e.sha["no-op"], maintainer, false))
	e.idle()
	for _, kind := range []string{"check_suite", "check_run"} {
		before := len(e.changes())
		e.deliver(kind, payload(t, kind+"/rerequested.json", func(m map[string]any) {
			obj(m, "repository")["full_name"] = ghRepo
			if kind == "check_suite" {
				obj(m, "check_suite")["head_sha"] = e.sha["no-op"]
			} else {
				obj(m, "check_run")["head_sha"] = e.sha["no-op"]
				obj(m, "check_run", "check_suite")["head_sha"] = e.sha["no-op"]
			}
		}))
		e.idle()
		if got := len(e.changes()); got != before+1 {
			t.Errorf("%s rerequested: %d new changes, want 1", kind, got-before)
		}
	}
	if cs := marked(e.gh.Comments(ghRepo, 10)); len(cs) != 1 {
		t.Errorf("reruns left %d sticky comments, want 1", len(cs))
	}
}

// blockingExecutor is Woodpecker's "dummy backend" idea: a target whose
// runs last until they are cancelled, to test cancellation.
type blockingExecutor struct {
	started chan struct{}
	ended   chan error
}

func (b *blockingExecutor) Name() string                  { return "blocking" }
func (b *blockingExecutor) Prepare(context.Context) error { return nil }
func (b *blockingExecutor) Cleanup() error                { return nil }
func (b *blockingExecutor) Run(ctx context.Context, spec executor.Spec) (*executor.Outcome, error) {
	select {
	case b.started <- struct{}{}:
	default:
	}
	<-ctx.Done()
	select {
	case b.ended <- ctx.Err():
	default:
	}
	return nil, &executor.InfraError{Op: "run " + spec.Name, Err: ctx.Err()}
}

func TestCancelInterruptsARunningMeasurement(t *testing.T) {
	block := &blockingExecutor{started: make(chan struct{}, 1), ended: make(chan error, 1)}
	e := setup(t, setupOpts{newExecutor: func(config.Target) (executor.Executor, error) { return block, nil }})
	e.deliver("pull_request", e.pull("opened", 11, e.sha["slow"], maintainer, false))
	select {
	case <-block.started:
	case <-time.After(60 * time.Second):
		t.Fatal("the measurement never started running benchmarks")
	}
	e.deliver("issue_comment", e.comment(11, maintainer, "/tcbot cancel"))
	select {
	case err := <-block.ended:
		if err == nil {
			t.Error("the run ended without its context being cancelled")
		}
	case <-time.After(60 * time.Second):
		t.Fatal("/tcbot cancel did not interrupt the running measurement")
	}
	e.idle()
	cs := e.changes()
	if len(cs) != 1 || cs[0].State != store.ChangeCancelled || !strings.Contains(cs[0].Note, "cancelled by @"+maintainer) {
		t.Fatalf("change after cancel: %+v", cs)
	}
	if len(marked(e.gh.Comments(ghRepo, 11))) != 0 {
		t.Error("a cancelled measurement posted a report")
	}
	comments := e.gh.Comments(ghRepo, 11)
	if last := comments[len(comments)-1].Body; !strings.Contains(last, "Cancelled 1") {
		t.Errorf("reply to cancel: %q", last)
	}
}

func TestDashboardAndChangePages(t *testing.T) {
	e := setup(t, setupOpts{})
	e.deliver("pull_request", e.pull("opened", 12, e.sha["slow"], maintainer, false))
	e.idle()
	id := e.changes()[0].ID
	st, ok := e.gh.LatestStatus(ghRepo, e.sha["slow"], "tcbot/armv8-qemu")
	if want := fmt.Sprintf("https://tcbot.example.org/changes/%d", id); !ok || st.TargetURL != want {
		t.Errorf("status links to %q, want %q", st.TargetURL, want)
	}
	get := func(path string) (int, string) {
		resp, err := http.Get(e.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, body := get("/"); code != 200 || !strings.Contains(body, fmt.Sprintf(`href="changes/%d"`, id)) || !strings.Contains(body, "regression") {
		t.Errorf("dashboard: %d\n%s", code, body)
	}
	if code, body := get(fmt.Sprintf("/changes/%d", id)); code != 200 || !strings.Contains(body, `<span class="regression">regression</span>`) || !strings.Contains(body, `<table class="sortable findings">`) || !strings.Contains(body, "<td>loop</td>") ||
		!strings.Contains(body, "<td>armv7-qemu</td><td>done</td><td>"+e.svc.ID()+"</td>") {
		t.Errorf("change page lacks the report or who measured each target: %d\n%s", code, body)
	}
	if _, body := get("/"); !strings.Contains(body, "<td>"+e.svc.ID()+"</td>") || !strings.Contains(body, "armv7-qemu, armv8-qemu") {
		t.Errorf("dashboard lacks this process among the workers:\n%s", body)
	}
	code, body := get(fmt.Sprintf("/changes/%d?format=json", id))
	var rep map[string]any
	if code != 200 || json.Unmarshal([]byte(body), &rep) != nil || rep["verdict"] != "regression" {
		t.Errorf("change JSON: %d %s", code, body)
	}
	if code, _ := get("/changes/999"); code != 404 {
		t.Errorf("unknown change: %d, want 404", code)
	}
	if code, body := get("/healthz"); code != 200 || !strings.HasPrefix(body, "ok") {
		t.Errorf("healthz: %d %s", code, body)
	}
	if code, body := get("/metrics"); code != 200 || !strings.Contains(body, `tcbot_webhooks_total{event="pull_request",result="queued"} 1`) ||
		!strings.Contains(body, "tcbot_github_calls_total") || !strings.Contains(body, "tcbot_queue_latency_seconds") || !strings.Contains(body, `tcbot_jobs{kind="tcbot_measure",queue="target_armv8-qemu",state="completed"} 1`) || !strings.Contains(body, `tcbot_worker_heartbeat_age_seconds{`) {
		t.Errorf("metrics lack webhooks, GitHub calls, queue latency or jobs by state:\n%s", body)
	}
}

func TestLateReportOfAnOldHeadDoesNotReplaceTheCurrentOne(t *testing.T) {
	e := setup(t, setupOpts{})
	e.deliver("pull_request", e.pull("opened", 13, e.sha["slow"], maintainer, false))
	e.idle()
	before := e.gh.Comments(ghRepo, 13)
	// A measurement of a head the pull request has since left (it moved
	// while this one was queued) finishes last.
	ctx := context.Background()
	c := &store.Change{Repo: "hello", Head: e.sha["no-op"], Origin: "pr", PR: 13}
	e.setRef("refs/pull/13/head", e.sha["slow"])
	if _, err := store.InsertChange(ctx, e.st.Q(), c); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.River().Insert(ctx, service.MeasureArgs{Change: c.ID}, nil); err != nil {
		t.Fatal(err)
	}
	e.idle()
	after := e.gh.Comments(ghRepo, 13)
	if len(after) != len(before) || after[len(after)-1].Body != before[len(before)-1].Body {
		t.Fatalf("the old head's report touched the comments: %d -> %d", len(before), len(after))
	}
	if st, ok := e.gh.LatestStatus(ghRepo, e.sha["no-op"], "tcbot/armv8-qemu"); !ok || st.State != "success" {
		t.Errorf("the old head's own status = %+v, want success", st)
	}
}

// TestBoardIsUsedByOneMeasurementAtATime: on PostgreSQL a board target is
// locked across every process sharing the queue. While another process
// holds the board, its measurement waits (snoozed, not failed, not an
// attempt used up); the other targets go on; once the board is free the
// change completes.
func TestBoardIsUsedByOneMeasurementAtATime(t *testing.T) {
	if testing.Short() {
		t.Skip("PostgreSQL")
	}
	onPostgres = true
	defer func() { onPostgres = false }()
	defer service.SetBoardBusyRetry(200 * time.Millisecond)()
	dir := t.TempDir()
	key, known := filepath.Join(dir, "key"), filepath.Join(dir, "known_hosts")
	os.WriteFile(key, []byte("unused: the test runs the board's binaries under qemu-user"), 0o600)
	os.WriteFile(known, []byte("board.lab ssh-ed25519 AAAA\n"), 0o644)
	e := setup(t, setupOpts{
		extraConfig: fmt.Sprintf("  - {name: board, arch: armv8, executor: ssh, samples: 2, ssh: {host: board.lab, user: bench, key_file: %s, known_hosts: %s}}\n", key, known),
		newExecutor: func(config.Target) (executor.Executor, error) { return &executor.QEMUUser{}, nil },
	})
	ctx := context.Background()
	// Another worker host is measuring on the board.
	unlock, ok, err := e.st.LockTarget(ctx, "board")
	if err != nil || !ok {
		t.Fatalf("take the board: %v %v", ok, err)
	}
	e.deliver("pull_request", e.pull("opened", 21, e.sha["no-op"], maintainer, false))
	var change int64
	deadline := time.Now().Add(60 * time.Second)
	for {
		cs := e.changes()
		if len(cs) == 1 {
			change = cs[0].ID
			cts, _ := store.ChangeTargets(ctx, e.st.Q(), change)
			done := 0
			for _, ct := range cts {
				if ct.Target == "board" && ct.State != store.TargetQueued {
					t.Fatalf("the board's measurement started while the board was taken: %s", ct.State)
				}
				if ct.State == store.TargetDone {
					done++
				}
			}
			if done == 2 && strings.Count(e.logs.String(), "board is busy") >= 2 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the other targets did not finish, or the board's job did not wait:\n%s", e.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	unlock()
	e.idle()
	cts, err := store.ChangeTargets(ctx, e.st.Q(), change)
	if err != nil || len(cts) != 3 {
		t.Fatalf("targets: %v %v", cts, err)
	}
	for _, ct := range cts {
		if ct.State != store.TargetDone {
			t.Errorf("target %s ended %s (%s), want done", ct.Target, ct.State, ct.Note)
		}
	}
	if c, _ := store.GetChange(ctx, e.st.Q(), change); c.State != store.ChangeDone || !c.Reported {
		t.Errorf("change %s, reported %v; want done and reported", c.State, c.Reported)
	}
}

// TestRestartUnderTheSameIDFreesItsJobs: a worker that comes back under
// the same ID (a systemd instance, a pod) renews the heartbeat its dead
// incarnation left, so the others would never rescue that incarnation's
// running jobs; it frees them itself at start. A live process's running
// job is left alone.
func TestRestartUnderTheSameIDFreesItsJobs(t *testing.T) {
	if testing.Short() {
		t.Skip("PostgreSQL")
	}
	onPostgres = true
	defer func() { onPostgres = false }()
	e := setup(t, setupOpts{})
	ctx := context.Background()
	stage := func(by string) int64 {
		c := &store.Change{Repo: "hello", Head: e.sha["no-op"], Origin: "push"}
		if _, err := store.InsertChange(ctx, e.st.Q(), c); err != nil {
			t.Fatal(err)
		}
		// A queue nobody here serves, so only the state tells.
		res, err := e.svc.River().Insert(ctx, service.MeasureArgs{Change: c.ID, Target: "ghost"}, &river.InsertOpts{Queue: "target_ghost"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.st.Q().Exec(ctx, `UPDATE river_job SET state = 'running', attempted_at = now(), attempt = 1, attempted_by = ARRAY[?] WHERE id = ?`, by, res.Job.ID); err != nil {
			t.Fatal(err)
		}
		return res.Job.ID
	}
	orphan, alive := stage("worker-x"), stage("worker-y")
	if err := store.Heartbeat(ctx, e.st.Q(), "worker-x", "host", nil); err != nil { // the dead incarnation's last beat
		t.Fatal(err)
	}
	if err := store.Heartbeat(ctx, e.st.Q(), "worker-y", "host", nil); err != nil {
		t.Fatal(err)
	}
	again, err := service.New(ctx, service.Options{Config: e.cfg, Measurer: e.m, Log: logrus.New(), ID: "worker-x", Targets: []string{"armv8-qemu"},
		PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := again.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer again.Stop(ctx)
	state := func(id int64) string {
		var st string
		if err := e.st.Q().QueryRow(ctx, `SELECT state FROM river_job WHERE id = ?`, id).Scan(&st); err != nil {
			t.Fatal(err)
		}
		return st
	}
	if got := state(orphan); got != "available" {
		t.Errorf("the job the earlier worker-x left running is %s, want available again", got)
	}
	if got := state(alive); got != "running" {
		t.Errorf("live worker-y's running job is %s, want it left alone", got)
	}
}
