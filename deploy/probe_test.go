package deploy

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"
)

// probePaths are the paths health checks in deploy/ may use;
// TestProbePathsAnswer checks that a running tcbot answers them.
var probePaths = []string{"/healthz"}

// TestProbePathsAnswer starts the real `tcbot serve` (SQLite, no GitHub, a
// free loopback port), requests every probe path and /metrics, and checks
// that SIGTERM stops it cleanly: what the systemd units, the image's
// HEALTHCHECK and the Kubernetes probes rely on.
func TestProbePathsAnswer(t *testing.T) {
	bin := tcbotBinary(t)
	dir := t.TempDir()
	cfg := fmt.Sprintf(`database: sqlite://%[1]s/tcbot.db
workdir: %[1]s/work
listen: 127.0.0.1:0
plugin: %[1]s/insncount.so
repos:
  - {name: toolchain, url: %[1]s/toolchain.git}
targets:
  - {name: armv8-qemu, arch: armv8, executor: qemu-user}
`, dir)
	path := filepath.Join(dir, "tcbot.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "serve", "--config", path, "--drain", "5s")
	cmd.WaitDelay = 5 * time.Second
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	addr := make(chan string, 1)
	logs := make(chan string, 1)
	go func() {
		re := regexp.MustCompile(`serving on (http://\S+)`)
		var all []byte
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			all = append(all, sc.Bytes()...)
			all = append(all, '\n')
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
		logs <- string(all)
	}()
	var base string
	select {
	case base = <-addr:
	case l := <-logs:
		t.Fatalf("tcbot serve exited before serving:\n%s", l)
	case <-ctx.Done():
		t.Fatal("tcbot serve did not start serving in time")
	}
	client := &http.Client{Timeout: 10 * time.Second}
	for _, p := range append(append([]string{}, probePaths...), "/metrics") {
		resp, err := client.Get(base + p)
		if err != nil {
			t.Errorf("GET %s: %v", p, err)
			continue
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %s, want 200", p, resp.Status)
		}
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var l string
	select {
	case l = <-logs: // stderr closed: tcbot exited
	case <-ctx.Done():
		t.Fatal("tcbot serve did not stop after SIGTERM")
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("tcbot serve after SIGTERM: %v, want a clean exit\n%s", err, l)
	}
}
