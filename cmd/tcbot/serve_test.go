package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"

	"github.com/tcbot/tcbot/bot/demo"
	"github.com/tcbot/tcbot/bot/forge"
	"github.com/tcbot/tcbot/bot/forge/githubtest"
	"github.com/tcbot/tcbot/bot/store/pgtest"
	"github.com/tcbot/tcbot/bot/webhook"
)

// TestMain lets the test binary act as tcbot itself, so the serve tests
// run real processes (and kill them) without building another binary.
func TestMain(m *testing.M) {
	if os.Getenv("TCBOT_TEST_AS_MAIN") == "1" {
		main()
		return
	}
	pgtest.Main(m)
}

type proc struct {
	cmd     *exec.Cmd
	logPath string
}

func (p *proc) log() string {
	data, _ := os.ReadFile(p.logPath)
	return string(data)
}

func startServe(t *testing.T, cfg string, env ...string) *proc {
	t.Helper()
	return startTcbot(t, []string{"serve", "--config", cfg, "--drain", "5s"}, env...)
}

// startTcbot runs the test binary as tcbot with args, logging to a file.
func startTcbot(t testing.TB, args []string, env ...string) *proc {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), append(env, "TCBOT_TEST_AS_MAIN=1")...)
	logFile, err := os.CreateTemp(t.TempDir(), "serve-*.log")
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, logPath: logFile.Name()}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
		data, _ := os.ReadFile(logFile.Name())
		if t.Failed() {
			t.Logf("tcbot %s log:\n%s", strings.Join(args, " "), data)
		}
	})
	return p
}

func waitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func freePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func healthy(addr string) bool {
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == 200
}

func TestServeRefusesGitHubModeWithoutSecret(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "tcbot.yaml")
	os.WriteFile(cfg, []byte(`github: {token_env: TCBOT_T_TOKEN, webhook_secret_env: TCBOT_T_SECRET}
repos: [{name: r, url: /nonexistent, github: a/b}]
targets: [{name: armv8-qemu, arch: armv8, executor: qemu-user}]
`), 0o644)
	t.Setenv("TCBOT_T_TOKEN", "x")
	code, stdout, stderr := tcbot(t, "serve", "--config", cfg)
	if code != 1 || stdout != "" || !strings.Contains(stderr, "webhook_secret_env") {
		t.Fatalf("exit %d, stderr %q: want a refusal naming webhook_secret_env", code, stderr)
	}
}

// TestServeSurvivesKill9 kills `tcbot serve` while it measures a pull
// request, starts it again, and checks the measurement completes and
// exactly one report comment is posted.
func TestServeSurvivesKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test with real processes and the real suite")
	}
	dir := t.TempDir()
	const (
		repoName = "acme/toolchain"
		token    = "ghp_crash_test_token"
		secret   = "crash-test-secret"
	)
	shas, err := demo.MakeRepo(filepath.Join(dir, "origin"), demo.Commits)
	if err != nil {
		t.Fatal(err)
	}
	r, err := git.PlainOpen(filepath.Join(dir, "origin"))
	if err != nil {
		t.Fatal(err)
	}
	// master stays at the first commit; PR 9 brings the regression.
	for name, sha := range map[string]string{"refs/heads/master": shas[0], "refs/pull/9/head": shas[2]} {
		if err := r.Storer.SetReference(plumbing.NewHashReference(plumbing.ReferenceName(name), plumbing.NewHash(sha))); err != nil {
			t.Fatal(err)
		}
	}
	gh := githubtest.New(t, token)
	gh.SetPermission(repoName, "alice", "write")
	gh.AddPull(repoName, forge.PR{Number: 9, HeadSHA: shas[2], HeadRef: "topic", BaseRef: "master", Author: "alice", State: "open"})
	addr := freePort(t)
	cfg := filepath.Join(dir, "tcbot.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`workdir: work
listen: %s
workers: 2
github: {api_url: %s, token_env: TCBOT_CRASH_TOKEN, webhook_secret_env: TCBOT_CRASH_SECRET}
repos:
  - {name: toolchain, url: origin, branches: [master], github: %s}
targets:
  - {name: armv8-qemu, arch: armv8, executor: qemu-user}
`, addr, gh.URL(), repoName)), 0o644)
	env := []string{"TCBOT_CRASH_TOKEN=" + token, "TCBOT_CRASH_SECRET=" + secret}

	first := startServe(t, cfg, env...)
	waitFor(t, "serve to answer /healthz", 60*time.Second, func() bool { return healthy(addr) })
	body := []byte(fmt.Sprintf(`{"action":"opened","number":9,"pull_request":{"number":9,"state":"open","draft":false,
		"head":{"sha":"%s","ref":"topic"},"base":{"sha":"%s","ref":"master"},"user":{"login":"alice"},"author_association":"MEMBER"},
		"repository":{"full_name":"%s"},"sender":{"login":"alice"}}`, shas[2], shas[0], repoName))
	status, reply, _, err := webhook.Send(context.Background(), "http://"+addr+"/webhook", []byte(secret), "pull_request", body)
	if err != nil || status != http.StatusAccepted {
		t.Fatalf("delivery: %d %q %v", status, reply, err)
	}
	// Kill -9 in the middle of the build.
	waitFor(t, "the measurement to be building", 60*time.Second, func() bool {
		m, _ := filepath.Glob(filepath.Join(dir, "work", "build", "*", "*.tmp-*", "bin", "*"))
		return len(m) > 0
	})
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	first.cmd.Wait()
	if n := len(gh.Comments(repoName, 9)); n != 0 {
		t.Fatalf("%d comments before the measurement finished", n)
	}

	second := startServe(t, cfg, env...)
	waitFor(t, "the report after the restart", 120*time.Second, func() bool {
		for _, c := range gh.Comments(repoName, 9) {
			if strings.Contains(c.Body, "<!-- tcbot:report -->") {
				return true
			}
		}
		return false
	})
	// Let anything that would double-post have its chance, then check.
	waitFor(t, "the commit status", 30*time.Second, func() bool {
		st, ok := gh.LatestStatus(repoName, shas[2], "tcbot/armv8-qemu")
		return ok && st.State == "failure"
	})
	if err := second.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := second.cmd.Wait(); err != nil {
		t.Errorf("serve did not drain cleanly on SIGTERM: %v", err)
	}
	if !strings.Contains(second.log(), "recovered jobs a crash left running") {
		t.Error("the restarted serve did not recover the job the kill left running")
	}
	if strings.Contains(first.log()+second.log(), token) || strings.Contains(first.log()+second.log(), secret) {
		t.Error("a secret reached the log")
	}
	cs := gh.Comments(repoName, 9)
	if len(cs) != 1 || !strings.Contains(cs[0].Body, "regression") {
		t.Fatalf("after kill -9 and restart: %d comments, want exactly one report of the regression", len(cs))
	}
}
