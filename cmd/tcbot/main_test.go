package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/tcbot/tcbot/bot/report"
	"github.com/tcbot/tcbot/bot/store/pgtest"
	"github.com/tcbot/tcbot/bot/webhook"
)

func tcbot(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("repos:\n  - {name: tc, url: /x}\ntargets:\n  - {name: a, arch: armv9, executor: qemu-user}\n"), 0o644)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"run without config", []string{"run", "--repo", "x", "--rev", "main"}, "--config is required"},
		{"missing config file", []string{"run", "--config", filepath.Join(dir, "nope.yaml"), "--repo", "x", "--rev", "y"}, "nope.yaml"},
		{"bad arch names file and line", []string{"run", "--config", bad, "--repo", "tc", "--rev", "main"}, "bad.yaml:4: targets[0].arch"},
		{"bad format", []string{"run", "--config", bad, "--repo", "tc", "--rev", "main", "--format", "xml"}, "want text, markdown or json"},
		{"config check reports the error", []string{"config", "check", "--config", bad}, "armv9"},
		{"unknown command", []string{"frobnicate"}, "unknown command"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := tcbot(t, tc.args...)
			if code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			if stdout != "" {
				t.Errorf("stdout must hold reports only, got %q", stdout)
			}
			if !strings.Contains(stderr, tc.want) {
				t.Errorf("stderr %q does not contain %q", stderr, tc.want)
			}
		})
	}
}

