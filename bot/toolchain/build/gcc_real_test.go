package build_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tcbot/tcbot/bot/compare"
	"github.com/tcbot/tcbot/bot/config"
	"github.com/tcbot/tcbot/bot/demo"
	"github.com/tcbot/tcbot/bot/measure"
	"github.com/tcbot/tcbot/bot/report"
	"github.com/tcbot/tcbot/bot/result"
	"github.com/tcbot/tcbot/bot/toolchain/build/realsrc"
)

// TestRealGCC is make test-real's GCC path, end to end on gcc-12-source:
// cold builds of cc1 for both arches (the host's cross gcc uses them
// through -B), a ChangeLog-only commit (identical compiler: unchanged
// without compiling a benchmark), a pass disabled (a regression on both
// arches, from incremental builds), and an incremental build equal to a
// cold build of the same revision (byte-identical cc1). Opt in with
// TCBOT_TEST_REAL=1; it takes about an hour cold on 2 cores.
func TestRealGCC(t *testing.T) {
	if os.Getenv("TCBOT_TEST_REAL") == "" {
		t.Skip("set TCBOT_TEST_REAL=1 (make test-real): builds GCC from source")
	}
	realsrc.Need(t, demo.GCCTarball, "gcc-12-source", true)
	t0 := time.Now()
	repo := realsrc.Make(t, "gcc-12.2.0", demo.GCCTarball, demo.GCCChanges)
	t.Logf("repository ready in %s", time.Since(t0).Round(time.Second))
	base, docs, pass := repo.SHAs[demo.GCCChanges[0].Subject], repo.SHAs[demo.GCCChanges[1].Subject], repo.SHAs[demo.GCCChanges[2].Subject]

	work := filepath.Join(realsrc.CacheDir(t), "gcc-work")
	m := realMeasurer(t, work, "gcc", repo.Dir, "build: {recipe: gcc}")
	ctx := context.Background()
	run := func(what, head, base string) (*report.Report, measure.Stats) {
		t.Helper()
		rep, st, err := m.Run(ctx, measure.Request{Repo: "gcc", Rev: head, Base: base})
		if err != nil {
			t.Fatal(err)
		}
		var text strings.Builder
		report.Text(&text, *rep)
		t.Logf("%s: %s wall, %d benchmarks compiled, %d runs\n%s", what, st.Wall.Round(time.Second), st.Builds, st.Runs, text.String())
		return rep, st
	}

	// The baseline: cold builds unless the tree is warm from an earlier run.
	rep, st := run("baseline against itself (cold builds)", base, base)
	if rep.Verdict != compare.Unchanged {
		t.Errorf("a revision against itself: %s", rep.Verdict)
	}
	rep, st = run("ChangeLog-only commit", docs, base)
	if rep.Verdict != compare.Unchanged || st.Builds != 0 || len(rep.Notes) == 0 {
		t.Errorf("ChangeLog-only commit: %s, %d compiled, notes %q: want unchanged with an identical compiler", rep.Verdict, st.Builds, rep.Notes)
	}
	rep, st = run("pass disabled (incremental builds)", pass, docs)
	if rep.Verdict != compare.Regression {
		t.Errorf("ivopts disabled: verdict %s, want regression", rep.Verdict)
	}
	for _, target := range []string{"armv7-qemu", "armv8-qemu"} {
		n := 0
		for _, c := range rep.Comparisons {
			if c.Target == target && c.Metric == result.Instructions && c.Verdict == compare.Regression {
				n++
			}
		}
		if n == 0 {
			t.Errorf("%s: no instruction regression with ivopts disabled", target)
		}
	}

	// The incremental cc1 equals a cold build of the same revision.
	if os.Getenv("TCBOT_TEST_REAL_COLD_CHECK") != "" {
		cold := realMeasurer(t, filepath.Join(t.TempDir(), "cold"), "gcc", repo.Dir, "build: {recipe: gcc}")
		if _, _, err := cold.Run(ctx, measure.Request{Repo: "gcc", Rev: pass, Base: pass, Targets: []string{"armv8-qemu"}}); err != nil {
			t.Fatal(err)
		}
		warm := findOutput(t, work, "gcc", pass, "cc1")
		coldSum := findOutput(t, cold.Config.Workdir, "gcc", pass, "cc1")
		if warm != coldSum {
			t.Errorf("incremental cc1 %s differs from the cold build's %s", warm, coldSum)
		}
	}
}

func realMeasurer(t *testing.T, work, name, url, extra string) *measure.Measurer {
	t.Helper()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "tcbot.yaml")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf(`workdir: %s
database: sqlite://%s/tcbot.db
repos:
  - name: %s
    url: %s
    toolchain: build
    %s
targets:
  - {name: armv7-qemu, arch: armv7, executor: qemu-user}
  - {name: armv8-qemu, arch: armv8, executor: qemu-user}
`, work, dir, name, url, extra)), 0o644)
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	m, err := measure.New(context.Background(), cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Store.Close() })
	return m
}

// findOutput hashes a built program of revision sha for armv8 in work.
func findOutput(t *testing.T, work, repo, sha, prog string) string {
	t.Helper()
	ms, _ := filepath.Glob(filepath.Join(work, "toolchains", repo, "*-armv8", sha+"-*", "bin", prog))
	if len(ms) != 1 {
		t.Fatalf("built %s of %s: found %q", prog, sha, ms)
	}
	f, err := os.Open(ms[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	io.Copy(h, f)
	return hex.EncodeToString(h.Sum(nil))
}
