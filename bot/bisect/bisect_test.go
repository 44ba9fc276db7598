package bisect

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/tcbot/tcbot/bot/compare"
	"github.com/tcbot/tcbot/bot/report"
	"github.com/tcbot/tcbot/bot/source"
)

// The search is tested here on real git repositories whose commits say
// what they measure: a file "value" holds the armv8 instruction count of
// the commit, or "broken" when it does not build. The end-to-end test with
// real builds and QEMU is cmd/tcbot's TestBisect.

type repo struct {
	t   *testing.T
	dir string
	n   int
}

func newRepo(t *testing.T) *repo {
	r := &repo{t: t, dir: filepath.Join(t.TempDir(), "origin")}
	os.MkdirAll(r.dir, 0o755)
	r.git("init", "-q", "-b", "main")
	return r
}

func (r *repo) git(args ...string) string {
	r.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = r.dir
	r.n++
	date := fmt.Sprintf("2024-05-01T10:%02d:%02dZ", r.n/60%60, r.n%60)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "HOME="+r.dir,
		"GIT_AUTHOR_NAME=Ada", "GIT_AUTHOR_EMAIL=ada@example.org", "GIT_COMMITTER_NAME=Ada", "GIT_COMMITTER_EMAIL=ada@example.org",
		"GIT_AUTHOR_DATE="+date, "GIT_COMMITTER_DATE="+date)
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// commit writes value (and a line of docs) and commits; it returns the SHA.
func (r *repo) commit(subject, value string) string {
	r.t.Helper()
	if value != "" {
		os.WriteFile(filepath.Join(r.dir, "value"), []byte(value), 0o644)
	}
	f, _ := os.OpenFile(filepath.Join(r.dir, "docs"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	fmt.Fprintln(f, subject)
	f.Close()
	r.git("add", "-A")
	r.git("commit", "-q", "-m", subject)
	return r.git("rev-parse", "HEAD")
}

// history makes n+1 commits: 0 is the good one (value 1000), every
// commit from reg on has value 1000+bump, and the commits in broken do
// not build.
func history(t *testing.T, n, reg int, bump float64, broken ...int) (*repo, []string) {
	r := newRepo(t)
	var shas []string
	isBroken := map[int]bool{}
	for _, b := range broken {
		isBroken[b] = true
	}
	for i := 0; i <= n; i++ {
		v := 1000.0
		if reg > 0 && i >= reg {
			v += bump
		}
		val := strconv.FormatFloat(v, 'f', -1, 64)
		if isBroken[i] {
			val = "broken"
		}
		shas = append(shas, r.commit(fmt.Sprintf("commit %d", i), val))
	}
	return r, shas
}

// oracle measures a commit from its "value" file, as a measurer would:
// instructions on armv8, and an unchanged armv7.
type oracle struct {
	mirror *source.Mirror
	mu     sync.Mutex
	calls  []string
	// identical: a commit whose value equals the base's has a compiler
	// byte-identical to it, and the measurer reports "unchanged" without
	// a comparison (as tcbot does for a ChangeLog-only GCC commit).
	identical bool
}

func (o *oracle) value(sha string) (float64, bool) {
	data, _, err := o.mirror.ReadFile(sha, "value")
	if err != nil {
		panic(err)
	}
	s := strings.TrimSpace(string(data))
	if s == "broken" {
		return 0, false
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		panic(err)
	}
	return v, true
}

func (o *oracle) measure(ctx context.Context, rev, base string) (*report.Report, error) {
	o.mu.Lock()
	o.calls = append(o.calls, rev)
	o.mu.Unlock()
	b, bok := o.value(base)
	h, hok := o.value(rev)
	c := compare.Comparison{Target: "armv8-qemu", Suite: "bench", Benchmark: "sha256", Metric: "instructions", Unit: "count"}
	arm7 := compare.Comparison{Target: "armv7-qemu", Suite: "bench", Benchmark: "sha256", Metric: "instructions", Unit: "count", Verdict: compare.Unchanged}
	switch {
	case !hok && bok:
		c.Verdict, c.Note = compare.Failed, "build failed"
		arm7.Verdict = compare.Failed
	case !bok:
		return &report.Report{Verdict: compare.Error, Errors: []string{"base broken"}}, nil
	case o.identical && h == b:
		rep := report.New("toolchain", base, rev, compare.Outcome{Verdict: compare.Unchanged})
		rep.Notes = []string{"unchanged without measuring: the compiler is byte-identical"}
		return &rep, nil
	default:
		d := (h - b) / b * 100
		c.Base, c.Head, c.DeltaPct = &b, &h, &d
		switch {
		case d > 0.2:
			c.Verdict = compare.Regression
		case d < -0.2:
			c.Verdict = compare.Improvement
		default:
			c.Verdict = compare.Unchanged
		}
	}
	rep := report.New("toolchain", base, rev, compare.Outcome{Comparisons: []compare.Comparison{arm7, c}})
	rep.Verdict = c.Verdict
	return &rep, nil
}

func mirrorOf(t *testing.T, r *repo) *source.Mirror {
	m, err := source.Open(t.TempDir(), "toolchain", r.dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Fetch(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	return m
}

func run(t *testing.T, r *repo, good, bad string, parallel int) (*Result, *oracle) {
	t.Helper()
	m := mirrorOf(t, r)
	o := &oracle{mirror: m}
	res, err := Run(context.Background(), Options{Repo: "toolchain", Good: good, Bad: bad, Parallel: parallel, Mirror: m, Measure: o.measure,
		Reproduce: func(base, head, target string) string {
			return "tcbot run --rev " + head + " --base " + base + " --targets " + target
		}})
	if err != nil {
		t.Fatal(err)
	}
	return res, o
}

func TestCulpritSkippingABrokenCommit(t *testing.T) {
	r, shas := history(t, 63, 41, 100, 32) // 64 commits; the first probe lands on 32
	res, o := run(t, r, shas[0], shas[63], 1)
	if res.Outcome != Culprit || res.Culprit.SHA != shas[41] {
		t.Fatalf("outcome %s, culprit %v; want culprit commit 41 %s\n%s", res.Outcome, res.Culprit, shas[41], text(res))
	}
	if res.Parent.SHA != shas[40] || res.Culprit.Subject != "commit 41" || res.Culprit.Author != "Ada <ada@example.org>" {
		t.Errorf("culprit %+v parent %+v", res.Culprit, res.Parent)
	}
	if len(res.Skipped) != 1 || res.Skipped[0].SHA != shas[32] || !strings.Contains(res.Skipped[0].Why, "build failed") {
		t.Errorf("skipped %+v, want commit 32 (build failed)", res.Skipped)
	}
	// ceil(log2(64)) + 2 rounds at most, even with the skip.
	if res.Rounds > 8 {
		t.Errorf("%d rounds, want at most 8", res.Rounds)
	}
	if res.Primary.Target != "armv8-qemu" || res.Primary.Metric != "instructions" {
		t.Errorf("primary %+v", res.Primary)
	}
	if len(res.Verification) != 1 || *res.Verification[0].DeltaPct < 9.9 {
		t.Errorf("verification %+v: want the +10%% regression against the parent", res.Verification)
	}
	if !strings.Contains(res.Reproduce, "--rev "+shas[41]+" --base "+shas[40]) {
		t.Errorf("reproduce %q", res.Reproduce)
	}
	// Every probe is measured once (verification reuses the measurer's
	// store; here it calls again): rounds + verification.
	if len(o.calls) != res.Probed+1 {
		t.Errorf("%d measurements for %d probes", len(o.calls), res.Probed)
	}
	out := text(res)
	for _, want := range []string{"CULPRIT", "commit 41", "Ada <ada@example.org>", "skipped (do not build or run)", "commit 32: does not build or run: build failed", "+10.00%", "reproduce: tcbot run"} {
		if !strings.Contains(out, want) {
			t.Errorf("text lacks %q:\n%s", want, out)
		}
	}
	t.Logf("\n%s", out)
}

// A commit whose compiler is byte-identical to the good one's is good,
// though nothing was measured (the GCC range of make bench-real: 31 of its
// 32 commits change only the ChangeLog).
func TestIdenticalToolchainsAreGood(t *testing.T) {
	r, shas := history(t, 32, 20, 100)
	m := mirrorOf(t, r)
	o := &oracle{mirror: m, identical: true}
	res, err := Run(context.Background(), Options{Repo: "gcc", Good: shas[0], Bad: shas[32], Mirror: m, Measure: o.measure})
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != Culprit || res.Culprit.SHA != shas[20] || len(res.Skipped) != 0 {
		t.Fatalf("outcome %s culprit %+v skipped %d\n%s", res.Outcome, res.Culprit, len(res.Skipped), text(res))
	}
	if res.Rounds > 7 {
		t.Errorf("%d rounds for 32 commits", res.Rounds)
	}
}

func TestKaryFewerRounds(t *testing.T) {
	r, shas := history(t, 63, 41, 100, 32)
	one, _ := run(t, r, shas[0], shas[63], 1)
	four, _ := run(t, r, shas[0], shas[63], 3) // 4 workers: 3 midpoints
	if four.Outcome != Culprit || four.Culprit.SHA != shas[41] {
		t.Fatalf("k-ary: %s %v\n%s", four.Outcome, four.Culprit, text(four))
	}
	if four.Rounds >= one.Rounds {
		t.Errorf("3 midpoints per round took %d rounds, binary search %d", four.Rounds, one.Rounds)
	}
	t.Logf("rounds: binary %d (%d commits measured), 3 midpoints %d (%d measured)", one.Rounds, one.Probed, four.Rounds, four.Probed)
}

func TestBrokenCommitsHideTheCulprit(t *testing.T) {
	r, shas := history(t, 20, 11, 100, 9, 10)
	res, _ := run(t, r, shas[0], shas[20], 1)
	if res.Outcome != Range {
		t.Fatalf("outcome %s, want range\n%s", res.Outcome, text(res))
	}
	var got []string
	for _, c := range res.Range {
		got = append(got, c.Subject)
	}
	if strings.Join(got, ",") != "commit 9,commit 10,commit 11" || res.Parent.SHA != shas[8] {
		t.Errorf("range %v after %s", got, res.Parent.Subject)
	}
	if !strings.Contains(res.Headline(), "one of 3 commits") {
		t.Errorf("headline %q", res.Headline())
	}
}

func TestNothingToBisect(t *testing.T) {
	r, shas := history(t, 10, 0, 0)
	res, o := run(t, r, shas[0], shas[10], 1)
	if res.Outcome != Nothing || res.Rounds != 1 || len(o.calls) != 1 {
		t.Fatalf("outcome %s after %d rounds, %d measurements; want nothing-to-bisect after 1", res.Outcome, res.Rounds, len(o.calls))
	}
	if !strings.Contains(res.Note, "nothing to bisect") {
		t.Errorf("note %q", res.Note)
	}
}

func TestNotReproducible(t *testing.T) {
	// +3% at commit 5 and +10% more at commit 15: bisection ends on 5,
	// whose +3% is not the range's +13.3%.
	r := newRepo(t)
	var shas []string
	for i := 0; i <= 20; i++ {
		v := "1000"
		switch {
		case i >= 15:
			v = "1133"
		case i >= 5:
			v = "1030"
		}
		shas = append(shas, r.commit(fmt.Sprintf("commit %d", i), v))
	}
	res, _ := run(t, r, shas[0], shas[20], 1)
	if res.Outcome != NotReproducible || res.Culprit.SHA != shas[5] {
		t.Fatalf("outcome %s culprit %v, want not-reproducible at commit 5\n%s", res.Outcome, res.Culprit, text(res))
	}
	if !strings.Contains(res.Note, "several commits") {
		t.Errorf("note %q", res.Note)
	}
}

func TestIntoAMerge(t *testing.T) {
	// main: 0..5, then a merge of a branch (from 2) whose third commit
	// regresses; first-parent bisection ends on the merge and goes in.
	r := newRepo(t)
	var main []string
	for i := 0; i <= 5; i++ {
		main = append(main, r.commit(fmt.Sprintf("main %d", i), "1000"))
	}
	r.git("checkout", "-q", "-b", "topic", main[2])
	var topic []string
	for i := 0; i < 6; i++ {
		v := "1000"
		if i >= 3 {
			v = "1200"
		}
		topic = append(topic, r.commit(fmt.Sprintf("topic %d", i), v))
	}
	r.git("checkout", "-q", "main")
	r.git("merge", "-q", "--no-ff", "-X", "theirs", "-m", "Merge topic", "topic")
	merge := r.git("rev-parse", "HEAD")
	after := r.commit("main 6", "")
	res, _ := run(t, r, main[0], after, 1)
	if res.Outcome != Culprit || res.Culprit.SHA != topic[3] || res.Merge == nil || res.Merge.SHA != merge {
		t.Fatalf("outcome %s culprit %v merge %v; want topic 3 in the merge\n%s", res.Outcome, res.Culprit, res.Merge, text(res))
	}
	md := markdown(res)
	if !strings.Contains(md, "Brought in by merge") || !strings.Contains(md, "**Culprit: `"+topic[3][:12]+"` topic 3**") {
		t.Errorf("markdown:\n%s", md)
	}
}

func TestBadRanges(t *testing.T) {
	r, shas := history(t, 3, 0, 0)
	m := mirrorOf(t, r)
	o := &oracle{mirror: m}
	for _, tc := range []struct{ good, bad, want string }{
		{shas[2], shas[1], "not an ancestor"},
		{shas[1], shas[1], "same commit"},
		{"nosuchbranch", shas[1], "--good"},
	} {
		_, err := Run(context.Background(), Options{Repo: "toolchain", Good: tc.good, Bad: tc.bad, Mirror: m, Measure: o.measure})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("good %s bad %s: %v, want %q", tc.good, tc.bad, err, tc.want)
		}
	}
}

func text(r *Result) string {
	var b bytes.Buffer
	Text(&b, r)
	return b.String()
}

func markdown(r *Result) string {
	var b bytes.Buffer
	Markdown(&b, r)
	return b.String()
}
