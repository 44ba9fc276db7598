package measure_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tcbot/tcbot/bot/compare"
	"github.com/tcbot/tcbot/bot/kernel/kerneltest"
	"github.com/tcbot/tcbot/bot/measure"
	"github.com/tcbot/tcbot/bot/measure/measuretest"
	"github.com/tcbot/tcbot/bot/report"
	"github.com/tcbot/tcbot/bot/result"
)

// shareKernelCache points the fixture's workdir/kernels at the tests'
// shared kernel cache, so the default (Debian's kernel, fetched into
// workdir/kernels) is what runs, without a download per test.
func shareKernelCache(t *testing.T, workdir string) {
	t.Helper()
	for _, arch := range []string{"armv7", "armv8"} {
		kerneltest.Fetch(t, arch) // fills the shared cache
	}
	if err := os.MkdirAll(workdir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(kerneltest.CacheDir(t), filepath.Join(workdir, "kernels")); err != nil {
		t.Fatal(err)
	}
}

// TestQEMUSystemTargets measures a change on qemu-system targets of both
// arches: the benchmarks run in booted guests, time samples come back for
// base and head, the boot is reported (boot-time, informational), and the
// change that makes "loop" slower is seen. A target whose kernel panics
// at boot ends as an infrastructure error naming the panic, never a
// regression, and stores nothing.
func TestQEMUSystemTargets(t *testing.T) {
	f := newFixture(t, `  - {name: armv8-vm, arch: armv8, executor: qemu-system, samples: 5}
  - {name: armv7-vm, arch: armv7, executor: qemu-system, samples: 5}
  - {name: armv8-panic, arch: armv8, executor: qemu-system, samples: 5, kernel_args: "rdinit=/no-such-init root=/dev/nonexistent"}`)
	shareKernelCache(t, f.cfg.Workdir)
	// Longer runs than the fixture's (a few ms): in-guest wall time also
	// counts starting the program, which would hide SLOW's effect.
	suiteYAML := fmt.Sprintf(`suite: bench
version: 1
benchmarks:
  - {name: loop, sources: [loop.c], args: ["3000000"], checksum: "%016x"}
  - {name: steady, sources: [steady.c], args: ["200000"], checksum: "%016x"}
`, measuretest.LoopSum(3000000), measuretest.SteadySum(200000))
	if err := os.WriteFile(filepath.Join(f.dir, "suite", "suite.yaml"), []byte(suiteYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	m := f.measurer(t)
	ctx := context.Background()

	rep, st, err := m.Run(ctx, measure.Request{Repo: "tc", Rev: f.shas["slow"], Base: f.shas["base"]})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d runs, %d measured, wall %s", st.Runs, st.Measured, st.Wall)
	for _, target := range []string{"armv8-vm", "armv7-vm"} {
		loop := find(rep, target, "loop", result.Time)
		if loop == nil {
			t.Fatalf("%s: no time comparison of loop:\n%s", target, reportText(t, rep))
		}
		if loop.BaseN < 5 || loop.HeadN < 5 {
			t.Errorf("%s: loop time samples %d/%d, want at least 5 a side", target, loop.BaseN, loop.HeadN)
		}
		// SLOW at least doubles loop's work: the in-guest wall time must
		// show it, and time is a verdict metric here.
		if loop.Base == nil || loop.Head == nil || *loop.Head < 1.5**loop.Base || loop.Verdict != compare.Regression {
			t.Errorf("%s: loop time %v -> %v, verdict %s; want a regression", target, num(loop.Base), num(loop.Head), loop.Verdict)
		} else {
			t.Logf("%s: loop %.4fs -> %.4fs in the guest", target, *loop.Base, *loop.Head)
		}
		boot := find(rep, target, measure.BootBenchmark, result.BootTime)
		if boot == nil || boot.BaseN < 1 || boot.HeadN < 1 || boot.Base == nil || *boot.Base <= 0 || *boot.Base > 60 {
			t.Errorf("%s: boot-time comparison %+v", target, boot)
		} else {
			t.Logf("%s: boot %.2fs (base) %v (head)", target, *boot.Base, num(boot.Head))
		}
		if boot != nil && boot.Verdict == compare.Regression {
			t.Errorf("%s: boot time is informational, yet it is a regression", target)
		}
		for _, c := range append(rep.Comparisons, rep.Info...) {
			if c.Target == target && c.Metric == result.Status && c.Verdict != compare.Unchanged {
				t.Errorf("%s: %s status %s: %s", target, c.Benchmark, c.Verdict, c.Note)
			}
		}
	}
	for _, c := range append(rep.Comparisons, rep.Info...) {
		if c.Target == "armv8-panic" {
			t.Errorf("the panicking target has a result: %+v", c)
		}
	}
	errs := strings.Join(rep.Errors, "\n")
	if !strings.Contains(errs, "armv8-panic") || !strings.Contains(errs, "kernel panic") {
		t.Errorf("errors do not name the panicking target and the panic:\n%s", errs)
	}
	if strings.Contains(errs, "armv8-vm") || strings.Contains(errs, "armv7-vm") {
		t.Errorf("errors name a working target:\n%s", errs)
	}
	// The working targets found the slowdown, which a report never hides
	// behind the broken target's error.
	if rep.Verdict != compare.Regression {
		t.Errorf("verdict %s, want regression", rep.Verdict)
	}
	// Nothing stored for the panicking target: the next run boots again.
	_, st2, err := m.Run(ctx, measure.Request{Repo: "tc", Rev: f.shas["slow"], Base: f.shas["base"], Targets: []string{"armv8-panic"}})
	if err != nil {
		t.Fatal(err)
	}
	if st2.Reused != 0 {
		t.Errorf("%d measurements of the panicking target reused", st2.Reused)
	}
	text := reportText(t, rep)
	if !strings.Contains(text, "boot") {
		t.Errorf("the report does not show the boot:\n%s", text)
	}

	// target check boots a guest, runs one benchmark and says so.
	msg, err := m.CheckTarget(ctx, "armv8-vm", "steady")
	if err != nil || !strings.Contains(msg, "armv8-vm: usable") || !strings.Contains(msg, "on qemu-system") || !strings.Contains(msg, "booted ") {
		t.Errorf("target check: %q, %v", msg, err)
	}
	_, err = m.CheckTarget(ctx, "armv8-panic", "steady")
	if err == nil || !strings.Contains(err.Error(), "kernel panic") {
		t.Errorf("target check of a panicking kernel: %v", err)
	}
}

func reportText(t *testing.T, r *report.Report) string {
	var b strings.Builder
	if err := report.Text(&b, *r); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func num(p *float64) string {
	if p == nil {
		return "none"
	}
	return fmt.Sprintf("%.4g", *p)
}
