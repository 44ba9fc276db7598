package service_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/sirupsen/logrus"

	"github.com/tcbot/tcbot/bot/compare"
	"github.com/tcbot/tcbot/bot/forge"
	"github.com/tcbot/tcbot/bot/forge/githubtest"
	"github.com/tcbot/tcbot/bot/report"
	"github.com/tcbot/tcbot/bot/service"
	"github.com/tcbot/tcbot/bot/store"
)

// mallory may comment and nothing more. tcbot's token has write access, so
// GitHub would let it edit her comments and issues: only tcbot can tell
// they are not its own.
const mallory = "mallory"

// hijack is what anyone can comment: tcbot's report marker, with a state
// that would make a regression report edit itself into her comment.
const hijack = "LGTM <!-- tcbot:report --><!-- tcbot:state head=0 verdict=regression -->"

// untouched fails t unless mallory's comments on number read as she wrote them.
func (e *env) untouched(number int, want string) {
	e.t.Helper()
	n := 0
	for _, c := range e.gh.Comments(ghRepo, number) {
		if c.User != mallory {
			continue
		}
		n++
		if c.Body != want || c.Edits != 0 {
			e.t.Errorf("mallory's comment %d was edited (%d edits) to read:\n%s", c.ID, c.Edits, c.Body)
		}
	}
	if n != 1 {
		e.t.Errorf("%d comments of mallory's on #%d, want 1", n, number)
	}
}

// own returns tcbot's own comments on number holding marker.
func (e *env) own(number int, marker string) []githubtest.Comment {
	var out []githubtest.Comment
	for _, c := range e.gh.Comments(ghRepo, number) {
		if c.User == githubtest.BotLogin && strings.Contains(c.Body, marker) {
			out = append(out, c)
		}
	}
	return out
}

func TestOthersCommentWithTheReportMarkerIsLeftAlone(t *testing.T) {
	e := setup(t, setupOpts{})
	opened := e.pull("opened", 31, e.sha["slow"], maintainer, false)
	said := e.comment(31, mallory, hijack) // on GitHub before tcbot reports
	e.deliver("pull_request", opened)
	e.deliver("issue_comment", said)
	e.idle()
	e.untouched(31, hijack)
	ours := e.own(31, "<!-- tcbot:report -->")
	if len(ours) != 1 || !strings.Contains(ours[0].Body, "regression") || !strings.Contains(ours[0].Body, "head="+e.sha["slow"]) {
		t.Fatalf("tcbot's own report comments: %+v; want one holding the regression report", ours)
	}

	// Still a regression after a push: tcbot edits its own comment in place.
	e.deliver("pull_request", e.pull("synchronize", 31, e.sha["slow, docs"], maintainer, false))
	e.idle()
	e.untouched(31, hijack)
	now := e.own(31, "<!-- tcbot:report -->")
	if len(now) != 1 || now[0].ID != ours[0].ID || now[0].Edits == 0 || !strings.Contains(now[0].Body, "head="+e.sha["slow, docs"]) {
		t.Errorf("tcbot's report comments after the push: %+v; want comment %d edited for the new head", now, ours[0].ID)
	}
}

func TestOthersCommentWithTheWaitingMarkerIsLeftAlone(t *testing.T) {
	e := setup(t, setupOpts{})
	const fake = "<!-- tcbot:waiting --> nothing to see here"
	opened := e.pull("opened", 32, e.sha["slow"], stranger, false)
	said := e.comment(32, mallory, fake)
	e.deliver("pull_request", opened)
	e.deliver("issue_comment", said)
	e.idle()
	e.untouched(32, fake)
	if ours := e.own(32, "<!-- tcbot:waiting -->"); len(ours) != 1 || !strings.Contains(ours[0].Body, "/tcbot ok-to-test") {
		t.Fatalf("tcbot's own waiting comments: %+v; want one asking for /tcbot ok-to-test", ours)
	}

	e.deliver("issue_comment", e.comment(32, maintainer, "/tcbot ok-to-test"))
	e.idle()
	e.untouched(32, fake)
	if ours := e.own(32, "<!-- tcbot:waiting -->"); len(ours) != 1 || !strings.Contains(ours[0].Body, "approved head") {
		t.Errorf("tcbot's own waiting comments after the approval: %+v; want one saying so", ours)
	}
}

func TestOthersIssueWithTheSweepMarkerIsLeftAlone(t *testing.T) {
	e := setup(t, setupOpts{extraConfig: "sweeps:\n  - {name: nightly, schedule: \"0 2 * * *\", repos: [hello]}\n"})
	ctx := context.Background()
	sweep := func() {
		t.Helper()
		if err := e.svc.Sweep(ctx, "nightly"); err != nil {
			t.Fatal(err)
		}
		e.idle()
	}
	const mark = "<!-- tcbot:sweep nightly hello master -->"
	const title, body = "tcbot: regression on hello master (sweep nightly)", mark + "\nplease close me"
	// Labelled tcbot by someone with triage access, or opened by one.
	theirs := e.gh.AddIssue(ghRepo, mallory, title, body, forge.IssueLabel)
	check := func(ownState string) {
		t.Helper()
		var own []githubtest.Issue
		for _, is := range e.gh.Issues(ghRepo) {
			switch {
			case is.Number == theirs:
				if is.State != "open" || is.Title != title || is.Body != body || len(is.Comments) != 0 {
					t.Errorf("mallory's issue was touched: %+v", is)
				}
			case is.Author == githubtest.BotLogin:
				own = append(own, is)
			}
		}
		if len(own) != 1 || own[0].State != ownState || !strings.Contains(own[0].Body, mark) {
			t.Fatalf("tcbot's own issues: %+v; want one, %s", own, ownState)
		}
	}

	sweep() // the baseline
	e.setRef("refs/heads/master", e.sha["slow"])
	sweep()
	check("open")
	e.setRef("refs/heads/master", e.sha["fast again"])
	sweep()
	check("closed")
}

