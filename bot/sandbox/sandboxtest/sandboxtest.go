// Package sandboxtest sets up, for tests, what a hostile pull request
// must not reach — tcbot's secrets in its environment and in files, its
// database, ~/.ssh, another job's build directory, listeners on loopback —
// and builds and checks the probe (bot/sandbox/testdata/probe.c) that
// tries to reach them.
package sandboxtest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// Canary is the secret value planted everywhere.
const Canary = "tcbot-canary-7f3a9c2e"

// Host is the planted environment.
type Host struct {
	// Reads are files holding the canary: the token file, the webhook
	// secret file, the database, ~/.ssh/id_ed25519, another job's file.
	Reads []string
	// Writes are host paths the probe tries to create.
	Writes []string
	// Ports are loopback TCP listeners (tcbot's own and another).
	Ports []int
	// Dir holds the planted files; OtherJob is another job's build
	// directory.
	Dir, OtherJob string
	// PID is a process holding the secrets in its environment, as
	// tcbot's does.
	PID int
}

// NewHost plants secrets: TCBOT_GITHUB_TOKEN and TCBOT_WEBHOOK_SECRET in
// this process's environment, HOME moved to a directory with .ssh, files,
// and two listeners, all undone when the test ends. Extra files to
// protect (a database) can be added to Reads.
func NewHost(t testing.TB, extraReads ...string) *Host {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("TCBOT_GITHUB_TOKEN", Canary+"-token")
	t.Setenv("TCBOT_WEBHOOK_SECRET", Canary+"-secret")
	home := filepath.Join(dir, "home")
	t.Setenv("HOME", home)
	h := &Host{Dir: dir, OtherJob: filepath.Join(dir, "work", "build", "other-job")}
	plant := func(path string) string {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(Canary+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	h.Reads = []string{
		plant(filepath.Join(dir, "secrets", "github-token")),
		plant(filepath.Join(dir, "secrets", "webhook-secret")),
		plant(filepath.Join(dir, "work", "tcbot.db")),
		plant(filepath.Join(home, ".ssh", "id_ed25519")),
		plant(filepath.Join(h.OtherJob, "bin", "sha256")),
	}
	h.Reads = append(h.Reads, extraReads...)
	// A stand-in for tcbot's process, started with the secrets in its
	// environment as tcbot is (this test's own /proc/PID/environ shows
	// the environment it was started with, without them).
	standIn := exec.Command("sleep", "600")
	standIn.Env = append(os.Environ(), "TCBOT_GITHUB_TOKEN="+Canary+"-token", "TCBOT_WEBHOOK_SECRET="+Canary+"-secret")
	if err := standIn.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { standIn.Process.Kill(); standIn.Wait() })
	h.PID = standIn.Process.Pid
	// Another job's directory is the sandbox user's too, as it would be.
	_ = os.Chmod(h.OtherJob, 0o755)
	for i := 0; i < 2; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
		h.Ports = append(h.Ports, ln.Addr().(*net.TCPAddr).Port)
	}
	h.Writes = []string{
		filepath.Join(os.TempDir(), fmt.Sprintf("tcbot-escape-%d-%d", os.Getpid(), len(dir))),
		filepath.Join(dir, "work", "escape"),
		filepath.Join(h.OtherJob, "bin", "escape"),
		filepath.Join(home, "escape"),
		"/usr/tcbot-escape",
	}
	t.Cleanup(h.RemoveEscapes)
	return h
}

// AddRead adds a file that must stay unread (it must hold the canary).
func (h *Host) AddRead(path string) { h.Reads = append(h.Reads, path) }

// RemoveEscapes removes whatever an unsandboxed probe wrote.
func (h *Host) RemoveEscapes() {
	for _, p := range h.Writes {
		os.Remove(p)
	}
}

// Source is the probe's C source ($TCBOT_TEST_PROBE_SOURCE, for a test
// rerun as another user who cannot read the checkout).
func Source() string {
	if p := os.Getenv("TCBOT_TEST_PROBE_SOURCE"); p != "" {
		return p
	}
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "testdata", "probe.c")
}

