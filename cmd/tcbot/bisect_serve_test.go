package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
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
	"github.com/tcbot/tcbot/bot/store"
	"github.com/tcbot/tcbot/bot/webhook"
)

// TestBisectionSurvivesKill9 kills `tcbot serve` while a /tcbot bisect
// of a pull request is measuring a commit, starts it again, and checks
// the bisection resumes, names the culprit and is reported exactly once.
func TestBisectionSurvivesKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test with real processes and the real suite")
	}
	dir := t.TempDir()
	const (
		repoName = "acme/toolchain"
		token    = "ghp_bisect_crash_token"
		secret   = "bisect-crash-secret"
	)
	commits := []demo.Commit{
		demo.Commits[0],
		{Subject: "docs: one", Files: map[string]string{"README": "one\n"}},
		demo.Commits[2], // the regression
		{Subject: "docs: two", Files: map[string]string{"README": "two\n"}},
		{Subject: "docs: three", Files: map[string]string{"README": "three\n"}},
	}
	shas, err := demo.MakeRepo(filepath.Join(dir, "origin"), commits)
	if err != nil {
		t.Fatal(err)
	}
	r, err := git.PlainOpen(filepath.Join(dir, "origin"))
	if err != nil {
		t.Fatal(err)
	}
	for name, sha := range map[string]string{"refs/heads/master": shas[0], "refs/pull/9/head": shas[4]} {
		if err := r.Storer.SetReference(plumbing.NewHashReference(plumbing.ReferenceName(name), plumbing.NewHash(sha))); err != nil {
			t.Fatal(err)
		}
	}
	gh := githubtest.New(t, token)
	gh.SetPermission(repoName, "alice", "write")
	gh.SetCommitAuthor(repoName, shas[2], "alice")
	gh.AddPull(repoName, forge.PR{Number: 9, HeadSHA: shas[4], HeadRef: "topic", BaseRef: "master", Author: "alice", State: "open"})
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
	send := func(event string, body string) {
		t.Helper()
		status, reply, _, err := webhook.Send(context.Background(), "http://"+addr+"/webhook", []byte(secret), event, []byte(body))
		if err != nil || status != http.StatusAccepted {
			t.Fatalf("delivery of %s: %d %q %v", event, status, reply, err)
		}
	}
	comments := func(marker string) []string {
		var out []string
		for _, c := range gh.Comments(repoName, 9) {
			if strings.Contains(c.Body, marker) {
				out = append(out, c.Body)
			}
		}
		return out
	}

	first := startServe(t, cfg, env...)
	waitFor(t, "serve to answer /healthz", 60*time.Second, func() bool { return healthy(addr) })
	send("pull_request", fmt.Sprintf(`{"action":"opened","number":9,"pull_request":{"number":9,"state":"open","draft":false,
		"head":{"sha":"%s","ref":"topic"},"base":{"sha":"%s","ref":"master"},"user":{"login":"alice"},"author_association":"MEMBER"},
		"repository":{"full_name":"%s"},"sender":{"login":"alice"}}`, shas[4], shas[0], repoName))
	waitFor(t, "the pull request's report", 180*time.Second, func() bool { return len(comments("<!-- tcbot:report -->")) == 1 })
	id := gh.AddComment(repoName, 9, "alice", "/tcbot bisect")
	send("issue_comment", fmt.Sprintf(`{"action":"created","issue":{"number":9,"pull_request":{"url":"https://api.github.com/repos/%s/pulls/9"}},
		"comment":{"id":%d,"body":"/tcbot bisect","user":{"login":"alice"},"author_association":"MEMBER"},
		"repository":{"full_name":"%s"},"sender":{"login":"alice"}}`, repoName, id, repoName))

	// Kill -9 while a probe of the bisection is being measured.
	st, err := store.Open(context.Background(), filepath.Join(dir, "work", "tcbot.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	waitFor(t, "a bisection probe to be measuring", 120*time.Second, func() bool {
		cs, err := store.ListChanges(context.Background(), st.Q(), "origin = 'bisect' AND state = 'running'", 1)
		return err == nil && len(cs) == 1
	})
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	first.cmd.Wait()
	if n := len(comments("<!-- tcbot:bisect")); n != 0 {
		t.Fatalf("%d bisection comments before the bisection finished", n)
	}

	second := startServe(t, cfg, env...)
	waitFor(t, "the bisection's result after the restart", 240*time.Second, func() bool { return len(comments("<!-- tcbot:bisect")) > 0 })
	// Let anything that would post twice have its chance.
	time.Sleep(3 * time.Second)
	if err := second.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	second.cmd.Wait()
	got := comments("<!-- tcbot:bisect")
	if len(got) != 1 {
		t.Fatalf("%d bisection comments, want exactly one:\n%s", len(got), strings.Join(got, "\n---\n"))
	}
	if !strings.Contains(got[0], "Culprit: `"+shas[2][:12]+"`") || !strings.Contains(got[0], "@alice") {
		t.Errorf("bisection comment:\n%s", got[0])
	}
	bs, err := store.ListBisections(context.Background(), st.Q(), "", 10)
	if err != nil || len(bs) != 1 || bs[0].State != store.BisectDone || !bs[0].Reported {
		t.Fatalf("bisections after the restart: %+v %v", bs, err)
	}
	if strings.Contains(first.log()+second.log(), token) {
		t.Error("a secret reached the log")
	}
}