func TestLongReportIsCutWithALinkToTheFullOne(t *testing.T) {
	e := setup(t, setupOpts{})
	ctx := context.Background()
	e.gh.AddPull(ghRepo, forge.PR{Number: 33, HeadSHA: e.sha["slow"], HeadRef: "feature", BaseRef: "master", Author: maintainer})
	// A finished change whose report renders to about 200 KB of Markdown.
	rep := report.Report{Repo: "hello", Base: e.sha["base"], Head: e.sha["slow"], Verdict: compare.Regression,
		Comparisons: []compare.Comparison{}, Reproduce: "tcbot run hello"}
	for i := range 3000 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("note %04d: the kind of line a large report has many of, in full on the dashboard", i))
	}
	data, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	c := &store.Change{Repo: "hello", Head: e.sha["slow"], Origin: "pr", PR: 33}
	if _, err := store.InsertChange(ctx, e.st.Q(), c); err != nil {
		t.Fatal(err)
	}
	if err := store.FinishChange(ctx, e.st.Q(), c.ID, e.sha["base"], string(rep.Verdict), string(data)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.River().Insert(ctx, service.ReportArgs{Change: c.ID}, nil); err != nil {
		t.Fatal(err)
	}
	e.idle()

	ours := e.own(33, "<!-- tcbot:report -->")
	if len(ours) != 1 {
		t.Fatalf("%d report comments, want 1 (a body over GitHub's limit is refused)", len(ours))
	}
	body := ours[0].Body
	if n := utf8.RuneCountInString(body); n > forge.MaxBody {
		t.Errorf("the report has %d characters, over GitHub's %d", n, forge.MaxBody)
	}
	if head := fmt.Sprintf("<!-- tcbot:report -->\n<!-- tcbot:state head=%s verdict=regression -->\n", e.sha["slow"]); !strings.HasPrefix(body, head) {
		t.Errorf("the cut report lost its markers: %q", body[:min(len(body), 200)])
	}
	// The report fits itself into the comment (report.MaxComment) and says
	// where the rest is; were it still too long, the forge cut it with a
	// link. Either way the full report is one click away.
	cut := fmt.Sprintf("the full report is at https://tcbot.example.org/changes/%d\n", c.ID)
	fits := fmt.Sprintf("see [the change page](https://tcbot.example.org/changes/%d)", c.ID)
	if !strings.HasSuffix(body, cut) && !(strings.Contains(body, fits) && strings.HasSuffix(body, "tcbot run hello\n```\n")) {
		t.Errorf("the long report ends %q, want a link to the full one and its reproduce line", body[max(0, len(body)-200):])
	}
}

func TestLongReplyFitsGitHub(t *testing.T) {
	e := setup(t, setupOpts{})
	e.deliver("pull_request", e.pull("opened", 34, e.sha["no-op"], maintainer, false))
	e.idle()
	before := len(e.gh.Comments(ghRepo, 34))
	var b strings.Builder
	for i := range 8000 {
		fmt.Fprintf(&b, "/tcbot frobnicate-the-benchmarks-%05d\n", i)
	}
	e.deliver("issue_comment", e.comment(34, maintainer, b.String()))
	e.idle()
	cs := e.gh.Comments(ghRepo, 34)
	if len(cs) != before+2 || cs[len(cs)-1].User != githubtest.BotLogin {
		t.Fatalf("%d comments after the command, want the command and tcbot's reply (GitHub refuses a body over %d characters)", len(cs)-before, forge.MaxBody)
	}
	reply := cs[len(cs)-1].Body
	if n := utf8.RuneCountInString(reply); n > forge.MaxBody {
		t.Errorf("the reply has %d characters, over GitHub's %d", n, forge.MaxBody)
	}
	if strings.Contains(reply, " cut at ") && !strings.HasSuffix(reply, "see the tcbot dashboard for the full report\n") {
		t.Errorf("a cut reply ends %q, want the note", reply[max(0, len(reply)-200):])
	}
}

func TestStartFailsClearlyWithoutTheLogin(t *testing.T) {
	e := setup(t, setupOpts{})
	e.gh.Fail("GET", "/user", 1, 401, nil)
	client, err := forge.New(forge.Options{APIURL: e.gh.URL(), Token: token})
	if err != nil {
		t.Fatal(err)
	}
	log := logrus.New()
	log.SetOutput(e.logs)
	_, err = service.New(context.Background(), service.Options{Config: e.cfg, Measurer: e.m, Forge: client, Secret: []byte(secret), Log: log})
	if err == nil || !strings.Contains(err.Error(), "who tcbot is on GitHub") || !strings.Contains(err.Error(), "GET /user") || !strings.Contains(err.Error(), "401") {
		t.Fatalf("service.New with a token GitHub does not name: %v; want a clear error", err)
	}
}