// TestDemoEndToEnd runs the demo with the real suite, real cross compilers
// and real QEMU, then uses its config for run, compare and config check.
func TestDemoEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end demo: takes about a minute")
	}
	dir := t.TempDir()
	code, stdout, stderr := tcbot(t, "demo", "--dir", dir, "--format", "json")
	if code != 0 {
		t.Fatalf("demo exit %d\nstderr:\n%s", code, stderr)
	}
	dec := json.NewDecoder(strings.NewReader(stdout))
	var reps []report.Report
	for {
		var r report.Report
		if err := dec.Decode(&r); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("demo stdout is not a stream of JSON reports: %v\n%s", err, stdout)
		}
		reps = append(reps, r)
	}
	if len(reps) != 2 {
		t.Fatalf("demo printed %d reports, want 2", len(reps))
	}
	if reps[0].Verdict != "unchanged" || reps[1].Verdict != "regression" {
		t.Fatalf("verdicts %s, %s; want unchanged, regression", reps[0].Verdict, reps[1].Verdict)
	}
	// Every benchmark built, ran and printed its manifest checksum on both
	// arches: a status comparison appears only when one does not.
	for _, r := range reps {
		for _, c := range r.Comparisons {
			if c.Metric == "status" {
				t.Errorf("%s %s: status %s (%s): the suite must pass under QEMU", c.Target, c.Benchmark, c.Verdict, c.Note)
			}
		}
		n := 0
		for _, c := range r.Comparisons {
			if c.Metric == "instructions" {
				n++
			}
		}
		if n != 32 {
			t.Errorf("%d instruction comparisons, want 16 benchmarks x 2 arches", n)
		}
	}
	// A code-size change names the functions that changed.
	sized := 0
	for _, c := range reps[1].Comparisons {
		if c.Metric == "code-size" && c.Verdict != "unchanged" {
			sized++
			if !strings.Contains(c.Note, "functions: ") {
				t.Errorf("%s %s code-size %s without attribution: %q", c.Target, c.Benchmark, c.Verdict, c.Note)
			}
		}
	}
	if sized == 0 {
		t.Error("the injected regression changed no code size: the attribution went untested")
	}
	arches := map[string]bool{}
	for _, c := range reps[1].Comparisons {
		if c.Verdict == "regression" {
			arches[c.Target] = true
			if c.Benchmark == "" || c.DeltaPct == nil {
				t.Errorf("regression without benchmark or size: %+v", c)
			}
		}
	}
	if !arches["armv7-qemu"] || !arches["armv8-qemu"] {
		t.Errorf("regressions found on %v, want both armv7-qemu and armv8-qemu", arches)
	}
	for _, want := range []string{"as expected", "demo: the injected regression"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q", want)
		}
	}

	for _, want := range []string{"tcbot serve --dir " + dir, "http://127.0.0.1:8080/"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("the demo does not end with its dashboard: stderr lacks %q", want)
		}
	}

	// The regression's reproduce line, run as a user would on their own
	// machine: no config, another workdir (another path length), the
	// same verdict and the very same instruction counts.
	t.Run("the reproduce line runs anywhere, with identical counts", func(t *testing.T) {
		line := reps[1].Reproduce
		args := strings.Fields(line)
		if len(args) < 4 || args[0] != "tcbot" || args[1] != "run" || !strings.Contains(line, "--repo-url ") || strings.Contains(line, "--config") {
			t.Fatalf("reproduce line %q: want tcbot run --repo-url ... without --config", line)
		}
		t.Setenv("TCBOT_WORKDIR", filepath.Join(t.TempDir(), "a", "much", "longer", "workdir", "path", "than", "the", "demo's"))
		code, stdout, stderr := tcbot(t, append(args[1:], "--format", "json")...)
		if code != 2 {
			t.Fatalf("%s: exit %d\n%s\n%.2000s", line, code, stderr, stdout)
		}
		var r report.Report
		if err := json.Unmarshal([]byte(stdout), &r); err != nil {
			t.Fatal(err)
		}
		want := map[string]float64{}
		for _, c := range reps[1].Comparisons {
			if c.Metric == "instructions" && c.Head != nil {
				want[c.Target+"/"+c.Benchmark] = *c.Head
			}
		}
		same := 0
		for _, c := range r.Comparisons {
			if c.Metric == "instructions" && c.Head != nil {
				if w, ok := want[c.Target+"/"+c.Benchmark]; !ok || w != *c.Head {
					t.Errorf("%s %s: %v instructions from the other workdir, %v in the demo", c.Target, c.Benchmark, *c.Head, w)
				} else {
					same++
				}
			}
		}
		if r.Verdict != "regression" || same != len(want) || same == 0 {
			t.Errorf("verdict %s, %d of %d counts identical", r.Verdict, same, len(want))
		}
	})

	cfg := filepath.Join(dir, "tcbot.yaml")
	t.Run("warm run prints valid JSON and exits 2", func(t *testing.T) {
		code, stdout, _ := tcbot(t, "run", "--config", cfg, "--repo", "toolchain", "--rev", "main", "--format", "json")
		if code != 2 {
			t.Fatalf("exit %d, want 2 for a regression", code)
		}
		var generic map[string]any
		if err := json.Unmarshal([]byte(stdout), &generic); err != nil {
			t.Fatalf("stdout is not one JSON document: %v", err)
		}
		for _, k := range []string{"repo", "base", "head", "verdict", "comparisons"} {
			if _, ok := generic[k]; !ok {
				t.Errorf("report lacks %q", k)
			}
		}
	})
	t.Run("A/A compare of a stored revision reports nothing", func(t *testing.T) {
		code, stdout, stderr := tcbot(t, "compare", "--config", cfg, "--repo", "toolchain", "--base", "main~2", "--head", "main~2", "--format", "json")
		if code != 0 {
			t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
		}
		var r report.Report
		json.Unmarshal([]byte(stdout), &r)
		if r.Verdict != "unchanged" || len(r.Comparisons) < 24 {
			t.Fatalf("A/A verdict %s with %d comparisons", r.Verdict, len(r.Comparisons))
		}
		for _, c := range r.Comparisons {
			if c.Verdict != "unchanged" {
				t.Errorf("A/A: %s %s %s is %s", c.Target, c.Benchmark, c.Metric, c.Verdict)
			}
		}
	})
	t.Run("markdown report", func(t *testing.T) {
		code, stdout, _ := tcbot(t, "compare", "--config", cfg, "--repo", "toolchain", "--base", "main~1", "--head", "main", "--format", "markdown")
		if code != 2 || !strings.Contains(strings.SplitN(stdout, "\n", 2)[0], "regression") || !strings.Contains(stdout, "tcbot run --repo-url ") {
			t.Fatalf("exit %d, markdown:\n%s", code, stdout)
		}
	})
	t.Run("config check", func(t *testing.T) {
		code, stdout, stderr := tcbot(t, "config", "check", "--config", cfg)
		if code != 0 || !strings.Contains(stdout, "ok") {
			t.Fatalf("exit %d: %s %s", code, stdout, stderr)
		}
	})
	t.Run("migrate to PostgreSQL keeps every result", func(t *testing.T) {
		data, err := os.ReadFile(cfg)
		if err != nil {
			t.Fatal(err)
		}
		var from string
		var lines []string
		for _, l := range strings.Split(string(data), "\n") {
			if db, ok := strings.CutPrefix(l, "database: "); ok {
				from, l = db, "database: "+pgtest.URL(t)
			}
			lines = append(lines, l)
		}
		if from == "" {
			t.Fatalf("the demo config names no database:\n%s", data)
		}
		pgCfg := filepath.Join(dir, "tcbot-pg.yaml")
		os.WriteFile(pgCfg, []byte(strings.Join(lines, "\n")), 0o644)
		code, stdout, stderr := tcbot(t, "migrate", "--config", pgCfg, "--from", from)
		if code != 0 || !strings.Contains(stdout, "measurements 6") || !strings.Contains(stdout, "results ") {
			t.Fatalf("migrate: exit %d\n%s\n%s", code, stdout, stderr)
		}
		// The same comparison from either database, number for number.
		compare := func(c string) report.Report {
			code, stdout, stderr := tcbot(t, "compare", "--config", c, "--repo", "toolchain", "--base", "main~1", "--head", "main", "--format", "json")
			if code != 2 {
				t.Fatalf("compare on %s: exit %d\n%s", c, code, stderr)
			}
			var r report.Report
			if err := json.Unmarshal([]byte(stdout), &r); err != nil {
				t.Fatal(err)
			}
			r.Reproduce = ""
			return r
		}
		a, b := compare(cfg), compare(pgCfg)
		ja, _ := json.Marshal(a)
		jb, _ := json.Marshal(b)
		if string(ja) != string(jb) || len(a.Comparisons) == 0 {
			t.Errorf("compare differs after migrate:\nSQLite:     %.600s\nPostgreSQL: %.600s", ja, jb)
		}
		// Copying again would mix histories: refused, nothing changed.
		code, _, stderr = tcbot(t, "migrate", "--config", pgCfg, "--from", from)
		if code != 1 || !strings.Contains(stderr, "not empty") {
			t.Errorf("second migrate: exit %d, %q; want a refusal", code, stderr)
		}
		if again := compare(pgCfg); !reflect.DeepEqual(again, b) {
			t.Error("a refused migrate changed the destination")
		}
	})
}

