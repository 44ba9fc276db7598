package sandbox_test

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tcbot/tcbot/bot/sandbox"
	"github.com/tcbot/tcbot/bot/sandbox/sandboxtest"
)

// TestHostileProgram runs the probe in a sandbox with tcbot's secrets in
// the environment and in files beside it, listeners on loopback and a
// second job's files, and checks from what the probe reported and from
// the host that it reached none of them.
func TestHostileProgram(t *testing.T) {
	for _, how := range []string{"init", "util-linux"} {
		t.Run(how, func(t *testing.T) {
			sb := &sandbox.Sandbox{Kind: sandbox.Bubblewrap, Processes: 200, CacheDir: t.TempDir()}
			if err := sb.Check(); err != nil {
				t.Fatal(err)
			}
			if how == "util-linux" {
				if err := sandbox.UseUtilLinux(sb); err != nil {
					t.Fatal(err)
				}
			}
			hostile(t, sb)
		})
	}
}

func hostile(t *testing.T, sb *sandbox.Sandbox) {
	h := sandboxtest.NewHost(t)
	probe := h.BuildProbe(t, "cc", 10000)

	job := t.TempDir()
	env := []string{"PATH=/usr/bin:/bin", "LC_ALL=C"}
	cmd, err := sb.Command(context.Background(), []string{probe}, env, job, []sandbox.Mount{sandbox.RO(filepath.Dir(probe)), sandbox.RW(job)})
	if err != nil {
		t.Fatal(err)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, _ := cmd.CombinedOutput()
	got := h.Check(t, string(out), 200)
	t.Logf("probe: %s", strings.TrimSpace(string(out)))
	if got["vars"] != "2" {
		t.Errorf("the probe saw %s environment variables, want exactly the 2 it was given", got["vars"])
	}
	// Its own directory is writable.
	if err := os.WriteFile(filepath.Join(job, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	ok, err := sb.Output(context.Background(), 10*time.Second, []string{"/bin/sh", "-c", "echo hi > y && cat y"}, env, job, []sandbox.Mount{sandbox.RW(job)})
	if err != nil || string(ok) != "hi\n" {
		t.Errorf("writing its own directory: %q, %v", ok, err)
	}
}

// TestWithoutSandbox shows what the probe reaches when nothing stops it,
// so the test above could fail.
func TestWithoutSandbox(t *testing.T) {
	h := sandboxtest.NewHost(t)
	probe := h.BuildProbe(t, "cc", 3)
	cmd := exec.Command(probe)
	cmd.Env = os.Environ()
	cmd.Dir = t.TempDir()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, _ := cmd.CombinedOutput()
	got := sandboxtest.Parse(string(out))
	for _, k := range []string{"env", "tcbotproc", "read0", "read1", "tcp0"} {
		if got[k] != "LEAK" && got[k] != "OPEN" {
			t.Errorf("outside a sandbox %s = %q; the probe is not probing", k, got[k])
		}
	}
	h.RemoveEscapes()
}

func TestLimitsAndErrors(t *testing.T) {
	sb := &sandbox.Sandbox{Kind: sandbox.Bubblewrap, Memory: 64 << 20}
	if err := sb.Check(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	// 64 MiB of address space: allocating 256 MiB fails.
	_, err := sb.Output(context.Background(), 20*time.Second, []string{"/usr/bin/python3", "-c", "b = bytearray(256 << 20)"}, nil, dir, []sandbox.Mount{sandbox.RW(dir)})
	if _, lookErr := exec.LookPath("python3"); lookErr == nil && err == nil {
		t.Error("a 256 MiB allocation succeeded under a 64 MiB memory limit")
	}
	if _, err := sb.Command(context.Background(), []string{"true"}, nil, "/", []sandbox.Mount{sandbox.RW("/")}); err == nil || !strings.Contains(err.Error(), "refusing") {
		t.Errorf("mounting / into a sandbox: %v", err)
	}
	if _, err := sb.Command(context.Background(), []string{"true"}, nil, dir, []sandbox.Mount{sandbox.RO("relative")}); err == nil {
		t.Error("a relative mount was accepted")
	}
	if _, err := sb.Command(context.Background(), []string{"true"}, nil, "/elsewhere", []sandbox.Mount{sandbox.RO(dir)}); err == nil {
		t.Error("a working directory outside the mounts was accepted")
	}
	// A loopback listener of the host is not reachable, even on the
	// address the sandbox's own loopback has.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if sb.Describe() == "" || !strings.Contains(sb.Describe(), "no network") {
		t.Errorf("Describe: %q", sb.Describe())
	}
	var none *sandbox.Sandbox
	if none.Enabled() || !strings.Contains(none.Describe(), "none") {
		t.Errorf("a nil sandbox: enabled %v, %q", none.Enabled(), none.Describe())
	}
}

// TestAsOrdinaryUser runs the hostile-program test again as an ordinary
// user (nobody), when the tests run as root: a tcbot that is not root gets
// the same sandbox from a user namespace.
func TestAsOrdinaryUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("already an ordinary user")
	}
	dir := t.TempDir()
	// The test's own temporary directories, made for this test alone.
	if err := os.Chmod(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o1777); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "sandbox.test")
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	// The checkout may be private: the probe's source goes along.
	src, err := os.ReadFile(sandboxtest.Source())
	if err != nil {
		t.Fatal(err)
	}
	probe := filepath.Join(dir, "probe.c")
	if err := os.WriteFile(probe, src, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run", "^TestHostileProgram$", "-test.v")
	cmd.Dir = dir
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + dir, "TMPDIR=" + dir, "XDG_CACHE_HOME=" + dir, "TCBOT_TEST_PROBE_SOURCE=" + probe}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: sandbox.NobodyID, Gid: sandbox.NobodyID}}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestHostileProgram") {
		t.Fatalf("as uid %d: %v\n%s", sandbox.NobodyID, err, out)
	}
	if strings.Contains(string(out), "SKIP") {
		t.Fatalf("as uid %d the test skipped:\n%s", sandbox.NobodyID, out)
	}
}
