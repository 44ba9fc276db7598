package measure_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tcbot/tcbot/bot/compare"
	"github.com/tcbot/tcbot/bot/config"
	"github.com/tcbot/tcbot/bot/demo"
	"github.com/tcbot/tcbot/bot/executor/sshtest"
	"github.com/tcbot/tcbot/bot/measure"
	"github.com/tcbot/tcbot/bot/measure/measuretest"
	"github.com/tcbot/tcbot/bot/report"
	"github.com/tcbot/tcbot/bot/sandbox/sandboxtest"
)

// evilCC is a pull request's compiler (toolchain: manifest names
// bin/evilcc, a documented feature). Building "loop" it runs the probe on
// the build host and fails, so its report reaches the build note; building
// "steady" it hands over the ARM probe as the benchmark, which then runs
// on the target and reports through the run's note.
const evilCC = `#!/bin/sh
out=""; prev=""
for a in "$@"; do [ "$prev" = "-o" ] && out="$a"; prev="$a"; done
here=$(dirname "$0")
case "$out" in
*/loop) "$here/probe-host"; exit 1 ;;
*) cp "$here/probe-arm" "$out"; exit 0 ;;
esac
`

// evilBuildCC probes only on the build host and otherwise compiles
// honestly: a board runs its benchmarks outside this host's sandbox.
const evilBuildCC = `#!/bin/sh
out=""; prev=""
for a in "$@"; do [ "$prev" = "-o" ] && out="$a"; prev="$a"; done
case "$out" in
*/loop) "$(dirname "$0")/probe-host"; exit 1 ;;
*) exec aarch64-linux-gnu-gcc "$@" ;;
esac
`

// TestHostilePullRequest is the trust boundary's end-to-end test: an
// approved pull request whose compiler and benchmark try to read tcbot's
// environment and /proc, the token and secret files, the database,
// ~/.ssh and another job's build; to connect to loopback listeners; to
// start 10,000 processes; and to write outside their directory. Each
// attempt is asserted from what the hostile code wrote to its own output,
// on a qemu-user target and on an SSH board's build step.
func TestHostilePullRequest(t *testing.T) {
	h := sandboxtest.NewHost(t)
	work := filepath.Join(h.Dir, "work")
	db := filepath.Join(work, "state.db")
	// The database tcbot really uses must not be readable either (it
	// holds no canary, so "clean" would mean it was read).
	h.AddRead(db)

	const procs = 64
	hostProbe := h.BuildProbe(t, "cc", 10000)
	armProbe := h.BuildProbe(t, "aarch64-linux-gnu-gcc", 10000)
	read := func(p string) string {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	dir := t.TempDir()
	if err := measuretest.WriteSuite(filepath.Join(dir, "suite")); err != nil {
		t.Fatal(err)
	}
	commits := []demo.Commit{
		{Subject: "base", Files: map[string]string{"tcbot-toolchain.yaml": measuretest.Manifest("")}},
		{Subject: "hostile", Files: map[string]string{
			"tcbot-toolchain.yaml": "armv8: {cc: bin/evilcc}\n",
			"bin/evilcc":           evilCC,
			"bin/probe-host":       read(hostProbe),
			"bin/probe-arm":        read(armProbe),
		}},
		{Subject: "hostile build", Files: map[string]string{"bin/evilcc": evilBuildCC}},
	}
	shas, err := demo.MakeRepo(filepath.Join(dir, "repo"), commits)
	if err != nil {
		t.Fatal(err)
	}
	// demo.MakeRepo writes files 0644; the compiler must be executable.
	board := sshtest.Start(t)
	cfgText := fmt.Sprintf(`workdir: %s
database: sqlite://%s
benchmarks_dir: suite
sandbox_limits: {processes: %d}
repos:
  - {name: tc, url: repo}
targets:
  - {name: armv8-qemu, arch: armv8, executor: qemu-user}
  - name: armv8-board
    arch: armv8
    executor: ssh
    samples: 2
    run_wrapper: [qemu-aarch64, -cpu, cortex-a57]
    ssh: {host: 127.0.0.1, port: %d, user: %s, key_file: %s, known_hosts: %s, max_load: 1000}
`, work, db, procs, board.Port, board.User, board.Key, board.KnownHosts)
	path := filepath.Join(dir, "tcbot.yaml")
	os.WriteFile(path, []byte(cfgText), 0o644)
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	m, err := measure.New(context.Background(), cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Store.Close()
	if !m.Sandbox.Enabled() || m.Sandbox.Processes != procs {
		t.Fatalf("the config's sandbox is not the measurer's: %+v", m.Sandbox)
	}

	for i, target := range []string{"armv8-qemu", "armv8-board"} {
		t.Run(target, func(t *testing.T) {
			rep, _, err := m.Run(context.Background(), measure.Request{Repo: "tc", Rev: shas[1+i], Base: shas[0], Targets: []string{target}})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Verdict != compare.Failed {
				t.Errorf("verdict %s, want failed (the hostile head broke its benchmarks); errors: %q", rep.Verdict, rep.Errors)
			}
			build := note(rep, target, "loop")
			t.Logf("compiler's probe: %s", build)
			h.Check(t, build, procs)
			if target == "armv8-qemu" {
				// On a board the benchmark runs on the board, outside
				// this host's sandbox; here it runs under qemu-user in it.
				run := note(rep, target, "steady")
				t.Logf("benchmark's probe: %s", run)
				h.Check(t, run, procs)
			}
		})
	}
	// Nothing of the sandbox's is left running.
	if out, _ := exec.Command("pgrep", "-u", "65534", "-f", "probe").Output(); len(out) > 0 {
		t.Errorf("sandboxed processes outlived their job: %s", out)
	}
}

func note(rep *report.Report, target, bench string) string {
	var notes []string
	for _, c := range append(append([]compare.Comparison{}, rep.Comparisons...), rep.Info...) {
		if c.Target == target && c.Benchmark == bench && strings.Contains(c.Note, "PROBE") {
			return c.Note
		}
		if c.Target == target && c.Benchmark == bench {
			notes = append(notes, c.Metric+": "+c.Note)
		}
	}
	return strings.Join(notes, "; ")
}
