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
	"github.com/tcbot/tcbot/bot/store/pgtest"
	"github.com/tcbot/tcbot/bot/webhook"
)

// TestScaleOutOnPostgres runs tcbot as it runs on many hosts: PostgreSQL,
// one `serve` that measures nothing itself, and two `worker` processes
// that each serve some targets (each with its own workdir, as on its own
// host). A pull request fans out over three targets; each target's job
// must run on a worker serving it. Then a worker is killed with SIGKILL in
// the middle of a job: the other worker serving that target must take the
// job over, and the report must be posted exactly once.
func TestScaleOutOnPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("real processes, PostgreSQL and the real suite")
	}
	dir := t.TempDir()
	const (
		repoName = "acme/toolchain"
		token    = "ghp_scale_test_token"
		secret   = "scale-test-secret"
	)
	dsn := pgtest.URL(t)
	shas, err := demo.MakeRepo(filepath.Join(dir, "origin"), demo.Commits)
	if err != nil {
		t.Fatal(err)
	}
	r, err := git.PlainOpen(filepath.Join(dir, "origin"))
	if err != nil {
		t.Fatal(err)
	}
	// master stays at the first commit; PR 9 brings the regression, PR 10
	// (from a stranger: nothing runs until a maintainer says so) the no-op.
	for name, sha := range map[string]string{"refs/heads/master": shas[0], "refs/pull/9/head": shas[2], "refs/pull/10/head": shas[1]} {
		if err := r.Storer.SetReference(plumbing.NewHashReference(plumbing.ReferenceName(name), plumbing.NewHash(sha))); err != nil {
			t.Fatal(err)
		}
	}
	gh := githubtest.New(t, token)
	gh.SetPermission(repoName, "alice", "write")
	gh.SetPermission(repoName, "mallory", "read")
	gh.AddPull(repoName, forge.PR{Number: 9, HeadSHA: shas[2], HeadRef: "topic", BaseRef: "master", Author: "alice", State: "open"})
	gh.AddPull(repoName, forge.PR{Number: 10, HeadSHA: shas[1], HeadRef: "noop", BaseRef: "master", Author: "mallory", State: "open"})

	serveAddr := freePort(t)
	config := func(name string) string {
		path := filepath.Join(dir, name+".yaml")
		os.WriteFile(path, []byte(fmt.Sprintf(`database: %s
workdir: %s
listen: %s
github: {api_url: %s, token_env: TCBOT_SCALE_TOKEN, webhook_secret_env: TCBOT_SCALE_SECRET}
repos:
  - {name: toolchain, url: %s, branches: [master], github: %s}
targets:
  - {name: armv7-qemu, arch: armv7, executor: qemu-user}
  - {name: armv8-qemu, arch: armv8, executor: qemu-user}
  - {name: armv8-a53, arch: armv8, executor: qemu-user, cpu: cortex-a53}
`, dsn, filepath.Join(dir, "work-"+name), serveAddr, gh.URL(), filepath.Join(dir, "origin"), repoName)), 0o644)
		return path
	}
	env := []string{"TCBOT_SCALE_TOKEN=" + token, "TCBOT_SCALE_SECRET=" + secret}
	live := []string{"--heartbeat", "500ms", "--dead-after", "3s"}

	serve := startTcbot(t, append([]string{"serve", "--config", config("serve"), "--targets", "none", "--drain", "5s"}, live...), env...)
	waitFor(t, "serve to answer /healthz", 60*time.Second, func() bool { return healthy(serveAddr) })
	serves := map[string][]string{"w1": {"armv7-qemu", "armv8-qemu"}, "w2": {"armv8-qemu", "armv8-a53"}}
	workers := map[string]*proc{}
	metrics := map[string]string{}
	for _, id := range []string{"w1", "w2"} {
		metrics[id] = freePort(t)
		workers[id] = startTcbot(t, append([]string{"worker", "--config", config(id), "--id", id, "--targets", strings.Join(serves[id], ","),
			"--listen", metrics[id], "--drain", "5s"}, live...), env...)
	}
	for id, addr := range metrics {
		waitFor(t, "worker "+id+" to answer /healthz", 60*time.Second, func() bool { return healthy(addr) })
	}

	st, err := store.OpenPostgres(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	deliver := func(event string, body string) {
		t.Helper()
		status, reply, _, err := webhook.Send(ctx, "http://"+serveAddr+"/webhook", []byte(secret), event, []byte(body))
		if err != nil || status != http.StatusAccepted {
			t.Fatalf("%s delivery: %d %q %v", event, status, reply, err)
		}
	}
	pullOpened := func(number int, head, author string) string {
		return fmt.Sprintf(`{"action":"opened","number":%d,"pull_request":{"number":%d,"state":"open","draft":false,
		"head":{"sha":"%s","ref":"topic"},"base":{"sha":"%s","ref":"master"},"user":{"login":"%s"}},
		"repository":{"full_name":"%s"},"sender":{"login":"%s"}}`, number, number, head, shas[0], author, repoName, author)
	}
	reports := func(pr int) int {
		n := 0
		for _, c := range gh.Comments(repoName, pr) {
			if strings.Contains(c.Body, "<!-- tcbot:report -->") {
				n++
			}
		}
		return n
	}

	// 1. Fan-out: each target's job runs on a worker that serves it.
	deliver("pull_request", pullOpened(9, shas[2], "alice"))
	waitFor(t, "the report of PR 9", 4*time.Minute, func() bool { return reports(9) == 1 })
	changes, err := store.ListChanges(ctx, st.Q(), "pr = ?", 10, 9)
	if err != nil || len(changes) != 1 {
		t.Fatalf("changes of PR 9: %v, %v", changes, err)
	}
	if c := changes[0]; c.State != store.ChangeDone || c.Verdict != "regression" {
		t.Errorf("PR 9: state %s verdict %s, want done and regression", c.State, c.Verdict)
	}
	cts, err := store.ChangeTargets(ctx, st.Q(), changes[0].ID)
	if err != nil || len(cts) != 3 {
		t.Fatalf("targets of PR 9: %+v, %v", cts, err)
	}
	for _, ct := range cts {
		if ct.State != store.TargetDone || !contains(serves[ct.Worker], ct.Target) {
			t.Errorf("target %s: state %s, measured by %q, which does not serve it", ct.Target, ct.State, ct.Worker)
		}
	}
	assertJobsRanWhereServed(t, st, serves)
	// Every target's status on the head commit is set by the report.
	for _, target := range []string{"armv7-qemu", "armv8-qemu", "armv8-a53"} {
		if s, ok := gh.LatestStatus(repoName, shas[2], "tcbot/"+target); !ok || s.State != "failure" {
			t.Errorf("status of %s: %+v, want failure (the regression)", target, s)
		}
	}

	// 2. SIGKILL a worker mid-job: the other worker serving the target
	// finishes it, and one report is posted.
	// Mallory has no write access: nothing of her pull request runs
	// until Alice approves its head; then a rerun may run it again.
	deliver("pull_request", pullOpened(10, shas[1], "mallory"))
	comment := func(body string) {
		t.Helper()
		id := gh.AddComment(repoName, 10, "alice", body)
		deliver("issue_comment", fmt.Sprintf(`{"action":"created","issue":{"number":10,"pull_request":{"url":"x"},"user":{"login":"mallory"}},
		"comment":{"id":%d,"body":%q,"user":{"login":"alice"}},"repository":{"full_name":"%s"},"sender":{"login":"alice"}}`, id, body, repoName))
	}
	comment("/tcbot ok-to-test")
	waitFor(t, "the approved head's report", 4*time.Minute, func() bool {
		cs, _ := store.ListChanges(ctx, st.Q(), "pr = ? AND reported = 1", 10, 10)
		return len(cs) == 1 && reports(10) == 1
	})
	comment("/tcbot rerun armv8-qemu")
	var victim string
	var change int64
	waitFor(t, "the rerun to be measuring", 2*time.Minute, func() bool {
		cs, _ := store.ListChanges(ctx, st.Q(), "pr = ?", 10, 10)
		for _, c := range cs {
			if !strings.HasPrefix(c.Note, "rerun") {
				continue
			}
			cts, _ := store.ChangeTargets(ctx, st.Q(), c.ID)
			for _, ct := range cts {
				if ct.Target == "armv8-qemu" && ct.State == store.TargetRunning && ct.Worker != "" {
					victim, change = ct.Worker, c.ID
					return true
				}
			}
		}
		return false
	})
	if err := workers[victim].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	workers[victim].cmd.Wait()
	killedAt := time.Now()
	survivor := map[string]string{"w1": "w2", "w2": "w1"}[victim]
	waitFor(t, "the rerun's report after the kill", 3*time.Minute, func() bool {
		c, err := store.GetChange(ctx, st.Q(), change)
		return err == nil && c.State == store.ChangeDone && c.Reported
	})
	t.Logf("killed %s mid-job; %s finished it and the report came %s after the kill", victim, survivor, time.Since(killedAt).Round(100*time.Millisecond))
	cts, err = store.ChangeTargets(ctx, st.Q(), change)
	if err != nil || len(cts) != 1 || cts[0].State != store.TargetDone || cts[0].Worker != survivor {
		for i := range cts {
			cts[i].Report = ""
		}
		t.Fatalf("rerun target after the kill: %+v, %v; want done by %s", cts, err, survivor)
	}
	waitFor(t, "the rerun to be marked reported", 30*time.Second, func() bool {
		c, err := store.GetChange(ctx, st.Q(), change)
		return err == nil && c.Reported
	})
	if c, err := store.GetChange(ctx, st.Q(), change); err != nil || c.State != store.ChangeDone || c.Verdict != "unchanged" {
		t.Errorf("rerun change: state %s verdict %s (%v); want done, unchanged", c.State, c.Verdict, err)
	}
	assertJobsRanWhereServed(t, st, serves)
	// Let anything that would double-post have its chance.
	time.Sleep(2 * time.Second)
	if n := reports(10); n != 1 {
		t.Errorf("%d report comments on PR 10, want exactly 1", n)
	}
	if n := reports(9); n != 1 {
		t.Errorf("%d report comments on PR 9, want exactly 1", n)
	}
	resp, err := http.Get("http://" + metrics[survivor] + "/metrics")
	if err == nil {
		var b strings.Builder
		buf := make([]byte, 1<<16)
		for {
			n, rerr := resp.Body.Read(buf)
			b.Write(buf[:n])
			if rerr != nil {
				break
			}
		}
		resp.Body.Close()
		if !strings.Contains(b.String(), "tcbot_jobs_worked_total{kind=\"tcbot_measure\",result=\"ok\"}") {
			t.Errorf("the survivor's /metrics shows no measure job worked:\n%.2000s", b.String())
		}
	} else {
		t.Errorf("survivor /metrics: %v", err)
	}

	// Graceful drain on SIGTERM.
	for _, p := range []*proc{workers[survivor], serve} {
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if err := p.cmd.Wait(); err != nil {
			t.Errorf("did not drain cleanly on SIGTERM: %v\n%s", err, p.log())
		}
	}
	all := serve.log() + workers["w1"].log() + workers["w2"].log()
	if strings.Contains(all, token) || strings.Contains(all, secret) {
		t.Error("a secret reached a log")
	}
}

