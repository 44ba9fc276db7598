package service_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/tcbot/tcbot/bot/bisect"
	"github.com/tcbot/tcbot/bot/config"
	"github.com/tcbot/tcbot/bot/executor"
	"github.com/tcbot/tcbot/bot/store"
	"github.com/tcbot/tcbot/bot/target"
)

// issueComment makes an issue_comment delivery on a plain issue (no
// pull_request key, as GitHub sends it).
func (e *env) issueComment(number int, user, body string) []byte {
	id := e.gh.AddComment(ghRepo, number, user, body)
	return payload(e.t, "issue_comment/created.json", func(m map[string]any) {
		issue := obj(m, "issue")
		issue["number"] = number
		delete(issue, "pull_request")
		c := obj(m, "comment")
		c["id"] = id
		c["body"] = body
		obj(c, "user")["login"] = user
	})
}

func (e *env) sweep() {
	e.t.Helper()
	if err := e.svc.Sweep(context.Background(), "nightly"); err != nil {
		e.t.Fatal(err)
	}
	e.idle()
}

const nightly = "sweeps:\n  - {name: nightly, schedule: \"0 2 * * *\", repos: [hello]}\n"

// The story that closed issues while the regression was still there:
// base -> slow (regression, issue) -> "slow, docs" (nothing new against
// slow). Each sweep compared with the previous sweep's head, so the
// baseline moved onto the regression and the issue closed as "clean
// again". Now the baseline is the last good commit: the issue stays open
// (with the bisected culprit and a history of the sweeps that saw it)
// until a head is back within threshold.
func TestSweepKeepsTheRegressionUntilFixed(t *testing.T) {
	e := setup(t, setupOpts{extraConfig: nightly, repoConfig: "    baselines: {v1: release-1}\n"})
	e.gh.SetCommitAuthor(ghRepo, e.sha["slow"], "slowpoke")
	e.sweep() // baseline: base
	e.setRef("refs/heads/master", e.sha["slow"])
	e.sweep() // base..slow: two commits (no-op, slow): bisected
	issues := e.gh.Issues(ghRepo)
	if len(issues) != 1 || issues[0].State != "open" {
		t.Fatalf("after the regressing sweep: %+v", issues)
	}
	body := issues[0].Body
	for _, want := range []string{"Culprit: `" + e.sha["slow"][:12] + "` slow", "@slowpoke", "Sweeps that saw it", "Baseline: `" + e.sha["base"][:12] + "`",
		"Drift since the pinned baselines", "| @v1 `" + e.sha["base"][:12] + "` | armv8-qemu | instructions |"} {
		if !strings.Contains(body, want) {
			t.Errorf("issue body lacks %q:\n%s", want, body)
		}
	}
	// The dashboard shows the drift since the pinned baseline.
	resp, err := http.Get(e.srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(page), "Drift since the pinned baselines") || !strings.Contains(string(page), "<td>@v1 <code>"+e.sha["base"][:12]+"</code></td>") {
		t.Errorf("dashboard lacks the drift since @v1:\n%s", page)
	}
	e.setRef("refs/heads/master", e.sha["slow, docs"])
	e.sweep()
	issues = e.gh.Issues(ghRepo)
	if len(issues) != 1 || issues[0].State != "open" {
		t.Fatalf("a sweep that only added docs on top of the regression closed or duplicated the issue: %+v", issues)
	}
	if n := strings.Count(issues[0].Body, "| regression |"); n != 2 {
		t.Errorf("history has %d regression rows, want 2 (slow, then slow+docs):\n%s", n, issues[0].Body)
	}
	if !strings.Contains(issues[0].Body, "@slowpoke") {
		t.Errorf("the culprit vanished from the issue after the next sweep:\n%s", issues[0].Body)
	}
	bs, err := store.ListBisections(context.Background(), e.st.Q(), "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) != 1 {
		t.Errorf("%d bisections, want 1: the persisting regression is bisected once", len(bs))
	}
	e.setRef("refs/heads/master", e.sha["fast again"])
	e.sweep()
	issues = e.gh.Issues(ghRepo)
	if len(issues) != 1 || issues[0].State != "closed" {
		t.Fatalf("after the fix: %+v", issues)
	}
	if last := issues[0].Comments[len(issues[0].Comments)-1]; !strings.Contains(last, "back within threshold of the last good baseline "+e.sha["base"][:12]) {
		t.Errorf("closing comment %q", last)
	}
	// An unchanged head is not measured again.
	n := len(e.changes())
	e.sweep()
	if len(e.changes()) != n {
		t.Errorf("a sweep with no new commits measured something")
	}
	if !strings.Contains(e.logs.String(), "sweep: no new commits") {
		t.Error("the sweep did not say there were no new commits")
	}
	// A target the last sweep of this head did not measure (it gave up,
	// or was added to the config since) is measured by the next sweep,
	// and only it.
	last := e.changes()[0]
	if _, err := e.st.Q().Exec(context.Background(), `UPDATE change_targets SET state = 'error' WHERE change_id = ? AND target = 'armv7-qemu'`, last.ID); err != nil {
		t.Fatal(err)
	}
	e.sweep()
	cs := e.changes()
	if len(cs) != n+1 || strings.Join(cs[0].Targets, ",") != "armv7-qemu" || cs[0].Head != e.sha["fast again"] || cs[0].Base != last.Base {
		t.Errorf("sweep of an unchanged head with an unmeasured target: %d changes, newest %+v", len(cs)-n, cs[0])
	}
}