// BuildProbe compiles the probe statically with cc (the host's cc or a
// cross compiler) into a new directory and returns its path.
func (h *Host) BuildProbe(t testing.TB, cc string, forks int) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "probe")
	q := func(s string) string { return "-D" + s }
	args := []string{"-O1", "-static", "-o", out, Source(),
		q(fmt.Sprintf("CANARY=%q", Canary)),
		q(fmt.Sprintf("PID=%q", strconv.Itoa(h.PID))),
		q(fmt.Sprintf("READS=%q", strings.Join(h.Reads, ":"))),
		q(fmt.Sprintf("WRITES=%q", strings.Join(h.Writes, ":"))),
		q(fmt.Sprintf("PORTS=%q", joinInts(h.Ports))),
		q(fmt.Sprintf("FORKS=%q", strconv.Itoa(forks))),
	}
	if b, err := exec.Command(cc, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s probe.c: %v\n%s", cc, err, b)
	}
	if err := os.Chmod(filepath.Dir(out), 0o755); err != nil {
		t.Fatal(err)
	}
	return out
}

// Defines returns the probe's -D options, for a hostile compiler that
// builds it itself.
func (h *Host) Defines(forks int) []string {
	return []string{
		fmt.Sprintf("-DCANARY=%q", Canary),
		fmt.Sprintf("-DPID=%q", strconv.Itoa(h.PID)),
		fmt.Sprintf("-DREADS=%q", strings.Join(h.Reads, ":")),
		fmt.Sprintf("-DWRITES=%q", strings.Join(h.Writes, ":")),
		fmt.Sprintf("-DPORTS=%q", joinInts(h.Ports)),
		fmt.Sprintf("-DFORKS=%q", strconv.Itoa(forks)),
	}
}

func joinInts(ns []int) string {
	var s []string
	for _, n := range ns {
		s = append(s, strconv.Itoa(n))
	}
	return strings.Join(s, ":")
}

// Parse reads the probe's "PROBE k=v ..." line from output (the last one).
func Parse(output string) map[string]string {
	got := map[string]string{}
	i := strings.LastIndex(output, "PROBE ")
	if i < 0 {
		return got
	}
	line, _, _ := strings.Cut(output[i+len("PROBE "):], "\n")
	for _, f := range strings.Fields(line) {
		if k, v, ok := strings.Cut(f, "="); ok {
			got[k] = v
		}
	}
	return got
}

// Check asserts that the probe, whose output is given, reached nothing:
// no secret in its environment or in any /proc, no planted file read, no
// listener reached, at most maxForks processes, and nothing written on
// the host outside its directory. It returns the parsed report.
func (h *Host) Check(t testing.TB, output string, maxForks int) map[string]string {
	t.Helper()
	got := Parse(output)
	if len(got) == 0 {
		t.Fatalf("the probe reported nothing; its output:\n%s", output)
	}
	want := func(key string, ok ...string) {
		t.Helper()
		for _, o := range ok {
			if got[key] == o {
				return
			}
		}
		t.Errorf("probe %s = %q, want one of %q (output: %s)", key, got[key], ok, strings.TrimSpace(output))
	}
	want("env", "clean")
	want("tcbotproc", "absent", "denied")
	want("parentproc", "absent", "denied", "clean")
	want("procenv", "clean")
	for i := range h.Reads {
		want(fmt.Sprintf("read%d", i), "absent", "denied")
	}
	for i := range h.Ports {
		want(fmt.Sprintf("tcp%d", i), "refused")
	}
	if n, err := strconv.Atoi(got["forks"]); err != nil || n >= 10000 || n > maxForks {
		t.Errorf("the probe started %q processes, want fewer than %d", got["forks"], maxForks)
	}
	for i, p := range h.Writes {
		if data, err := os.ReadFile(p); err == nil {
			t.Errorf("the probe wrote %s on the host (write%d=%s): %q", p, i, got[fmt.Sprintf("write%d", i)], data)
		}
		// Inside the sandbox /tmp is its own: a write there may succeed
		// without reaching the host's.
		if !strings.HasPrefix(p, os.TempDir()+"/tcbot-escape-") {
			want(fmt.Sprintf("write%d", i), "denied")
		}
	}
	return got
}
