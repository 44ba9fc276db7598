package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tcbot/tcbot/bot/bisect"
	"github.com/tcbot/tcbot/bot/demo"
)

// bisectHistory is a real toolchain repository of 64 commits: GCC 12 at
// -O2 on both arches, documentation commits, one commit (32) whose flags
// do not build and the next that repairs it, and one commit (41) that
// switches the tree loop optimiser off on armv8 only.
func bisectHistory(t *testing.T, dir string) []string {
	manifest := func(v7, v8 string) string {
		return fmt.Sprintf("armv7: {cc: arm-linux-gnueabihf-gcc, cflags: \"-O2%s\"}\narmv8: {cc: aarch64-linux-gnu-gcc, cflags: \"-O2%s\"}\n", v7, v8)
	}
	var commits []demo.Commit
	for i := 0; i < 64; i++ {
		c := demo.Commit{Subject: fmt.Sprintf("docs: note %d", i), Files: map[string]string{"NOTES": strings.Repeat("note\n", i+1)}}
		switch {
		case i == 0:
			c.Subject = "toolchain: GCC 12 at -O2"
			c.Files["tcbot-toolchain.yaml"] = manifest("", "")
		case i == 32:
			c.Subject = "opts: try a flag that does not exist"
			c.Files["tcbot-toolchain.yaml"] = manifest(" -fno-such-flag", " -fno-such-flag")
		case i == 33:
			c.Subject = "opts: revert the flag that does not exist"
			c.Files["tcbot-toolchain.yaml"] = manifest("", "")
		case i == 41:
			c.Subject = "aarch64: disable the tree loop optimiser"
			c.Files["tcbot-toolchain.yaml"] = manifest("", " "+demo.RegressionFlags)
		}
		commits = append(commits, c)
	}
	shas, err := demo.MakeRepo(filepath.Join(dir, "toolchain"), commits)
	if err != nil {
		t.Fatal(err)
	}
	return shas
}

func bisectConfig(t *testing.T, dir string) string {
	cfg := filepath.Join(dir, "tcbot.yaml")
	if err := os.WriteFile(cfg, []byte(demo.Config(dir)), 0o644); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestBisect bisects the 64 commits with real builds under QEMU: it names
// commit 41, skips the broken commit it lands on, verifies the culprit
// against its parent, and takes at most ceil(log2(64)) + 2 = 8 rounds;
// with 4 workers (3 midpoints a round) fewer.
func TestBisect(t *testing.T) {
	if testing.Short() {
		t.Skip("bisects with real builds under QEMU")
	}
	dir := t.TempDir()
	shas := bisectHistory(t, dir)
	cfg := bisectConfig(t, dir)
	code, stdout, stderr := tcbot(t, "bisect", "--config", cfg, "--repo", "toolchain", "--good", shas[0], "--bad", shas[63], "--format", "json")
	if code != exitBisectFound {
		t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, exitBisectFound, stdout, stderr)
	}
	var res bisect.Result
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("stdout is not the JSON result: %v\n%s", err, stdout)
	}
	if res.Outcome != bisect.Culprit || res.Culprit.SHA != shas[41] || res.Parent.SHA != shas[40] {
		t.Fatalf("outcome %s culprit %+v, want commit 41 %s", res.Outcome, res.Culprit, shas[41])
	}
	if res.Culprit.Author != "Demo Developer <dev@example.org>" || res.Culprit.Subject != "aarch64: disable the tree loop optimiser" {
		t.Errorf("culprit %+v", res.Culprit)
	}
	// armv8 only: every regression of the culprit is there.
	for _, c := range res.Verification {
		if c.Target != "armv8-qemu" {
			t.Errorf("the culprit regresses %s %s on %s: the change was armv8 only", c.Benchmark, c.Metric, c.Target)
		}
	}
	if len(res.Verification) == 0 || res.Primary.Target != "armv8-qemu" {
		t.Errorf("verification %+v primary %+v", res.Verification, res.Primary)
	}
	if res.Rounds > 8 {
		t.Errorf("%d rounds for 64 commits, want at most ceil(log2(64)) + 2 = 8", res.Rounds)
	}
	if !strings.Contains(res.Reproduce, "tcbot run --repo-url ") || strings.Contains(res.Reproduce, "--config") || !strings.Contains(res.Reproduce, "--rev "+shas[41]) {
		t.Errorf("reproduce %q", res.Reproduce)
	}
	t.Logf("one worker: %d rounds, %d of %d commits measured, skipped %d", res.Rounds, res.Probed, res.Commits, len(res.Skipped))

	// Four workers, a fresh workdir (nothing stored): fewer rounds.
	dir4 := t.TempDir()
	shas4 := bisectHistory(t, dir4)
	code, stdout, stderr = tcbot(t, "bisect", "--config", bisectConfig(t, dir4), "--repo", "toolchain", "--good", shas4[0], "--bad", shas4[63],
		"--workers", "4", "--target", "armv8-qemu", "--format", "json")
	if code != exitBisectFound {
		t.Fatalf("--workers 4: exit %d\nstderr:\n%s", code, stderr)
	}
	var res4 bisect.Result
	if err := json.Unmarshal([]byte(stdout), &res4); err != nil {
		t.Fatal(err)
	}
	if res4.Culprit == nil || res4.Culprit.SHA != shas4[41] {
		t.Fatalf("--workers 4: outcome %s culprit %+v", res4.Outcome, res4.Culprit)
	}
	if res4.Rounds >= res.Rounds {
		t.Errorf("4 workers took %d rounds, 1 worker %d", res4.Rounds, res.Rounds)
	}
	t.Logf("four workers: %d rounds, %d commits measured", res4.Rounds, res4.Probed)

	// The broken commit: the search lands on it with one worker or the
	// other; wherever it was probed it is skipped and named.
	for _, r := range []bisect.Result{res, res4} {
		for _, s := range r.Skipped {
			if s.Subject != "opts: try a flag that does not exist" {
				t.Errorf("skipped %s %q: only the broken commit should be", s.SHA[:12], s.Subject)
			}
		}
	}
	if len(res.Skipped)+len(res4.Skipped) == 0 {
		t.Error("neither bisection probed the broken commit: move it to where the search lands")
	}

	// A/A: a range without a regression, on the stored measurements.
	code, stdout, _ = tcbot(t, "bisect", "--config", cfg, "--repo", "toolchain", "--good", shas[22], "--bad", shas[40])
	if code != 0 || !strings.Contains(stdout, "NOTHING-TO-BISECT") || !strings.Contains(stdout, "nothing to bisect") {
		t.Errorf("A/A: exit %d\n%s", code, stdout)
	}
}
