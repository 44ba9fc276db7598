// Package sshtest runs a real OpenSSH server on a loopback port for tests
// of the SSH executor: its own host key, client key, authorized_keys and
// known_hosts in a temporary directory. The host itself is the "board".
package sshtest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Board is a real sshd on 127.0.0.1 standing in for a board: this host is
// the board, so tests can look at its files and processes directly.
type Board struct {
	Port       int
	User       string
	Key        string // client private key
	KnownHosts string // holds the board's real host key
	Dir        string
}

func keygen(t testing.TB, file string) {
	t.Helper()
	if msg, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "tcbot-test", "-f", file).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, msg)
	}
}

// FreePort is a loopback port nothing listens on (for a board that is
// down, or a new server).
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Start runs sshd -D with a configuration, keys and authorized_keys
// all in a temporary directory, and waits until it accepts connections.
func Start(t testing.TB) *Board {
	t.Helper()
	const sshd = "/usr/sbin/sshd"
	if _, err := os.Stat(sshd); err != nil {
		t.Fatalf("%s missing: install openssh-server (apt-get install openssh-server; .ci/run does)", sshd)
	}
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	b := &Board{Port: FreePort(t), User: u.Username, Key: filepath.Join(dir, "client"), KnownHosts: filepath.Join(dir, "known_hosts"), Dir: dir}
	hostKey := filepath.Join(dir, "host")
	keygen(t, hostKey)
	keygen(t, b.Key)
	pub, err := os.ReadFile(b.Key + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	auth := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(auth, pub, 0o600); err != nil {
		t.Fatal(err)
	}
	hostPub, err := os.ReadFile(hostKey + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(b.KnownHosts, []byte(fmt.Sprintf("[127.0.0.1]:%d %s", b.Port, hostPub)), 0o600); err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(dir, "sshd_config")
	conf := fmt.Sprintf(`ListenAddress 127.0.0.1
Port %d
HostKey %s
AuthorizedKeysFile %s
PidFile %s
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
MaxSessions 100
MaxStartups 100
`, b.Port, hostKey, auth, filepath.Join(dir, "sshd.pid"))
	if err := os.WriteFile(config, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	// sshd needs its privilege-separation directory.
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	cmd := exec.Command(sshd, "-D", "-e", "-f", config)
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("sshd log:\n%s", log.String())
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(b.Port)), time.Second)
		if err == nil {
			c.Close()
			return b
		}
		select {
		case err := <-exited:
			t.Fatalf("sshd exited: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("sshd not listening on %d after 10s", b.Port)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