// /tcbot accept on the sweep issue: the regression is intended, the
// baseline moves to the regressed head, and who and why is recorded.
func TestAcceptMovesTheBaseline(t *testing.T) {
	e := setup(t, setupOpts{extraConfig: nightly + "bisect: {sweeps: false}\n"})
	e.sweep()
	e.setRef("refs/heads/master", e.sha["slow"])
	e.sweep()
	issues := e.gh.Issues(ghRepo)
	if len(issues) != 1 || issues[0].State != "open" {
		t.Fatalf("after the regressing sweep: %+v", issues)
	}
	if bs, _ := store.ListBisections(context.Background(), e.st.Q(), "", 10); len(bs) != 0 {
		t.Errorf("bisect.sweeps: false still bisected")
	}
	num := issues[0].Number
	// Someone without write access cannot accept.
	e.deliver("issue_comment", e.issueComment(num, stranger, "/tcbot accept"))
	e.idle()
	if is := e.gh.Issues(ghRepo)[0]; is.State != "open" || !strings.Contains(is.Comments[len(is.Comments)-1], "only people with write access") {
		t.Fatalf("a stranger's accept: state %s, comments %q", is.State, is.Comments)
	}
	e.deliver("issue_comment", e.issueComment(num, maintainer, "/tcbot accept -DSLOW is the new default"))
	e.idle()
	is := e.gh.Issues(ghRepo)[0]
	if is.State != "closed" || !strings.Contains(strings.Join(is.Comments, "\n"), "Accepted by @"+maintainer+": -DSLOW is the new default") {
		t.Fatalf("after accept: state %s, comments %q", is.State, is.Comments)
	}
	acc, err := store.Acceptances(context.Background(), e.st.Q(), "hello")
	if err != nil || len(acc) != 1 || acc[0].SHA != e.sha["slow"] || acc[0].By != maintainer || acc[0].Why != "-DSLOW is the new default" {
		t.Fatalf("acceptances %+v %v", acc, err)
	}
	// The next sweep compares with the accepted head: nothing new.
	e.setRef("refs/heads/master", e.sha["slow, docs"])
	e.sweep()
	cs := e.changes()
	if cs[0].Base != e.sha["slow"] || cs[0].Verdict != "unchanged" {
		t.Errorf("sweep after accept: base %s verdict %s, want base slow and unchanged", cs[0].Base[:12], cs[0].Verdict)
	}
	if len(e.gh.Issues(ghRepo)) != 1 {
		t.Errorf("a new issue after the accepted regression")
	}
}

// /tcbot bisect on a pull request of several commits names the commit.
func TestBisectCommandOnAPullRequest(t *testing.T) {
	e := setup(t, setupOpts{repoConfig: "    baselines: {v1: release-1}\n"})
	e.gh.SetCommitAuthor(ghRepo, e.sha["slow"], "slowpoke")
	e.deliver("pull_request", e.pull("opened", 7, e.sha["slow, docs"], maintainer, false))
	e.idle()
	e.deliver("issue_comment", e.comment(7, maintainer, "/tcbot bisect"))
	e.idle()
	var found string
	for _, c := range e.gh.Comments(ghRepo, 7) {
		if strings.Contains(c.Body, "<!-- tcbot:bisect id=") {
			found = c.Body
		}
	}
	if !strings.Contains(found, "Culprit: `"+e.sha["slow"][:12]+"` slow") || !strings.Contains(found, "@slowpoke") {
		t.Fatalf("bisect comment:\n%s\nall comments: %+v", found, e.gh.Comments(ghRepo, 7))
	}
	bs, err := store.ListBisections(context.Background(), e.st.Q(), "", 10)
	if err != nil || len(bs) != 1 {
		t.Fatalf("bisections %v %v", bs, err)
	}
	var res bisect.Result
	if err := json.Unmarshal([]byte(bs[0].Result), &res); err != nil {
		t.Fatal(err)
	}
	if res.Outcome != bisect.Culprit || res.Commits != 3 || res.Rounds > 3 {
		t.Errorf("outcome %s over %d commits in %d rounds", res.Outcome, res.Commits, res.Rounds)
	}
	// The probes are changes of their own, never reported on the PR.
	for _, c := range e.changes() {
		if c.Origin == "bisect" && (c.PR != 0 || c.Bisection != bs[0].ID) {
			t.Errorf("probe change %+v", c)
		}
	}
	if n := len(e.gh.Comments(ghRepo, 7)); n != 4 {
		t.Errorf("%d comments on the PR, want 4 (report, the command, the reply to it, the bisection)", n)
	}

	// The dashboard lists it; its page shows the result.
	for path, want := range map[string]string{
		"/": "culprit " + e.sha["slow"][:12] + ` &#34;slow&#34;`,
		"/bisections/" + strconv.FormatInt(bs[0].ID, 10): "tcbot bisect: CULPRIT",
	} {
		resp, err := http.Get(e.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(page), want) {
			t.Errorf("GET %s: %d, lacks %q:\n%s", path, resp.StatusCode, want, page)
		}
	}

	// A rerun against a pinned baseline, and one it does not pin.
	e.deliver("issue_comment", e.comment(7, maintainer, "/tcbot rerun armv8-qemu --base @v1"))
	e.idle()
	cs := e.changes()
	if cs[0].Base != e.sha["base"] || cs[0].Note != "rerun by @"+maintainer+" against @v1" || strings.Join(cs[0].Targets, ",") != "armv8-qemu" {
		t.Errorf("rerun --base @v1: %+v", cs[0])
	}
	e.deliver("issue_comment", e.comment(7, maintainer, "/tcbot rerun --base @v9"))
	e.idle()
	all := e.gh.Comments(ghRepo, 7)
	if last := all[len(all)-1].Body; !strings.Contains(last, "pins no baseline named v9 (it pins @v1)") {
		t.Errorf("reply to an unknown baseline: %q", last)
	}
}

