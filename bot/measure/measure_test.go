package measure_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tcbot/tcbot/bot/compare"
	"github.com/tcbot/tcbot/bot/config"
	"github.com/tcbot/tcbot/bot/demo"
	"github.com/tcbot/tcbot/bot/measure"
	"github.com/tcbot/tcbot/bot/measure/measuretest"
	"github.com/tcbot/tcbot/bot/report"
	"github.com/tcbot/tcbot/bot/result"
)

type fixture struct {
	dir  string
	cfg  *config.Config
	shas map[string]string
}

func newFixture(t *testing.T, targets string) *fixture {
	t.Helper()
	dir := t.TempDir()
	if err := measuretest.WriteSuite(filepath.Join(dir, "suite")); err != nil {
		t.Fatal(err)
	}
	commits := []demo.Commit{
		{Subject: "base", Files: map[string]string{"tcbot-toolchain.yaml": measuretest.Manifest(""), "README": "a\n"}},
		{Subject: "no-op", Files: map[string]string{"README": "b\n"}},
		{Subject: "slow", Files: map[string]string{"tcbot-toolchain.yaml": measuretest.Manifest("-DSLOW")}},
		{Subject: "wrong", Files: map[string]string{"tcbot-toolchain.yaml": measuretest.Manifest("-DWRONG")}},
		{Subject: "broken", Files: map[string]string{"tcbot-toolchain.yaml": measuretest.Manifest("-DBROKEN")}},
	}
	shas, err := demo.MakeRepo(filepath.Join(dir, "repo"), commits)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{dir: dir, shas: map[string]string{}}
	for i, c := range commits {
		f.shas[c.Subject] = shas[i]
	}
	cfgText := `workdir: work
benchmarks_dir: suite
repos:
  - {name: tc, url: repo}
targets:
` + targets + `
`
	path := filepath.Join(dir, "tcbot.yaml")
	os.WriteFile(path, []byte(cfgText), 0o644)
	f.cfg, err = config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

const bothTargets = `  - {name: armv7-qemu, arch: armv7, executor: qemu-user, samples: 2}
  - {name: armv8-qemu, arch: armv8, executor: qemu-user, samples: 2}`

func (f *fixture) measurer(t *testing.T) *measure.Measurer {
	t.Helper()
	m, err := measure.New(context.Background(), f.cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Store.Close() })
	return m
}

func find(r *report.Report, target, bench, metric string) *compare.Comparison {
	for _, list := range [][]compare.Comparison{r.Comparisons, r.Info} {
		for i := range list {
			c := &list[i]
			if c.Target == target && c.Benchmark == bench && c.Metric == metric {
				return c
			}
		}
	}
	return nil
}

