package executor

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestLocalRunsWithExactEnvironment(t *testing.T) {
	ex := NewLocal()
	if err := ex.Prepare(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer ex.Cleanup()
	o, err := ex.Run(context.Background(), Spec{Name: "env", Dir: t.TempDir(), Argv: []string{"/usr/bin/env"}, Env: []string{"A=1", "B=two"}, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(o.Stdout)); got != "A=1\nB=two" {
		t.Errorf("environment seen by the command = %q, want exactly A=1 and B=two", got)
	}
	if !o.OK() || o.Describe() != "ok" {
		t.Errorf("outcome %+v, want ok", o)
	}
}

func TestLocalReportsExitStatusAndStderr(t *testing.T) {
	o, err := NewLocal().Run(context.Background(), Spec{Name: "fail", Dir: t.TempDir(), Argv: []string{"/bin/sh", "-c", "echo broken >&2; exit 3"}, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatalf("a failing command is an outcome, not an infrastructure error: %v", err)
	}
	if o.ExitCode != 3 || o.OK() || o.Describe() != "exit status 3" {
		t.Errorf("outcome = %+v (%s), want exit status 3", o, o.Describe())
	}
	if strings.TrimSpace(string(o.Stderr)) != "broken" {
		t.Errorf("stderr = %q", o.Stderr)
	}
}

func TestLocalMissingCommandIsInfrastructureError(t *testing.T) {
	_, err := NewLocal().Run(context.Background(), Spec{Name: "x", Argv: []string{"no-such-compiler-tcbot"}})
	var ie *InfraError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "no-such-compiler-tcbot not found") {
		t.Fatalf("err = %v, want an InfraError naming the command", err)
	}
}

// TestTimeoutKillsTheWholeProcessGroup starts a shell that leaves a
// grandchild holding stdout open; the timeout must kill both and return
// promptly (WaitDelay), not hang on the pipe.
func TestTimeoutKillsTheWholeProcessGroup(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	start := time.Now()
	o, err := NewLocal().Run(context.Background(), Spec{
		Name: "hang", Dir: dir,
		Argv:    []string{"/bin/sh", "-c", "sleep 300 & echo $! > " + pidFile + "; trap '' TERM; wait"},
		Timeout: 500 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if !o.TimedOut || o.Describe() != "timed out" {
		t.Errorf("outcome = %+v, want timed out", o)
	}
	if el := time.Since(start); el > 10*time.Second {
		t.Errorf("took %s to return after a 500ms timeout", el)
	}
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	var pid int
	for _, c := range strings.TrimSpace(string(data)) {
		pid = pid*10 + int(c-'0')
	}
	// The grandchild must be gone (or a zombie about to be reaped by init).
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := syscall.Kill(pid, 0)
		stat, _ := os.ReadFile("/proc/" + strings.TrimSpace(string(data)) + "/stat")
		if err != nil || strings.Contains(string(stat), ") Z ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("grandchild %d survived the timeout", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestCancelIsInfrastructureNotTimeout(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(200 * time.Millisecond); cancel() }()
	o, err := NewLocal().Run(ctx, Spec{Name: "sleep", Argv: []string{"/bin/sleep", "60"}, Timeout: time.Minute})
	var ie *InfraError
	if !errors.As(err, &ie) {
		t.Fatalf("err = %v, want InfraError for a cancelled run", err)
	}
	if o == nil || o.TimedOut {
		t.Errorf("a cancelled run must not be reported as timed out: %+v", o)
	}
}

func TestOutputIsCapped(t *testing.T) {
	o, err := NewLocal().Run(context.Background(), Spec{Name: "yes", Argv: []string{"/bin/sh", "-c", "head -c 3000000 /dev/zero"}, Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Stdout) > OutputLimit+100 || !strings.HasSuffix(string(o.Stdout), "[output truncated by tcbot]\n") {
		t.Errorf("stdout is %d bytes, want at most %d and a truncation mark", len(o.Stdout), OutputLimit)
	}
}

func TestCleanupIsSafeTwiceAndWithoutPrepare(t *testing.T) {
	q := &QEMUUser{QEMU: "qemu-aarch64", CPU: "cortex-a57", Plugin: "/nonexistent.so"}
	if err := q.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if err := q.Prepare(context.Background()); err == nil {
		t.Fatal("Prepare with a missing plugin succeeded")
	} else if !strings.Contains(err.Error(), "plugin") {
		t.Errorf("error %q does not name the plugin", err)
	}
	if err := q.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if err := q.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Run(context.Background(), Spec{Argv: []string{"./x"}}); err == nil {
		t.Error("Run after a failed Prepare succeeded")
	}
}

func TestQEMUMissingEmulator(t *testing.T) {
	q := &QEMUUser{QEMU: "qemu-tcbot-nonexistent", CPU: "cortex-a57", Plugin: "/dev/null"}
	err := q.Prepare(context.Background())
	if err == nil || !strings.Contains(err.Error(), "install qemu-user") {
		t.Fatalf("err = %v, want advice to install qemu-user", err)
	}
}

// buildPlugin compiles the instruction-counting plugin for the tests.
func buildPlugin(t *testing.T) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "insncount.so")
	cmd := exec.Command("gcc", "-O2", "-shared", "-fPIC", "-fvisibility=hidden", "-o", out, "../../benchmarks/plugin/insncount.c")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build plugin: %v\n%s", err, msg)
	}
	return out
}

func crossCompile(t *testing.T, cc, dir, name, src string) {
	t.Helper()
	if _, err := exec.LookPath(cc); err != nil {
		t.Fatalf("%s not installed: run make deps", cc)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".c"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(cc, "-O2", "-static", "-o", name, name+".c")
	cmd.Dir = dir
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cc, err, msg)
	}
}

const loopProg = `#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv) {
	volatile unsigned long s = 0;
	long n = argc > 1 ? atol(argv[1]) : 1000;
	for (long i = 0; i < n; i++) s += i;
	printf("checksum: %016lx\n", s);
	if (argc > 2) abort();
	return 0;
}
`

func TestQEMUUserCountsAreExactAndRepeatable(t *testing.T) {
	plugin := buildPlugin(t)
	for _, tc := range []struct{ arch, qemu, cpu, cc string }{
		{"armv7", "qemu-arm", "cortex-a15", "arm-linux-gnueabihf-gcc"},
		{"armv8", "qemu-aarch64", "cortex-a57", "aarch64-linux-gnu-gcc"},
	} {
		t.Run(tc.arch, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			crossCompile(t, tc.cc, dir, "loop", loopProg)
			q := &QEMUUser{QEMU: tc.qemu, CPU: tc.cpu, Plugin: plugin}
			if err := q.Prepare(context.Background()); err != nil {
				t.Fatal(err)
			}
			defer q.Cleanup()
			run := func(n string, extra ...string) *Outcome {
				o, err := q.Run(context.Background(), Spec{Name: "loop", Dir: dir, Argv: append([]string{"./loop", n}, extra...), Env: []string{"LC_ALL=C"}, Timeout: time.Minute})
				if err != nil {
					t.Fatal(err)
				}
				return o
			}
			a, b, c := run("100000"), run("100000"), run("200000")
			if !a.OK() || !a.HasCounts || a.Instructions == 0 {
				t.Fatalf("run: %+v", a)
			}
			if a.Instructions != b.Instructions {
				t.Errorf("same binary, same input: %d then %d instructions", a.Instructions, b.Instructions)
			}
			if d := c.Instructions - a.Instructions; d < 2*100000 || d > 20*100000 {
				t.Errorf("100000 more iterations added %d instructions, want 2-20 per iteration", d)
			}
			if !strings.Contains(string(a.Stdout), "checksum: ") {
				t.Errorf("stdout = %q", a.Stdout)
			}
			crash := run("10", "abort")
			if crash.OK() || crash.Signal == "" && crash.ExitCode == 0 {
				t.Errorf("an aborting guest must not be ok: %+v", crash)
			}
		})
	}
}
