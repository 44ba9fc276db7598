package measure_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tcbot/tcbot/bot/compare"
	"github.com/tcbot/tcbot/bot/kernel/kerneltest"
	"github.com/tcbot/tcbot/bot/lava/lavatest"
	"github.com/tcbot/tcbot/bot/measure"
	"github.com/tcbot/tcbot/bot/measure/measuretest"
	"github.com/tcbot/tcbot/bot/result"
)

// lavaTarget is a target in the test lab; extra goes into its lava section.
func lavaTarget(name, arch, url string, samples int, extra string) string {
	return fmt.Sprintf(`  - name: %s
    arch: %s
    executor: lava
    samples: %d
    timeout: 1m
    lava: {url: %q, token_env: TCBOT_TEST_LAVA_TOKEN, device_type: qemu%s}
`, name, arch, samples, url, extra)
}

// lavaFixture is a fixture whose workdir shares the tests' kernel cache,
// so Debian's kernels and busybox are fetched once per machine.
func lavaFixture(t *testing.T, targets string) *fixture {
	f := newFixture(t, targets)
	// Wall time in an emulated guest is noisy, and starting a process
	// there costs milliseconds: give loop enough work (~30 ms) for the
	// slow head to stand out.
	suite := fmt.Sprintf(`suite: bench
version: 1
benchmarks:
  - {name: loop, sources: [loop.c], args: ["3000000"], checksum: "%016x"}
  - {name: steady, sources: [steady.c], args: ["200000"], checksum: "%016x"}
`, measuretest.LoopSum(3000000), measuretest.SteadySum(200000))
	if err := os.WriteFile(filepath.Join(f.dir, "suite", "suite.yaml"), []byte(suite), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(f.cfg.Workdir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(kerneltest.CacheDir(t), filepath.Join(f.cfg.Workdir, "kernels")); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestLAVA measures changes in the real LAVA lab (deploy/lava/lava-setup.sh):
// an armv8 and an armv7 target at once, each round of runs one LAVA job
// with base and head interleaved, the samples read back over LAVA's REST
// API; a miscompile shows as failed (the checksum came back through the
// job log); a kernel that panics is an error, retried, never a
// regression; target check reports the lab, a bad token and a missing
// device type.
func TestLAVA(t *testing.T) {
	lab := lavatest.Lab(t)
	t.Setenv("TCBOT_TEST_LAVA_TOKEN", lab.Token)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	f := lavaFixture(t, lavaTarget("armv8-lab", "armv8", lab.URL, 5, "")+
		lavaTarget("armv7-lab", "armv7", lab.URL, 5, "")+
		// rdinit names no program: the kernel finds no init and panics.
		lavaTarget("armv8-panic", "armv8", lab.URL, 2, ", kernel_args: rdinit=/no/such/init, retries: 1")+
		lavaTarget("armv8-badtoken", "armv8", lab.URL, 2, "")+
		lavaTarget("armv8-nodevice", "armv8", lab.URL, 2, "")+`
`)
	// The bad-token target reads another variable.
	for i := range f.cfg.Targets {
		switch f.cfg.Targets[i].Name {
		case "armv8-badtoken":
			f.cfg.Targets[i].LAVA.TokenEnv = "TCBOT_TEST_LAVA_BAD_TOKEN"
		case "armv8-nodevice":
			f.cfg.Targets[i].LAVA.DeviceType = "no-such-device-type"
		}
	}
	t.Setenv("TCBOT_TEST_LAVA_BAD_TOKEN", "0123456789abcdef0123456789abcdef")
	m := f.measurer(t)

	t.Run("a slower loop on armv8 and armv7", func(t *testing.T) {
		start := time.Now()
		rep, st, err := m.Run(ctx, measure.Request{Repo: "tc", Rev: f.shas["slow"], Base: f.shas["base"], Targets: []string{"armv8-lab", "armv7-lab"}})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("measured in %s: %d runs, verdict %s", time.Since(start).Round(time.Millisecond), st.Runs, rep.Verdict)
		if len(rep.Errors) > 0 {
			t.Fatalf("errors: %v", rep.Errors)
		}
		for _, target := range []string{"armv8-lab", "armv7-lab"} {
			c := find(rep, target, "loop", result.Time)
			if c == nil {
				t.Fatalf("%s: no time comparison of loop:\n%+v", target, rep)
			}
			t.Logf("%s loop: base %.4fs head %.4fs (%d/%d samples) %s", target, *c.Base, *c.Head, c.BaseN, c.HeadN, c.Verdict)
			if c.BaseN < 5 || c.HeadN < 5 || *c.Base <= 0 || *c.Head <= *c.Base {
				t.Errorf("%s: loop time %+v: want 5+ samples a side, the slow head slower", target, c)
			}
			if c.Verdict != compare.Regression {
				t.Errorf("%s: loop got %s, want regression (the head loop does three times the work)", target, c.Verdict)
			}
		}
		for _, c := range append(rep.Comparisons, rep.Info...) {
			if c.Metric == result.Status && c.Verdict != compare.Unchanged {
				t.Errorf("a benchmark failed in the lab: %+v", c)
			}
		}
	})

	t.Run("a miscompile fails", func(t *testing.T) {
		rep, _, err := m.Run(ctx, measure.Request{Repo: "tc", Rev: f.shas["wrong"], Base: f.shas["base"], Targets: []string{"armv8-lab"}})
		if err != nil {
			t.Fatal(err)
		}
		if c := find(rep, "armv8-lab", "loop", result.Status); rep.Verdict != compare.Failed || c == nil || !strings.Contains(c.Note, "wrong checksum") {
			t.Errorf("verdict %s, loop status %+v: want failed with a wrong checksum", rep.Verdict, c)
		}
	})

	t.Run("a kernel panic is an error, retried, never a regression", func(t *testing.T) {
		start := time.Now()
		rep, st, err := m.Run(ctx, measure.Request{Repo: "tc", Rev: f.shas["slow"], Base: f.shas["base"], Targets: []string{"armv8-panic"}})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("panicking kernel: %s in %s", rep.Errors, time.Since(start).Round(time.Millisecond))
		if rep.Verdict != compare.Error {
			t.Errorf("verdict %s, want error", rep.Verdict)
		}
		for _, c := range rep.Comparisons {
			if c.Verdict == compare.Regression {
				t.Errorf("a dead kernel produced a regression: %+v", c)
			}
		}
		errs := strings.Join(rep.Errors, "\n")
		if !strings.Contains(errs, "ended Incomplete") || !strings.Contains(errs, "2 jobs failed") {
			t.Errorf("errors %q: want the job's Incomplete end, retried once", errs)
		}
		// Nothing is stored: the next run measures again.
		if st.Measured != 0 {
			t.Errorf("%d measurements stored from a lab that failed", st.Measured)
		}
	})

	t.Run("target check", func(t *testing.T) {
		msg, err := m.CheckTarget(ctx, "armv7-lab", "steady")
		if err != nil {
			t.Fatal(err)
		}
		t.Log(msg)
		for _, want := range []string{"armv7-lab: usable", "ran on lava", "lab: LAVA 2023.01", "device type qemu", "kernel: Debian linux-image-"} {
			if !strings.Contains(msg, want) {
				t.Errorf("target check says %q, want %q in it", msg, want)
			}
		}
		_, err = m.CheckTarget(ctx, "armv8-badtoken", "steady")
		if err == nil || !strings.Contains(err.Error(), "refused the token in TCBOT_TEST_LAVA_BAD_TOKEN") {
			t.Errorf("bad token: %v", err)
		}
		if err != nil && strings.Contains(err.Error(), "0123456789abcdef") {
			t.Errorf("the error shows the token: %v", err)
		}
		_, err = m.CheckTarget(ctx, "armv8-nodevice", "steady")
		if err == nil || !strings.Contains(err.Error(), `no device type "no-such-device-type"`) {
			t.Errorf("missing device type: %v", err)
		}
	})
}