func TestMeasureChanges(t *testing.T) {
	f := newFixture(t, bothTargets)
	m := f.measurer(t)
	ctx := context.Background()

	t.Run("no-op commit is unchanged and not run again", func(t *testing.T) {
		rep, st, err := m.Run(ctx, measure.Request{Repo: "tc", Rev: f.shas["no-op"]})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Verdict != compare.Unchanged {
			t.Fatalf("verdict %s, want unchanged:\n%+v", rep.Verdict, rep)
		}
		if rep.Base != f.shas["base"] || rep.Head != f.shas["no-op"] {
			t.Errorf("base/head = %s/%s, want the first parent", rep.Base, rep.Head)
		}
		// Base: 2 benchmarks x 2 targets x 2 samples; head: identical binaries.
		if st.Runs != 8 || st.Measured != 4 {
			t.Errorf("runs=%d measured=%d, want 8 runs (base only) and 4 measurements", st.Runs, st.Measured)
		}
		c := find(rep, "armv8-qemu", "loop", result.Instructions)
		if c == nil || c.Note != "identical binary" || c.Base == nil || *c.Base < 300000 {
			t.Errorf("instructions comparison of an identical binary = %+v", c)
		}
		if st.Busy <= 0 || st.Busy > st.Wall {
			t.Errorf("busy %s outside (0, wall %s]", st.Busy, st.Wall)
		}
	})

	t.Run("injected slowdown is a regression on both arches, only for loop", func(t *testing.T) {
		rep, st, err := m.Run(ctx, measure.Request{Repo: "tc", Rev: f.shas["slow"]})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Verdict != compare.Regression {
			t.Fatalf("verdict %s, want regression", rep.Verdict)
		}
		if st.Reused != 2 {
			t.Errorf("reused %d stored measurements, want the 2 of the no-op base", st.Reused)
		}
		for _, target := range []string{"armv7-qemu", "armv8-qemu"} {
			c := find(rep, target, "loop", result.Instructions)
			if c == nil || c.Verdict != compare.Regression || c.DeltaPct == nil || *c.DeltaPct < 20 {
				t.Errorf("%s loop instructions: %+v, want a regression of more than 20%%", target, c)
			}
			if s := find(rep, target, "steady", result.Instructions); s == nil || s.Verdict != compare.Unchanged {
				t.Errorf("%s steady instructions: %+v, want unchanged", target, s)
			}
		}
	})

	t.Run("warm rerun measures nothing", func(t *testing.T) {
		rep, st, err := m.Run(ctx, measure.Request{Repo: "tc", Rev: f.shas["slow"]})
		if err != nil {
			t.Fatal(err)
		}
		if st.Runs != 0 || st.Builds != 0 || st.Reused != 4 {
			t.Errorf("warm rerun: runs=%d builds=%d reused=%d, want 0/0/4", st.Runs, st.Builds, st.Reused)
		}
		if rep.Verdict != compare.Regression {
			t.Errorf("verdict %s on rerun", rep.Verdict)
		}
	})

	t.Run("wrong checksum is failed, not a regression", func(t *testing.T) {
		rep, _, err := m.Run(ctx, measure.Request{Repo: "tc", Rev: f.shas["wrong"], Base: f.shas["base"]})
		if err != nil {
			t.Fatal(err)
		}
		c := find(rep, "armv7-qemu", "loop", result.Status)
		if rep.Verdict != compare.Failed || c == nil || c.Verdict != compare.Failed || !strings.Contains(c.Note, "wrong checksum") {
			t.Fatalf("verdict %s, status %+v: want failed with a wrong checksum note", rep.Verdict, c)
		}
	})

	t.Run("compile error is failed with the compiler's message", func(t *testing.T) {
		rep, _, err := m.Run(ctx, measure.Request{Repo: "tc", Rev: f.shas["broken"], Base: f.shas["base"], Targets: []string{"armv8-qemu"}})
		if err != nil {
			t.Fatal(err)
		}
		c := find(rep, "armv8-qemu", "loop", result.Status)
		if c == nil || c.Verdict != compare.Failed || !strings.Contains(c.Note, "broken on purpose") {
			t.Fatalf("status %+v: want failed naming the #error", c)
		}
		if s := find(rep, "armv8-qemu", "steady", result.Status); s != nil {
			t.Errorf("steady still builds, yet has a status comparison %+v", s)
		}
		if find(rep, "armv7-qemu", "loop", result.Status) != nil {
			t.Error("--targets armv8-qemu measured armv7 too")
		}
	})

	t.Run("A/A through compare reports nothing", func(t *testing.T) {
		rep, err := m.CompareStored(ctx, "tc", f.shas["slow"], f.shas["slow"], nil)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Verdict != compare.Unchanged || len(rep.Comparisons) == 0 {
			t.Fatalf("A/A verdict %s with %d comparisons", rep.Verdict, len(rep.Comparisons))
		}
		for _, c := range rep.Comparisons {
			if c.Verdict != compare.Unchanged {
				t.Errorf("A/A comparison %s/%s/%s: %s", c.Target, c.Benchmark, c.Metric, c.Verdict)
			}
		}
	})

	t.Run("compare of an unmeasured revision is an error, not a regression", func(t *testing.T) {
		// "broken" was measured on armv8 only.
		rep, err := m.CompareStored(ctx, "tc", f.shas["base"], f.shas["broken"], []string{"armv7-qemu"})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Verdict != compare.Error || len(rep.Errors) == 0 || !strings.Contains(rep.Errors[0], "no stored results") {
			t.Fatalf("verdict %s errors %q", rep.Verdict, rep.Errors)
		}
	})

	t.Run("unknown revision and repo are clear errors", func(t *testing.T) {
		_, _, err := m.Run(ctx, measure.Request{Repo: "tc", Rev: "no-such-branch"})
		if err == nil || !strings.Contains(err.Error(), `"no-such-branch" not found`) {
			t.Errorf("err = %v", err)
		}
		_, _, err = m.Run(ctx, measure.Request{Repo: "gcc", Rev: "main"})
		if err == nil || !strings.Contains(err.Error(), `unknown repo "gcc"`) {
			t.Errorf("err = %v", err)
		}
		_, _, err = m.Run(ctx, measure.Request{Repo: "tc", Rev: f.shas["base"]})
		if err == nil || !strings.Contains(err.Error(), "pass --base") {
			t.Errorf("root commit: err = %v", err)
		}
	})
}

func TestMissingEmulatorIsAnErrorAndStoresNothing(t *testing.T) {
	f := newFixture(t, `  - {name: armv8-qemu, arch: armv8, executor: qemu-user}
  - {name: armv8-gone, arch: armv8, executor: qemu-user, qemu: qemu-tcbot-nonexistent}`)
	m := f.measurer(t)
	ctx := context.Background()
	rep, st, err := m.Run(ctx, measure.Request{Repo: "tc", Rev: f.shas["slow"]})
	if err != nil {
		t.Fatal(err)
	}
	// The working target still finds the regression; the broken one is an
	// error, listed, and the overall verdict keeps the regression.
	if rep.Verdict != compare.Regression {
		t.Errorf("verdict %s, want regression from the working target", rep.Verdict)
	}
	if len(rep.Errors) == 0 || !strings.Contains(strings.Join(rep.Errors, "\n"), "qemu-tcbot-nonexistent not found") {
		t.Errorf("errors %q do not name the missing emulator", rep.Errors)
	}
	if st.Measured != 2 {
		t.Errorf("measured %d, want 2 (nothing stored for the broken target)", st.Measured)
	}
	for _, c := range append(rep.Comparisons, rep.Info...) {
		if c.Target == "armv8-gone" && c.Verdict == compare.Regression {
			t.Errorf("infrastructure failure reported as regression: %+v", c)
		}
	}
	// Only the broken target: the verdict is error, exit code 1.
	rep, _, err = m.Run(ctx, measure.Request{Repo: "tc", Rev: f.shas["slow"], Targets: []string{"armv8-gone"}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Verdict != compare.Error || rep.Verdict.ExitCode() != 1 {
		t.Errorf("verdict %s (exit %d), want error (exit 1)", rep.Verdict, rep.Verdict.ExitCode())
	}
	n, _ := m.Store.Count(ctx)
	if n != 2 {
		t.Errorf("store holds %d measurements, want 2", n)
	}
}

func measureRequest(f *fixture, head, base string) measure.Request {
	return measure.Request{Repo: "tc", Rev: f.shas[head], Base: f.shas[base]}
}
