package service_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/sirupsen/logrus"

	"github.com/tcbot/tcbot/bot/bisect"
	"github.com/tcbot/tcbot/bot/compare"
	"github.com/tcbot/tcbot/bot/config"
	"github.com/tcbot/tcbot/bot/demo"
	"github.com/tcbot/tcbot/bot/measure"
	"github.com/tcbot/tcbot/bot/report"
	"github.com/tcbot/tcbot/bot/service"
	"github.com/tcbot/tcbot/bot/store"
)

// TestDashboardInABrowser measures the demo for real (three changes of
// branch main: a no-op, an injected regression and its revert), marks the
// regression as bisected and accepted, serves the dashboard, and drives headless
// Chromium through it as a maintainer would: the charts have their
// points and the regression marked, a click on the red point opens the
// change page with its per-function table and assembly diff, a click on
// a column header sorts the table, and the compare page of the two
// revisions renders. Any JavaScript exception or console error fails
// the test. Screenshots go to the test's temp dir (and, with
// TCBOT_SCREENSHOT_DIR set, there: docs/dashboard.png is made so).
func TestDashboardInABrowser(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") != "" || os.Getenv("TCBOT_TEST_BROWSER") != "" {
			t.Fatal("chromium not installed, and CI needs this test: make test-deps (Debian package chromium)")
		}
		t.Skip("chromium not installed: make test-deps (Debian package chromium) to test the dashboard in a browser")
	}
	ctx := context.Background()
	dir := t.TempDir()
	log := logrus.New()
	log.SetOutput(io.Discard)
	ok, err := demo.Run(ctx, demo.Options{Dir: dir, Format: "text", Stdout: io.Discard, Stderr: io.Discard, Log: log})
	if err != nil || !ok {
		t.Fatalf("demo: ok %v, %v", ok, err)
	}
	cfg, err := config.Load(filepath.Join(dir, "tcbot.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := measure.New(ctx, cfg, log, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Store.Close()
	cs, err := store.ListChanges(ctx, m.Store.Q(), "", 10)
	if err != nil || len(cs) != 2 || cs[0].Verdict != "regression" {
		t.Fatalf("demo changes: %v, %v; want the no-op and the regression", cs, err)
	}
	reg := cs[0]
	// A fourth commit on main reverts the workaround, measured for real
	// (its base's results are stored): the instructions come back down,
	// the code size back up.
	repoDir := filepath.Join(dir, "toolchain")
	revert := demo.Commits[0].Files["tcbot-toolchain.yaml"]
	if err := os.WriteFile(filepath.Join(repoDir, "tcbot-toolchain.yaml"), []byte(revert), 0o644); err != nil {
		t.Fatal(err)
	}
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", repoDir, "-c", "user.name=Demo Developer", "-c", "user.email=dev@example.org"}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git("commit", "-q", "-a", "-m", "opts: the tree loop optimiser again, PR 12345 is fixed")
	fix, _, err := m.Run(ctx, measure.Request{Repo: "toolchain", Rev: git("rev-parse", "HEAD")})
	if err != nil {
		t.Fatal(err)
	}
	fixJS, _ := json.Marshal(fix)
	if _, err := store.RecordChange(ctx, m.Store.Q(), &store.Change{Repo: "toolchain", Head: fix.Head, Base: fix.Base, Origin: "demo", Branch: "main"}, string(fix.Verdict), string(fixJS)); err != nil {
		t.Fatal(err)
	}
	// The regression was bisected to itself and accepted.
	b := &store.Bisection{Repo: "toolchain", Good: reg.Base, Bad: reg.Head, Origin: "command"}
	if _, err := store.InsertBisection(ctx, m.Store.Q(), b); err != nil {
		t.Fatal(err)
	}
	var regRep report.Report
	if err := json.Unmarshal([]byte(reg.Report), &regRep); err != nil {
		t.Fatal(err)
	}
	primary := regRep.Comparisons[0]
	for _, c := range regRep.Comparisons {
		if c.Verdict == compare.Regression && c.DeltaPct != nil && (primary.DeltaPct == nil || *c.DeltaPct > *primary.DeltaPct) {
			primary = c
		}
	}
	culprit := bisect.Commit{SHA: reg.Head, Subject: regRep.HeadSubject, Author: "Demo Author"}
	parent := bisect.Commit{SHA: reg.Base, Subject: regRep.BaseSubject}
	res, _ := json.Marshal(bisect.Result{Repo: "toolchain", Good: parent, Bad: culprit, Outcome: bisect.Culprit, Primary: &primary,
		Regressed: []compare.Comparison{primary}, Culprit: &culprit, Parent: &parent, Verification: []compare.Comparison{primary}, Commits: 1})
	if err := store.FinishBisection(ctx, m.Store.Q(), b.ID, string(res)); err != nil {
		t.Fatal(err)
	}
	if err := store.InsertAcceptance(ctx, m.Store.Q(), store.Acceptance{Repo: "toolchain", Branch: "main", SHA: reg.Head, By: "maintainer", Why: "expected: the optimiser is off"}); err != nil {
		t.Fatal(err)
	}
	svc, err := service.New(ctx, service.Options{Config: cfg, Measurer: m, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	h, err := svc.Handler()
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(h)
	defer ts.Close()

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1300, 1000),
	)
	actx, cancel := chromedp.NewExecAllocator(ctx, opts...)
	defer cancel()
	bctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	bctx, cancel = context.WithTimeout(bctx, 2*time.Minute)
	defer cancel()
	var mu sync.Mutex
	var jsErrors []string
	if err := chromedp.Listen(bctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *runtime.EventExceptionThrown:
			jsErrors = append(jsErrors, fmt.Sprintf("exception: %s at %d:%d", e.ExceptionDetails.Text, e.ExceptionDetails.LineNumber, e.ExceptionDetails.ColumnNumber))
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError {
				var args []string
				for _, a := range e.Args {
					args = append(args, string(a.Value))
				}
				jsErrors = append(jsErrors, "console.error: "+strings.Join(args, " "))
			}
		}
	}); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	shots := t.TempDir()
	// shot saves a PNG of the whole page, or of the window when the page
	// is taller than a screenshot can be (a change page with its assembly).
	shot := func(name string, whole bool) {
		t.Helper()
		a := chromedp.CaptureScreenshot()
		if whole {
			a = chromedp.FullScreenshot(100)
		}
		buf, err := chromedp.Run(bctx, a)
		if err != nil || len(buf) < 8 || string(buf[1:4]) != "PNG" {
			t.Fatalf("screenshot %s: %d bytes, %v", name, len(buf), err)
		}
		// The README shows these three (docs/).
		docs := name == "dashboard.png" || name == "change.png" || name == "compare.png"
		for _, d := range []string{shots, os.Getenv("TCBOT_SCREENSHOT_DIR")} {
			if d != "" && (d == shots || docs) {
				if err := os.WriteFile(filepath.Join(d, name), buf, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	do := func(steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(bctx, steps...); err != nil {
			t.Fatal(err)
		}
	}
	count := func(sel string) int {
		t.Helper()
		n, err := chromedp.Run(bctx, chromedp.Evaluate[int](fmt.Sprintf(`document.querySelectorAll(%q).length`, sel)))
		if err != nil {
			t.Fatalf("count %s: %v", sel, err)
		}
		return n
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(bctx, chromedp.Text(sel))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}

	// The dashboard: 4 charts (2 targets x instructions, code size) of 4
	// points each. Each point is coloured by what its change did to that
	// chart's metric: the workaround regressed the instructions (red) and
	// cut a little code (green), its revert mostly the other way round; the
	// workaround is ringed as accepted and marked culprit everywhere.
	do(chromedp.Navigate(ts.URL+"/"), chromedp.WaitVisible(`svg circle.pt`))
	charts, points, empty := count(`.charts figure.chart`), count(`svg circle.pt`), count(`.charts .empty`)
	accepted, culprits := count(`svg circle.accepted`), count(`svg path.culprit`)
	shot("dashboard.png", true)
	if charts != 4 || points != 16 || empty != 0 {
		t.Errorf("dashboard: %d charts, %d points, %d empty; want 4 charts of 4 points each", charts, points, empty)
	}
	perChart, err := chromedp.Run(bctx, chromedp.Evaluate[[][]string](`Array.from(document.querySelectorAll('.charts figure.chart')).map(f =>
		[f.querySelector('figcaption').textContent].concat(Array.from(f.querySelectorAll('circle.pt')).map(c => c.getAttribute('class'))))`))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range perChart {
		if len(c) != 5 {
			t.Errorf("chart %v: want a title and 4 points", c)
			continue
		}
		// The revert brings most instruction counts down, but those few
		// the workaround had cut go back up: the geomean point is mixed.
		want := []string{"pt", "pt", "pt regression", "pt mixed"}
		if strings.Contains(c[0], "code-size") {
			want[2] = "pt improvement"
			want[3] = c[4] // the revert's code size: whatever the exact comparison said
		}
		if strings.Join(c[1:], ",") != strings.Join(want, ",") {
			t.Errorf("chart %q: points %v, want %v", c[0], c[1:], want)
		}
	}
	if accepted != 4 || culprits != 4 {
		t.Errorf("the regression is ringed as accepted on %d charts, marked culprit on %d; want 4 each", accepted, culprits)
	}
	marks := text(`table.marks`)
	if !strings.Contains(marks, "bisection") || !strings.Contains(marks, "accepted by maintainer") {
		t.Errorf("the dashboard's marked commits: %q, want the culprit and the acceptance", marks)
	}
	// X axis: commit labels.
	if n := count(`.charts svg text.xtick`); n != 16 {
		t.Errorf("%d commit labels on the x axes, want 4 per chart", n)
	}

	// A click on the red point opens the regression's change page.
	do(chromedp.Click(`svg a circle.pt.regression`), chromedp.WaitVisible(`table.findings`))
	url, err := chromedp.Run(bctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	title := text(`h1`)
	findings, functions, diffs := count(`table.findings tbody tr`), count(`table.functions tbody tr`), count(`pre.diff span.add`)
	summary := text(`table.summary`)
	shot("change.png", false)
	if !strings.Contains(summary, "armv7-qemu") || !strings.Contains(summary, "fewer is better") {
		t.Errorf("change page summary: %q, want each target's geomean with its unit and direction", summary)
	}
	if !strings.HasSuffix(url, fmt.Sprintf("/changes/%d", reg.ID)) || !strings.Contains(title, "regression") {
		t.Errorf("clicked the red point: at %s titled %q, want change %d's page", url, title, reg.ID)
	}
	if findings < 4 || functions == 0 || diffs == 0 {
		t.Errorf("change page: %d findings, %d function tables, %d added assembly lines", findings, functions, diffs)
	}

	// Sorting the first target's findings by benchmark (second column).
	col := func() []string {
		t.Helper()
		v, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](`Array.from(document.querySelector('table.findings').tBodies[0].rows).map(r => r.cells[1].textContent)`))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	before := col()
	do(chromedp.Click(`table.findings th:nth-child(2)`))
	after := col()
	if !sort.StringsAreSorted(after) || sort.StringsAreSorted(before) || len(after) != len(before) {
		t.Errorf("sorted by benchmark: %v (before %v)", after, before)
	}
	// By Δ (sixth column, numbers): ascending, then descending.
	deltas := func() []float64 {
		t.Helper()
		v, err := chromedp.Run(bctx, chromedp.Evaluate[[]float64](`Array.from(document.querySelector('table.findings').tBodies[0].rows).map(r => parseFloat(r.cells[5].dataset.v))`))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	do(chromedp.Click(`table.findings th:nth-child(6)`))
	up := deltas()
	do(chromedp.Click(`table.findings th:nth-child(6)`))
	down := deltas()
	if !sort.Float64sAreSorted(up) || len(down) < 2 || down[0] < down[len(down)-1] {
		t.Errorf("sorted by Δ: %v, then %v", up, down)
	}
	// The per-function table of the first explanation, by Δ instructions.
	do(chromedp.Click(`table.functions th:nth-child(4)`))
	fn, err := chromedp.Run(bctx, chromedp.Evaluate[[]float64](`Array.from(document.querySelector('table.functions').tBodies[0].rows).map(r => parseFloat(r.cells[3].dataset.v))`))
	if err != nil || !sort.Float64sAreSorted(fn) {
		t.Errorf("functions sorted by Δ instructions: %v, %v", fn, err)
	}
	shot("change-full.png", true)

	// Every benchmark's chart of the branch.
	do(chromedp.Navigate(ts.URL+"/history?repo=toolchain&branch=main&metric=instructions"), chromedp.WaitVisible(`svg circle.pt`))
	benchCharts, benchEmpty, benchRed := count(`.charts figure.chart`), count(`.charts .empty`), count(`svg circle.pt.regression`)
	shot("history.png", true)
	if benchCharts < 20 || benchEmpty != 0 || benchRed < 10 {
		t.Errorf("history page: %d charts, %d empty, %d red points", benchCharts, benchEmpty, benchRed)
	}

	// The compare page of the two revisions, from the store.
	do(chromedp.Navigate(fmt.Sprintf("%s/compare?repo=toolchain&base=%s&head=%s", ts.URL, reg.Base[:12], reg.Head[:12])), chromedp.WaitVisible(`table.findings`))
	cmpTitle, cmpRows := text(`h1`), count(`table.findings tbody tr`)
	shot("compare.png", false)
	if !strings.Contains(cmpTitle, "regression") || cmpRows != findings {
		t.Errorf("compare page %q with %d findings, want the regression's %d", cmpTitle, cmpRows, findings)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(jsErrors) > 0 {
		t.Errorf("JavaScript errors: %v", jsErrors)
	}
	t.Logf("screenshots in %s", shots)

	// The JSON behind the charts.
	resp, err := http.Get(ts.URL + "/api/history?repo=toolchain&branch=main")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var hist service.History
	if err := json.NewDecoder(resp.Body).Decode(&hist); err != nil {
		t.Fatal(err)
	}
	if len(hist.Points) != 4 || !hist.Points[2].Culprit || !hist.Points[2].Accepted || hist.Points[2].Verdict != "regression" || len(hist.Geomeans) == 0 {
		t.Errorf("history JSON: %+v", hist.Points)
	}
	var one service.History
	getJSON(t, ts.URL+"/api/history?repo=toolchain&branch=main&target=armv8-qemu&metric=instructions", &one)
	if len(one.Geomeans) != 1 || len(one.Benchmarks) < 10 || one.Geomeans[0].Verdicts[2] != "regression" {
		t.Errorf("history of armv8-qemu instructions: %d geomeans %+v, %d benchmarks", len(one.Geomeans), one.Geomeans, len(one.Benchmarks))
	}
	for _, b := range one.Benchmarks {
		if b.Target != "armv8-qemu" || b.Metric != "instructions" || len(b.Values) != 4 {
			t.Errorf("filtered history has %s %s with %d values", b.Target, b.Metric, len(b.Values))
		}
	}
	for _, bad := range []struct{ url, want string }{
		{"/api/history?repo=toolchain", "parameter branch is missing"},
		{"/api/history?repo=toolchain&branch=nope", "no measured changes"},
		{"/api/history?repo=toolchain&branch=main&target=x86", "parameter target"},
		{"/history?repo=toolchain&branch=main&metric=speed", "parameter metric"},
		{"/compare?repo=toolchain&base=zzzz&head=" + reg.Head, "zzzz"},
		{"/compare?repo=toolchain&head=" + reg.Head, "parameter base is missing"},
		{"/api/compare?repo=nope&base=1&head=2", "parameter repo"},
		{"/changes/x", "change id"},
		{"/changes/99", "99"},
	} {
		r, err := http.Get(ts.URL + bad.url)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(r.Body)
		r.Body.Close()
		if r.StatusCode < 400 || r.StatusCode >= 500 || !strings.Contains(string(body), bad.want) {
			t.Errorf("GET %s: %d %q, want a 4xx saying %q", bad.url, r.StatusCode, body, bad.want)
		}
	}
	// A short SHA resolves among the measured revisions.
	var cmp report.Report
	getJSON(t, fmt.Sprintf("%s/api/compare?repo=toolchain&base=%s&head=%s", ts.URL, reg.Base[:7], reg.Head[:7]), &cmp)
	if cmp.Base != reg.Base || cmp.Head != reg.Head || cmp.Verdict != compare.Regression {
		t.Errorf("compare of short SHAs: %s..%s %s", cmp.Base, cmp.Head, cmp.Verdict)
	}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %s: %s", url, resp.Status, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}
