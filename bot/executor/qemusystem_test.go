package executor

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tcbot/tcbot/benchmarks"
	"github.com/tcbot/tcbot/bot/config"
	"github.com/tcbot/tcbot/bot/kernel/kerneltest"
	"github.com/tcbot/tcbot/bot/suite"
)

// buildSuite compiles every benchmark of the shipped suite for arch with
// the arch's real cross compiler (-O2 -static, as the bench recipe does)
// and returns the binaries' paths by benchmark name.
func buildSuite(t *testing.T, arch string) (*suite.Suite, map[string]string) {
	t.Helper()
	s, err := suite.Load(benchmarks.FS, "benchmarks")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for n, data := range s.Files {
		if err := os.WriteFile(filepath.Join(dir, n), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cc := config.Arches[arch].CC
	bins := map[string]string{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 2)
	for _, b := range s.Benchmarks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			out := filepath.Join(dir, "bin", b.Name)
			os.MkdirAll(filepath.Dir(out), 0o755)
			args := append([]string{"-O2", "-static", "-o", out}, b.Sources...)
			args = append(append(args, "-lm"), b.LDFlags...)
			cmd := exec.Command(cc, args...)
			cmd.Dir = dir
			if msg, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("%s: %s: %v\n%s", arch, b.Name, err, msg)
				return
			}
			mu.Lock()
			bins[b.Name] = out
			mu.Unlock()
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	return s, bins
}

// bootGuest boots Debian's kernel for arch with tcbot's initramfs holding
// files, and cleans up after the test.
func bootGuest(t *testing.T, arch string, files []string, tweak func(*QEMUSystem)) *QEMUSystem {
	t.Helper()
	g := kerneltest.Fetch(t, arch)
	q := &QEMUSystem{Arch: arch, Kernel: g.Kernel.Path, Busybox: g.Busybox, Files: files}
	if tweak != nil {
		tweak(q)
	}
	t.Cleanup(func() { q.Cleanup() })
	return q
}

// TestQEMUSystemRunsTheSuite boots both Debian kernels with tcbot's
// initramfs and runs every benchmark of the shipped suite inside, built
// with the real cross compilers: each must exit 0 and print the checksum
// suite.yaml records.
func TestQEMUSystemRunsTheSuite(t *testing.T) {
	for _, arch := range []string{"armv8", "armv7"} {
		t.Run(arch, func(t *testing.T) {
			t.Parallel()
			s, bins := buildSuite(t, arch)
			var files []string
			for _, b := range s.Benchmarks {
				files = append(files, bins[b.Name])
			}
			q := bootGuest(t, arch, files, nil)
			ctx := context.Background()
			if err := q.Prepare(ctx); err != nil {
				t.Fatal(err)
			}
			boot, ok := q.Boot()
			if !ok || boot.Time <= 0 || boot.GuestUptime <= 0 || boot.Time > DefaultBootTimeout || boot.InitramfsSize < 100<<10 {
				t.Errorf("boot info %+v, %v", boot, ok)
			}
			t.Logf("%s: booted %s in %s (guest uptime %s at the prompt), initramfs %d KiB",
				arch, filepath.Base(boot.Kernel), boot.Time.Round(time.Millisecond), boot.GuestUptime, boot.InitramfsSize>>10)
			var overhead, inGuest time.Duration
			for _, b := range s.Benchmarks {
				start := time.Now()
				o, err := q.Run(ctx, Spec{Name: arch + "/" + b.Name, Argv: append([]string{"./" + b.Name}, b.Args...), Env: []string{"LC_ALL=C"}, Timeout: 2 * time.Minute})
				host := time.Since(start)
				if err != nil {
					t.Fatalf("%s: %v", b.Name, err)
				}
				got, ok := suite.Checksum(o.Stdout)
				if !o.OK() || !ok || got != b.Checksum {
					t.Errorf("%s: %s, checksum %q, want %s; stderr %q", b.Name, o.Describe(), got, b.Checksum, o.Stderr)
				}
				if o.Wall <= 0 || o.Wall > host {
					t.Errorf("%s: in-guest wall %s, host round trip %s", b.Name, o.Wall, host)
				}
				overhead += host - o.Wall
				inGuest += o.Wall
				t.Logf("%s: %s in the guest, %s round trip", b.Name, o.Wall.Round(time.Millisecond), host.Round(time.Millisecond))
			}
			n := time.Duration(len(s.Benchmarks))
			t.Logf("%s: %d benchmarks, %s in the guest; console overhead %s per run", arch, len(s.Benchmarks), inGuest.Round(time.Millisecond), (overhead / n).Round(time.Millisecond))
		})
	}
}

// TestQEMUSystemCommands checks what a command sees and what comes back:
// the exact environment and argv, stdout and stderr apart and byte-exact,
// exit status, death by signal, the guest-side timeout, and output that
// imitates the console protocol's markers.
func TestQEMUSystemCommands(t *testing.T) {
	q := bootGuest(t, "armv8", nil, nil)
	ctx := context.Background()
	if err := q.Prepare(ctx); err != nil {
		t.Fatal(err)
	}
	run := func(env []string, timeout time.Duration, argv ...string) *Outcome {
		t.Helper()
		o, err := q.Run(ctx, Spec{Name: "cmd", Argv: argv, Env: env, Timeout: timeout})
		if err != nil {
			t.Fatalf("%q: %v", argv, err)
		}
		return o
	}
	sh := func(script string) []string { return []string{"/bin/sh", "-c", script, "sh"} }

	// env (busybox's) prints its environment as it got it.
	o := run([]string{"A=1", "B=two words", "C=it's"}, time.Minute, "env")
	if got, want := string(o.Stdout), "A=1\nB=two words\nC=it's\n"; got != want || !o.OK() {
		t.Errorf("environment %q (%s), want exactly %q", got, o.Describe(), want)
	}
	o = run(nil, time.Minute, append(sh(`pwd; for a; do echo "arg:$a"; done; echo oops >&2; exit 3`), "x y", `"q"`, "")...)
	wantOut := "/tcbot\narg:x y\narg:\"q\"\narg:\n"
	if string(o.Stdout) != wantOut || string(o.Stderr) != "oops\n" || o.ExitCode != 3 || o.Describe() != "exit status 3" {
		t.Errorf("got stdout %q stderr %q (%s), want stdout %q, stderr \"oops\\n\", exit status 3", o.Stdout, o.Stderr, o.Describe(), wantOut)
	}

	// Bytes that a terminal would interpret (^C, ^D, ^U, CR, NUL, ESC)
	// come back exactly, in both directions.
	weird := "a\x03b\x04c\x15d\re\x00f\x1b[6ng\xff"
	o = run(nil, time.Minute, append(sh(`printf '%s' "$1"; printf '%s' "$1" >&2`), weird)...)
	if want := strings.ReplaceAll(weird, "\x00", ""); string(o.Stdout) != want || string(o.Stderr) != want {
		// (A shell argument cannot hold a NUL; everything else must
		// survive.)
		t.Errorf("control bytes: stdout %q stderr %q, want %q", o.Stdout, o.Stderr, want)
	}

	// Output imitating the protocol with another nonce, or none, is just
	// output.
	fake := "@@TCBOT-0123456789abcdef-END 0 1 2 0 0\n@@TCBOT--END 0 1 2 0 0\nTCBOT-GUEST-READY 1\n"
	o = run(nil, time.Minute, append(sh(`printf '%s' "$1"; printf '%s' "$1" >&2`), fake)...)
	if string(o.Stdout) != fake || string(o.Stderr) != fake || !o.OK() {
		t.Errorf("fake markers: stdout %q stderr %q (%s)", o.Stdout, o.Stderr, o.Describe())
	}

	// Large output crosses the console intact.
	o = run(nil, time.Minute, sh(`i=0; while [ $i -lt 3000 ]; do echo "line $i of the output"; i=$((i+1)); done`)...)
	if lines := strings.Split(strings.TrimSuffix(string(o.Stdout), "\n"), "\n"); len(lines) != 3000 || lines[2999] != "line 2999 of the output" {
		t.Errorf("large output: %d lines, last %q", len(lines), lines[len(lines)-1])
	}

	o = run(nil, time.Minute, sh(`kill -SEGV $$`)...)
	if o.Signal != "SEGV" || o.ExitCode != -1 || o.TimedOut {
		t.Errorf("a command killed by SIGSEGV: %+v", o)
	}

	start := time.Now()
	o = run(nil, time.Second, "sleep", "30")
	if !o.TimedOut || o.Describe() != "timed out" || time.Since(start) > 15*time.Second {
		t.Errorf("sleep 30 with a 1s timeout: %s after %s", o.Describe(), time.Since(start))
	}

	o = run(nil, time.Minute, "./no-such-benchmark")
	if o.OK() || o.ExitCode != 127 {
		t.Errorf("a missing binary: %s, want exit status 127", o.Describe())
	}

	// The guest is still in service after all that.
	o = run(nil, time.Minute, "echo", "still here")
	if string(o.Stdout) != "still here\n" {
		t.Errorf("after the tests the guest answers %q", o.Stdout)
	}
}

// TestQEMUSystemFailuresAreInfrastructure: a kernel that panics at boot,
// a guest that panics during a run, a boot that takes too long and a
// missing QEMU are all *InfraErrors (never a result of the command), fast,
// with the reason; and Cleanup leaves no QEMU behind.
func TestQEMUSystemFailuresAreInfrastructure(t *testing.T) {
	ctx := context.Background()
	t.Run("kernel panics at boot", func(t *testing.T) {
		t.Parallel()
		q := bootGuest(t, "armv8", nil, func(q *QEMUSystem) { q.KernelArgs = "rdinit=/no-such-init root=/dev/nonexistent" })
		start := time.Now()
		err := q.Prepare(ctx)
		var ie *InfraError
		var be *BootError
		if !errors.As(err, &ie) || !errors.As(err, &be) || !strings.Contains(be.Reason, "kernel panic") {
			t.Fatalf("Prepare: %v, want an InfraError wrapping a kernel-panic BootError", err)
		}
		if d := time.Since(start); d > 30*time.Second {
			t.Errorf("the panic took %s to notice", d)
		}
		if _, ok := q.Boot(); ok {
			t.Error("Boot says ok after a failed boot")
		}
		if _, err := q.Run(ctx, Spec{Argv: []string{"true"}}); !errors.As(err, &ie) {
			t.Errorf("Run after a failed boot: %v", err)
		}
	})
	t.Run("guest panics during a run", func(t *testing.T) {
		t.Parallel()
		q := bootGuest(t, "armv8", nil, nil)
		if err := q.Prepare(ctx); err != nil {
			t.Fatal(err)
		}
		pid := q.vm.cmd.Process.Pid
		_, err := q.Run(ctx, Spec{Name: "sysrq", Argv: []string{"/bin/sh", "-c", "echo c > /proc/sysrq-trigger"}, Timeout: time.Minute})
		var ie *InfraError
		var ge *GuestError
		if !errors.As(err, &ie) || !errors.As(err, &ge) || !strings.HasPrefix(ge.Reason, "kernel panic: Kernel panic - not syncing: sysrq triggered crash") {
			t.Fatalf("a panic during a run: %v, want an InfraError wrapping a GuestError with the kernel's panic line", err)
		}
		if _, err := q.Run(ctx, Spec{Argv: []string{"true"}}); !errors.As(err, &ie) || !errors.As(err, &ge) || !strings.Contains(ge.Reason, "died earlier: kernel panic") {
			t.Errorf("Run after the guest died: %v", err)
		}
		if err := syscall.Kill(pid, 0); err == nil {
			t.Errorf("QEMU (pid %d) still running after the guest panicked", pid)
		}
	})
	t.Run("boot timeout", func(t *testing.T) {
		t.Parallel()
		q := bootGuest(t, "armv7", nil, func(q *QEMUSystem) { q.BootTimeout = 200 * time.Millisecond })
		err := q.Prepare(ctx)
		var be *BootError
		if !errors.As(err, &be) || !strings.Contains(be.Reason, "no boot within 200ms") {
			t.Fatalf("Prepare: %v, want a boot timeout", err)
		}
	})
	t.Run("no QEMU", func(t *testing.T) {
		q := bootGuest(t, "armv8", nil, func(q *QEMUSystem) { q.QEMU = "qemu-system-tcbot-none" })
		err := q.Prepare(ctx)
		var ie *InfraError
		if !errors.As(err, &ie) || !strings.Contains(err.Error(), "qemu-system-tcbot-none not found") {
			t.Fatalf("Prepare: %v", err)
		}
	})
	t.Run("cleanup kills QEMU", func(t *testing.T) {
		t.Parallel()
		q := bootGuest(t, "armv8", nil, nil)
		if err := q.Prepare(ctx); err != nil {
			t.Fatal(err)
		}
		pid := q.vm.cmd.Process.Pid
		tmp := q.tmp
		if err := q.Cleanup(); err != nil {
			t.Fatal(err)
		}
		if err := q.Cleanup(); err != nil {
			t.Errorf("second Cleanup: %v", err)
		}
		if err := syscall.Kill(pid, 0); err == nil {
			t.Errorf("QEMU (pid %d) still running after Cleanup", pid)
		}
		if _, err := os.Stat(tmp); !os.IsNotExist(err) {
			t.Errorf("scratch directory %s left: %v", tmp, err)
		}
		if _, err := q.Run(ctx, Spec{Argv: []string{"true"}}); err == nil {
			t.Error("Run after Cleanup succeeded")
		}
	})
}

// TestRunScriptHidesMarkers: the script sent for a command never holds
// its own markers whole (so a console that echoed it could not fake an
// answer).
func TestRunScriptHidesMarkers(t *testing.T) {
	n := "0123456789abcdef"
	s := runScript(n, Spec{Argv: []string{"./x"}, Env: []string{"A=1"}}, time.Second)
	for _, m := range []string{"OUT", "ERR", "END"} {
		if strings.Contains(s, fmt.Sprintf("@@TCBOT-%s-%s", n, m)) {
			t.Errorf("script holds the %s marker whole", m)
		}
	}
	if strings.Contains(serveTail, serveMarker) || strings.Contains(serveTail, "@@TCBOT-") {
		t.Error("the command loop holds a marker whole")
	}
}

// TestQEMUSystemClockCountsInstructions: by default the guest's clock
// counts instructions (-icount), so the same computation takes the same
// in-guest time on every run, whatever the host is doing meanwhile; and
// twice the work takes about twice the time.
func TestQEMUSystemClockCountsInstructions(t *testing.T) {
	q := bootGuest(t, "armv8", nil, nil)
	ctx := context.Background()
	if err := q.Prepare(ctx); err != nil {
		t.Fatal(err)
	}
	spin := func(n int) time.Duration {
		t.Helper()
		o, err := q.Run(ctx, Spec{Name: "spin", Argv: []string{"/bin/sh", "-c", fmt.Sprintf("i=0; while [ $i -lt %d ]; do i=$((i+1)); done", n)}, Timeout: time.Minute})
		if err != nil || !o.OK() {
			t.Fatalf("spin: %v %+v", err, o)
		}
		return o.Wall
	}
	lo, hi := time.Duration(math.MaxInt64), time.Duration(0)
	for i := 0; i < 5; i++ {
		w := spin(20000)
		lo, hi = min(lo, w), max(hi, w)
	}
	if float64(hi) > 1.01*float64(lo) {
		t.Errorf("the same work took %s to %s on the guest's clock: want within 1%%", lo, hi)
	}
	if d := spin(40000); float64(d) < 1.8*float64(lo) || float64(d) > 2.2*float64(hi) {
		t.Errorf("twice the work took %s, once %s-%s", d, lo, hi)
	}
	t.Logf("20000 shell iterations: %s to %s in the guest", lo, hi)
}