func TestWebhookSend(t *testing.T) {
	var got []webhook.Event
	var mu sync.Mutex
	h, err := webhook.NewHandler(webhook.Options{Secret: []byte("s3cret"), Sink: sinkFunc(func(ev webhook.Event) {
		mu.Lock()
		got = append(got, ev)
		mu.Unlock()
	})})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	t.Setenv("TCBOT_SEND_SECRET", "s3cret")
	file := filepath.Join("..", "..", "bot", "webhook", "testdata", "webhooks", "pull_request", "opened.json")
	code, stdout, stderr := tcbot(t, "webhook", "send", "--url", srv.URL, "--secret-env", "TCBOT_SEND_SECRET", "--event", "pull_request", file)
	if code != 0 || !strings.Contains(stdout, "HTTP 202") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if len(got) != 1 || got[0].PullRequest == nil || got[0].PullRequest.Number != 2 {
		t.Fatalf("the receiver saw %+v", got)
	}
	t.Setenv("TCBOT_SEND_SECRET", "wrong")
	code, stdout, _ = tcbot(t, "webhook", "send", "--url", srv.URL, "--secret-env", "TCBOT_SEND_SECRET", "--event", "pull_request", file)
	if code != 1 || !strings.Contains(stdout, "HTTP 401") {
		t.Fatalf("wrong secret: exit %d, stdout %q", code, stdout)
	}
}

