package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tcbot/tcbot/bot/compare"
	"github.com/tcbot/tcbot/bot/demo"
	"github.com/tcbot/tcbot/bot/report"
	"github.com/tcbot/tcbot/bot/result"
	"github.com/tcbot/tcbot/bot/store"
)

// TestServeDirShowsTheDemosDashboard: `tcbot serve --dir DIR` serves the
// dashboard of what the demo recorded in DIR, with no GitHub and no
// other flag. The demo's directory is made as tcbot demo makes it (its
// repository, config and database), its two changes recorded through the
// store as the demo records them, without measuring them again; only the
// listen address differs, so that the test takes a free port.
func TestServeDirShowsTheDemosDashboard(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	shas, err := demo.MakeRepo(filepath.Join(dir, "toolchain"), demo.Commits)
	if err != nil {
		t.Fatal(err)
	}
	addr := freePort(t)
	cfg := strings.Replace(demo.Config(dir), "listen: "+demo.Listen, "listen: "+addr, 1)
	if err := os.WriteFile(filepath.Join(dir, "tcbot.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "work"), 0o755); err != nil {
		t.Fatal(err)
	}
	st, err := store.OpenURL(ctx, "sqlite://"+filepath.Join(dir, "work", "tcbot.db"))
	if err != nil {
		t.Fatal(err)
	}
	f := func(v float64) *float64 { return &v }
	for i, head := range []float64{1000, 1100} {
		c := compare.Comparison{Target: "armv8-qemu", Suite: "bench", Benchmark: "sha256", Metric: result.Instructions, Unit: "count",
			Base: f(1000), Head: f(head), DeltaPct: f((head - 1000) / 10), Verdict: compare.Unchanged}
		verdict := compare.Unchanged
		if head > 1000 {
			c.Verdict, verdict = compare.Regression, compare.Regression
		}
		rep := report.New("toolchain", shas[i], shas[i+1], compare.Outcome{Verdict: verdict, Comparisons: []compare.Comparison{c}})
		js, err := json.Marshal(rep)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := store.RecordChange(ctx, st.Q(), &store.Change{Repo: "toolchain", Head: shas[i+1], Base: shas[i], Origin: "demo", Branch: "main"}, string(verdict), string(js)); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()

	startTcbot(t, []string{"serve", "--dir", dir, "--drain", "2s"})
	waitFor(t, "tcbot serve --dir to answer", 30*time.Second, func() bool { return healthy(addr) })
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	code, body := get("/")
	if code != 200 || !strings.Contains(body, "toolchain, branch main") || strings.Count(body, `<circle class="pt`) != 3 || strings.Count(body, `<circle class="pt regression"`) != 1 {
		t.Errorf("the demo's dashboard: %d, want the chart of branch main with its 3 commits, the last red:\n%s", code, body)
	}
	code, body = get("/api/history?repo=toolchain&branch=main")
	var h struct {
		Points []struct{ SHA string } `json:"points"`
	}
	if code != 200 || json.Unmarshal([]byte(body), &h) != nil || len(h.Points) != 3 || h.Points[2].SHA != shas[2] {
		t.Errorf("history: %d %s", code, body)
	}

	for _, tc := range []struct{ args []string }{
		{[]string{"serve", "--dir", filepath.Join(dir, "nope")}},
		{[]string{"serve", "--dir", dir, "--config", filepath.Join(dir, "tcbot.yaml")}},
	} {
		if code, _, stderr := tcbot(t, tc.args...); code == 0 || !strings.Contains(stderr, "--dir") {
			t.Errorf("tcbot %s: exit %d, %q; want an error naming --dir", strings.Join(tc.args, " "), code, stderr)
		}
	}
}