// With bisect.pushes, a push of several commits that regresses is
// bisected, and a commit status on the pushed head names the culprit.
func TestPushOfSeveralCommitsIsBisected(t *testing.T) {
	e := setup(t, setupOpts{extraConfig: "bisect: {pushes: true}\n"})
	push := func(before, after string) {
		e.setRef("refs/heads/master", e.sha[after])
		e.deliver("push", payload(t, "push/payload.json", func(m map[string]any) {
			m["ref"] = "refs/heads/master"
			m["before"], m["after"] = e.sha[before], e.sha[after]
			m["deleted"], m["created"], m["forced"] = false, false, false
		}))
		e.idle()
	}
	push("base", "no-op")       // one commit: measured, nothing to bisect
	push("no-op", "slow, docs") // two commits, a regression: bisected
	st, ok := e.gh.LatestStatus(ghRepo, e.sha["slow, docs"], "tcbot/bisect")
	if !ok || st.State != "failure" || !strings.Contains(st.Description, "culprit "+e.sha["slow"][:12]) || !strings.HasPrefix(st.TargetURL, "https://tcbot.example.org/bisections/") {
		t.Fatalf("bisect status on the pushed head: %+v (found %v)", st, ok)
	}
}

// /tcbot cancel stops a running bisection: its probe's measurement is
// interrupted, the bisection is cancelled, and nothing is posted for it.
func TestCancelStopsABisection(t *testing.T) {
	block := &blockingExecutor{started: make(chan struct{}, 1), ended: make(chan error, 1)}
	var blocking atomic.Bool
	var e *env
	e = setup(t, setupOpts{newExecutor: func(tg config.Target) (executor.Executor, error) {
		if blocking.Load() {
			return block, nil
		}
		return target.New(tg, target.Env{Plugin: e.m.Plugin, Workdir: e.cfg.Workdir, Log: logrus.New(), Files: nil})
	}})
	e.deliver("pull_request", e.pull("opened", 7, e.sha["slow, docs"], maintainer, false))
	e.idle()
	blocking.Store(true) // the bisection's probes block
	e.deliver("issue_comment", e.comment(7, maintainer, "/tcbot bisect"))
	select {
	case <-block.started:
	case <-time.After(60 * time.Second):
		t.Fatal("the bisection never measured a commit")
	}
	e.deliver("issue_comment", e.comment(7, maintainer, "/tcbot cancel"))
	select {
	case <-block.ended:
	case <-time.After(60 * time.Second):
		t.Fatal("/tcbot cancel did not interrupt the bisection's probe")
	}
	e.idle()
	bs, err := store.ListBisections(context.Background(), e.st.Q(), "", 10)
	if err != nil || len(bs) != 1 || bs[0].State != store.BisectCancelled || !strings.Contains(bs[0].Note, "cancelled by @"+maintainer) {
		t.Fatalf("bisection after cancel: %+v %v", bs, err)
	}
	for _, c := range e.gh.Comments(ghRepo, 7) {
		if strings.Contains(c.Body, "tcbot:bisect") {
			t.Errorf("a cancelled bisection posted: %q", c.Body)
		}
	}
	all := e.gh.Comments(ghRepo, 7)
	if last := all[len(all)-1].Body; !strings.Contains(last, "and bisection(s)") {
		t.Errorf("reply to cancel: %q", last)
	}
}