type sinkFunc func(webhook.Event)

func (f sinkFunc) Accept(_ context.Context, ev webhook.Event) (bool, error) {
	f(ev)
	return false, nil
}

// TestREADMEConfigChecks keeps the README's configuration example valid.
func TestREADMEConfigChecks(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	start := strings.Index(text, "## Configuration")
	block := text[start:]
	block = block[strings.Index(block, "```yaml\n")+len("```yaml\n"):]
	block = block[:strings.Index(block, "```")]
	cfg := filepath.Join(t.TempDir(), "tcbot.yaml")
	os.WriteFile(cfg, []byte(block), 0o644)
	code, stdout, stderr := tcbot(t, "config", "check", "--config", cfg)
	if code != 0 || !strings.Contains(stdout, "ok") {
		t.Fatalf("the README's config does not check: exit %d\n%s%s", code, stdout, stderr)
	}
}

// TestConfigCheckValidatesTheOpenEmbeddedTree runs config check on a config
// using the shipped oe-lamp recipe: kas files against kas's own schema and
// the meta-tcbot layer (CI installs Debian's kas for its schema).
func TestConfigCheckValidatesTheOpenEmbeddedTree(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "tcbot.yaml")
	os.WriteFile(cfg, []byte(`repos:
  - {name: gcc, url: https://gcc.gnu.org/git/gcc.git, branches: [releases/gcc-13], recipe: oe-lamp, component: gcc}
targets:
  - {name: armv7-qemu, arch: armv7, executor: qemu-user}
  - {name: armv8-qemu, arch: armv8, executor: qemu-user}
`), 0o644)
	code, stdout, stderr := tcbot(t, "config", "check", "--config", cfg)
	if code != 0 || !strings.Contains(stdout, "kas files valid against kas's schema") {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	os.WriteFile(cfg, []byte(`repos:
  - {name: gcc, url: https://gcc.gnu.org/git/gcc.git, recipe: oe-lamp, component: llvm}
targets: [{name: armv8-qemu, arch: armv8, executor: qemu-user}]
`), 0o644)
	code, _, stderr = tcbot(t, "config", "check", "--config", cfg)
	if code != 1 || !strings.Contains(stderr, "repos[0].component") {
		t.Fatalf("unknown component: exit %d, %s", code, stderr)
	}
}

func TestTargetCheck(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "tcbot.yaml")
	os.WriteFile(cfg, []byte(`workdir: work
repos: [{name: tc, url: /nonexistent}]
targets:
  - {name: armv7-qemu, arch: armv7, executor: qemu-user}
  - {name: armv8-qemu, arch: armv8, executor: qemu-user}
  - {name: armv8-gone, arch: armv8, executor: qemu-user, qemu: qemu-tcbot-nonexistent}
`), 0o644)
	for _, target := range []string{"armv7-qemu", "armv8-qemu"} {
		code, stdout, stderr := tcbot(t, "target", "check", "--config", cfg, "--target", target)
		if code != 0 || !strings.Contains(stdout, target+": usable") || !strings.Contains(stdout, " instructions") {
			t.Errorf("%s: exit %d, stdout %q, stderr %q", target, code, stdout, stderr)
		}
	}
	code, stdout, stderr := tcbot(t, "target", "check", "--config", cfg, "--target", "armv8-gone")
	if code != 1 || stdout != "" || !strings.Contains(stderr, "qemu-tcbot-nonexistent not found") || !strings.Contains(stderr, "install qemu-user") {
		t.Errorf("missing emulator: exit %d, stderr %q", code, stderr)
	}
	code, _, stderr = tcbot(t, "target", "check", "--config", cfg, "--target", "armv9-qemu")
	if code != 1 || !strings.Contains(stderr, `unknown target "armv9-qemu"`) {
		t.Errorf("unknown target: exit %d, stderr %q", code, stderr)
	}
}
