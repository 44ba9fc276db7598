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
	"github.com/tcbot/tcbot/bot/config"
	"github.com/tcbot/tcbot/bot/demo"
	"github.com/tcbot/tcbot/bot/measure"
	"github.com/tcbot/tcbot/bot/service"
	"github.com/tcbot/tcbot/bot/store"
)

// TestDashboardInABrowser measures the demo for real (two changes of
// branch main: a no-op and an injected regression), marks the regression
// as bisected and accepted, serves the dashboard, and drives headless
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
		t.Fatal("chromium not installed: make test-deps (Debian package chromium)")
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
	// The regression was bisected to itself and accepted.
	b := &store.Bisection{Repo: "toolchain", Good: reg.Base, Bad: reg.Head, Origin: "command"}
	if _, err := store.InsertBisection(ctx, m.Store.Q(), b); err != nil {
		t.Fatal(err)
	}
	res, _ := json.Marshal(bisect.Result{Repo: "toolchain", Culprit: &bisect.Commit{SHA: reg.Head}})
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
		for _, d := range []string{shots, os.Getenv("TCBOT_SCREENSHOT_DIR")} {
			if d != "" {
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

	// The dashboard: 4 charts (2 targets x instructions, code size) of 3
	// points each, the regression red, ringed as accepted, marked culprit.
	do(chromedp.Navigate(ts.URL+"/"), chromedp.WaitVisible(`svg circle.pt`))
	charts, points, empty := count(`.charts figure.chart`), count(`svg circle.pt`), count(`.charts .empty`)
	red, accepted, culprits := count(`svg circle.pt.regression`), count(`svg circle.accepted`), count(`svg path.culprit`)
	shot("dashboard.png", true)
	if charts != 4 || points != 12 || empty != 0 {
		t.Errorf("dashboard: %d charts, %d points, %d empty; want 4 charts of 3 points each", charts, points, empty)
	}
	if red != 4 || accepted != 4 || culprits != 4 {
		t.Errorf("the regression is red on %d charts, ringed as accepted on %d, marked culprit on %d; want 4 each", red, accepted, culprits)
	}

	// A click on the red point opens the regression's change page.
	do(chromedp.Click(`svg a circle.pt.regression`), chromedp.WaitVisible(`table.findings`))
	url, err := chromedp.Run(bctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	title := text(`h1`)
	findings, functions, diffs := count(`table.findings tbody tr`), count(`table.functions`), count(`pre.diff span.add`)
	shot("change.png", false)
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
	if len(hist.Points) != 3 || !hist.Points[2].Culprit || !hist.Points[2].Accepted || hist.Points[2].Verdict != "regression" || len(hist.Geomeans) == 0 {
		t.Errorf("history JSON: %+v", hist.Points)
	}
	for _, bad := range []string{"/api/history?repo=toolchain", "/compare?repo=toolchain&base=zzzz&head=" + reg.Head, "/changes/x"} {
		r, err := http.Get(ts.URL + bad)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode < 400 || r.StatusCode >= 500 {
			t.Errorf("GET %s: %d, want a 4xx", bad, r.StatusCode)
		}
	}
}
