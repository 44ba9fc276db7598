package executor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tcbot/tcbot/bot/executor/sshtest"
)

// board is the sshd stand-in (sshtest.Board) with an executor for it.
type board struct{ *sshtest.Board }

func startBoard(t *testing.T) *board { return &board{sshtest.Start(t)} }

// ssh returns an executor for the board with a load limit no CI machine
// reaches, so only the busy-board test sees a busy board.
func (b *board) ssh() *SSH {
	return &SSH{Host: "127.0.0.1", Port: b.Port, User: b.User, KeyFile: b.Key, KnownHosts: b.KnownHosts, MaxLoad: 1000, Dial: 5 * time.Second}
}

func prepared(t *testing.T, s *SSH) *SSH {
	t.Helper()
	if err := s.Prepare(context.Background()); err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Cleanup(); err != nil {
			t.Errorf("Cleanup: %v", err)
		}
	})
	return s
}

const helloProg = `#include <stdio.h>
int main(int argc, char **argv) {
	printf("hello from aarch64, %d args, last %s\n", argc, argv[argc-1]);
	return 0;
}
`

func TestSSHRuns(t *testing.T) {
	b := startBoard(t)
	bin := t.TempDir()
	crossCompile(t, "aarch64-linux-gnu-gcc", bin, "hello", helloProg)
	aarch64 := b.ssh()
	aarch64.RunWrapper = []string{"qemu-aarch64", "-cpu", "cortex-a57"}
	aarch64.Files = []string{filepath.Join(bin, "hello")}
	prepared(t, aarch64)
	plain := prepared(t, b.ssh())

	for _, tc := range []struct {
		name       string
		ex         *SSH
		argv, env  []string
		wantStdout string
		wantExit   int
	}{
		{"uploaded aarch64 binary under qemu", aarch64, []string{"./hello", "x", "board"}, []string{"LC_ALL=C"}, "hello from aarch64, 3 args, last board\n", 0},
		{"environment is exactly the spec's", plain, []string{"/usr/bin/env"}, []string{"A=1", "B=two words", "C="}, "A=1\nB=two words\nC=\n", 0},
		{"argument with spaces and quotes arrives intact", plain, []string{"/usr/bin/printf", "%s|", `it's "quoted"  twice`, "$HOME", "*", "a\\b;c", ""}, nil, `it's "quoted"  twice|$HOME|*|a\b;c||`, 0},
		{"exit 3 is an outcome", plain, []string{"/bin/sh", "-c", "echo broken >&2; exit 3"}, nil, "", 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := tc.ex.Run(context.Background(), Spec{Name: tc.name, Argv: tc.argv, Env: tc.env, Timeout: time.Minute})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if got := string(o.Stdout); got != tc.wantStdout {
				t.Errorf("stdout = %q, want %q (stderr %q)", got, tc.wantStdout, o.Stderr)
			}
			if o.ExitCode != tc.wantExit || o.Signal != "" || o.TimedOut {
				t.Errorf("outcome %+v (%s), want exit status %d", o, o.Describe(), tc.wantExit)
			}
			if o.Wall <= 0 {
				t.Errorf("wall time %s", o.Wall)
			}
		})
	}

	t.Run("a crash is a signal, not success", func(t *testing.T) {
		o, err := plain.Run(context.Background(), Spec{Name: "segv", Argv: []string{"/bin/sh", "-c", "kill -SEGV $$"}, Timeout: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		if o.OK() || o.Signal != "SEGV" || o.ExitCode != -1 {
			t.Errorf("outcome %+v (%s), want killed by SEGV", o, o.Describe())
		}
	})

	t.Run("timeout kills the remote command and returns promptly", func(t *testing.T) {
		marker := fmt.Sprintf("%d.%03d", 60+os.Getpid()%1000, time.Now().Nanosecond()/1e6)
		start := time.Now()
		o, err := plain.Run(context.Background(), Spec{Name: "hang", Argv: []string{"/bin/sleep", marker}, Timeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if !o.TimedOut || o.Describe() != "timed out" {
			t.Errorf("outcome %+v, want timed out", o)
		}
		if el := time.Since(start); el > 5*time.Second {
			t.Errorf("took %s to return after a 1s timeout", el)
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			out, _ := exec.Command("pgrep", "-f", "sleep "+marker).Output()
			if len(strings.TrimSpace(string(out))) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("remote sleep %s survived the timeout: pids %s", marker, out)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})

	t.Run("cancellation is an infrastructure error", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		o, err := plain.Run(ctx, Spec{Name: "sleep", Argv: []string{"/bin/sleep", "60"}, Timeout: time.Minute})
		var ie *InfraError
		if !errors.As(err, &ie) {
			t.Fatalf("err = %v, want InfraError", err)
		}
		if o != nil && o.TimedOut {
			t.Errorf("a cancelled run must not be reported as timed out: %+v", o)
		}
	})
}

func TestSSHPrepareRefuses(t *testing.T) {
	b := startBoard(t)
	other := filepath.Join(t.TempDir(), "other")
	if msg, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "tcbot-test", "-f", other).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, msg)
	}
	otherPub, err := os.ReadFile(other + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	wrongKnown := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(wrongKnown, []byte(fmt.Sprintf("[127.0.0.1]:%d %s", b.Port, otherPub)), 0o600); err != nil {
		t.Fatal(err)
	}
	emptyKnown := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(emptyKnown, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	// A listener that accepts and never speaks: the handshake must give
	// up after Dial.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()

	for _, tc := range []struct {
		name   string
		change func(*SSH)
		want   []string
	}{
		{"host key does not match known_hosts", func(s *SSH) { s.KnownHosts = wrongKnown }, []string{"host key", "ssh-keyscan"}},
		{"unknown host", func(s *SSH) { s.KnownHosts = emptyKnown }, []string{"host key", "ssh-keyscan"}},
		{"no known_hosts file set", func(s *SSH) { s.KnownHosts = "" }, []string{"known_hosts"}},
		{"unreachable board", func(s *SSH) { s.Port = sshtest.FreePort(t) }, []string{"connect"}},
		{"board that never answers", func(s *SSH) { s.Port = silent.Addr().(*net.TCPAddr).Port }, []string{"handshake"}},
		{"busy board", func(s *SSH) { s.MaxLoad = -1 }, []string{"board busy: load"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := b.ssh()
			s.Dial = 500 * time.Millisecond
			tc.change(s)
			start := time.Now()
			err := s.Prepare(context.Background())
			el := time.Since(start)
			var ie *InfraError
			if !errors.As(err, &ie) {
				t.Fatalf("Prepare: err = %v, want an InfraError", err)
			}
			t.Logf("Prepare: %v", err)
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if el > 3*time.Second {
				t.Errorf("Prepare took %s to fail with a 500ms dial timeout", el)
			}
			if strings.Contains(err.Error(), "PRIVATE KEY") {
				t.Errorf("error leaks the private key: %v", err)
			}
			for range 2 {
				if err := s.Cleanup(); err != nil {
					t.Errorf("Cleanup after a failed Prepare: %v", err)
				}
			}
			if _, err := s.Run(context.Background(), Spec{Argv: []string{"/bin/true"}}); err == nil {
				t.Error("Run after a failed Prepare succeeded")
			}
		})
	}
}

func TestSSHCleanupRemovesWorkDir(t *testing.T) {
	b := startBoard(t)
	s := b.ssh()
	if err := s.Cleanup(); err != nil {
		t.Fatalf("Cleanup before Prepare: %v", err)
	}
	s.RemoteDir = filepath.Join(b.Dir, "remote")
	s.Files = []string{b.Key + ".pub"}
	if err := s.Prepare(context.Background()); err != nil {
		t.Fatal(err)
	}
	dir := s.WorkDir()
	if !strings.HasPrefix(dir, s.RemoteDir+"/") {
		t.Errorf("working directory %q is not under RemoteDir %q", dir, s.RemoteDir)
	}
	st, err := os.Stat(filepath.Join(dir, "client.pub"))
	if err != nil || st.Mode().Perm() != 0o755 {
		t.Errorf("uploaded file: %v, mode %v; want mode 0755", err, st)
	}
	if _, err := s.Run(context.Background(), Spec{Name: "true", Argv: []string{"/bin/true"}, Timeout: time.Minute}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := s.Cleanup(); err != nil {
			t.Fatalf("Cleanup: %v", err)
		}
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("working directory %s still there after Cleanup (%v)", dir, err)
	}
	if _, err := os.Stat(s.RemoteDir); err != nil {
		t.Errorf("Cleanup removed RemoteDir itself: %v", err)
	}
}

func TestSSHCheckReportsBoard(t *testing.T) {
	b := startBoard(t)
	report, err := Check(context.Background(), b.ssh())
	if err != nil {
		t.Fatalf("Check: %v\n%s", err, report)
	}
	arch, err := exec.Command("uname", "-m").Output()
	if err != nil {
		t.Fatal(err)
	}
	wantPerf := "perf: no"
	if exec.Command("sh", "-c", "perf stat -x, -e instructions:u,cycles:u -o /dev/null -- true").Run() == nil {
		wantPerf = "perf: yes"
	}
	for _, w := range []string{"arch: " + strings.TrimSpace(string(arch)), "kernel: ", wantPerf, "load: "} {
		if !strings.Contains(report, w) {
			t.Errorf("report does not say %q:\n%s", w, report)
		}
	}

	busy := b.ssh()
	busy.MaxLoad = -1
	report, err = Check(context.Background(), busy)
	if err == nil || !strings.Contains(report, "BUSY") {
		t.Errorf("Check of a busy board: err %v, report:\n%s", err, report)
	}
}

// TestSSHOverhead measures what a sample costs over SSH against running
// the same command locally; run with -v to see the numbers.
func TestSSHOverhead(t *testing.T) {
	b := startBoard(t)
	s := prepared(t, b.ssh())
	const n = 20
	median := func(run func() time.Duration) time.Duration {
		d := make([]time.Duration, n)
		for i := range d {
			d[i] = run()
		}
		slices.Sort(d)
		return (d[n/2-1] + d[n/2]) / 2
	}
	spec := Spec{Name: "true", Argv: []string{"/bin/true"}, Timeout: time.Minute}
	var wall []time.Duration
	remote := median(func() time.Duration {
		start := time.Now()
		o, err := s.Run(context.Background(), spec)
		if err != nil || !o.OK() {
			t.Fatalf("Run: %v %+v", err, o)
		}
		wall = append(wall, o.Wall)
		return time.Since(start)
	})
	slices.Sort(wall)
	local := median(func() time.Duration {
		start := time.Now()
		if _, err := NewLocal().Run(context.Background(), spec); err != nil {
			t.Fatal(err)
		}
		return time.Since(start)
	})
	// A bare session, to tell the cost of SSH from the cost of the wrapping.
	session := median(func() time.Duration {
		start := time.Now()
		if _, err := remoteOutput(context.Background(), s.client, "/bin/true", nil); err != nil {
			t.Fatal(err)
		}
		return time.Since(start)
	})
	t.Logf("/bin/true, median of %d: ssh Run %s (Outcome.Wall %s, perf %v), bare ssh session %s, local Run %s", n, remote, (wall[n/2-1]+wall[n/2])/2, s.perf, session, local)
}