// assertJobsRanWhereServed checks every attempt of every measurement job
// was made by a process serving the job's target.
func assertJobsRanWhereServed(t *testing.T, st *store.Store, serves map[string][]string) {
	t.Helper()
	rows, err := st.Q().Query(context.Background(), `SELECT id, queue, state, array_to_string(attempted_by, ',') FROM river_job WHERE kind = 'tcbot_measure'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var id int64
		var queue, state, by string
		if err := rows.Scan(&id, &queue, &state, &by); err != nil {
			t.Fatal(err)
		}
		target := strings.TrimPrefix(queue, "target_")
		for _, w := range strings.Split(by, ",") {
			if !contains(serves[w], target) {
				t.Errorf("measure job %d (queue %s, %s) was attempted by %q, which does not serve %s", id, queue, state, w, target)
			}
		}
		n++
	}
	if n == 0 {
		t.Error("no measurement job in the queue")
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestWorkerRefusals: a worker refuses, before touching the database,
// targets this host cannot run, and anything but PostgreSQL.
func TestWorkerRefusals(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(text), 0o644)
		return p
	}
	known := write("known_hosts", "board ssh-ed25519 AAAA\n")
	pg := write("pg.yaml", `database: postgres://tcbot@127.0.0.1:1/tcbot
repos: [{name: r, url: origin}]
targets:
  - {name: armv8-qemu, arch: armv8, executor: qemu-user}
  - {name: board, arch: armv8, executor: ssh, ssh: {host: board.lab, user: bench, key_file: missing_key, known_hosts: `+known+`}}
  - {name: lab, arch: armv8, executor: lava, lava: {url: "http://127.0.0.1:1/", token_env: TCBOT_REFUSAL_LAVA_TOKEN, device_type: qemu}}
`)
	lite := write("lite.yaml", `repos: [{name: r, url: origin}]
targets: [{name: armv8-qemu, arch: armv8, executor: qemu-user}]
`)
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"ssh key missing", []string{"worker", "--config", pg, "--targets", "armv8-qemu,board"}, []string{"cannot serve target board", "ssh.key_file", "leave board out of --targets"}},
		{"lava token missing", []string{"worker", "--config", pg, "--targets", "lab"}, []string{"cannot serve target lab", "TCBOT_REFUSAL_LAVA_TOKEN"}},
		{"unknown target", []string{"worker", "--config", pg, "--targets", "nope"}, []string{"nope"}},
		{"no targets", []string{"worker", "--config", pg}, []string{"--targets"}},
		{"worker on SQLite", []string{"worker", "--config", lite, "--targets", "armv8-qemu"}, []string{"needs database: postgres://"}},
		{"serve --targets none on SQLite", []string{"serve", "--config", lite, "--targets", "none"}, []string{"needs database: postgres://"}},
		{"dead-after shorter than two heartbeats", []string{"serve", "--config", lite, "--heartbeat", "5s", "--dead-after", "6s"}, []string{"--dead-after 6s must be at least twice --heartbeat 5s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := tcbot(t, tt.args...)
			if code != 1 || stdout != "" {
				t.Fatalf("exit %d, stdout %q, stderr %q: want exit 1 and nothing on stdout", code, stdout, stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr %q lacks %q", stderr, w)
				}
			}
			if strings.Contains(stderr, "cannot connect") {
				t.Errorf("the worker tried the database before checking what it can run: %q", stderr)
			}
		})
	}
}
