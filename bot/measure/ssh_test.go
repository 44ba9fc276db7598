package measure_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/tcbot/tcbot/bot/compare"
	"github.com/tcbot/tcbot/bot/executor/sshtest"
	"github.com/tcbot/tcbot/bot/measure"
	"github.com/tcbot/tcbot/bot/result"
)

// TestSSHBoard measures changes on a board reached over SSH: a real sshd
// on loopback, with qemu-aarch64 as the run_wrapper standing in for an
// ARMv8 board. Boards give timings, not exact counts.
func TestSSHBoard(t *testing.T) {
	b := sshtest.Start(t)
	target := func(name string, port int, knownHosts string) string {
		return fmt.Sprintf(`  - name: %s
    arch: armv8
    executor: ssh
    samples: 3
    run_wrapper: [qemu-aarch64, -cpu, cortex-a57]
    ssh: {host: 127.0.0.1, port: %d, user: %s, key_file: %s, known_hosts: %s, max_load: 1000}
`, name, port, b.User, b.Key, knownHosts)
	}
	wrongKnown := b.Dir + "/wrong_known_hosts"
	os.WriteFile(wrongKnown, []byte(fmt.Sprintf("[127.0.0.1]:%d ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAdtk1dD8W1C6m4hM2qGdpX1pE2pQy4nqJ0XqkQ4jJ6M\n", b.Port)), 0o600)
	f := newFixture(t, target("armv8-board", b.Port, b.KnownHosts)+target("armv8-dead", sshtest.FreePort(t), b.KnownHosts)+target("armv8-impostor", b.Port, wrongKnown))
	m := f.measurer(t)
	ctx := context.Background()

	rep, st, err := m.Run(ctx, measure.Request{Repo: "tc", Rev: f.shas["slow"], Base: f.shas["base"]})
	if err != nil {
		t.Fatal(err)
	}
	// 3 samples of each binary a side, more where a timing was in the grey
	// zone (loopback SSH timings are noisy).
	if st.Runs < 2*2*3-3 {
		t.Errorf("%d runs on the board, want at least 3 samples of each changed binary per side", st.Runs)
	}
	var timeSeen bool
	for _, c := range append(rep.Comparisons, rep.Info...) {
		if c.Target == "armv8-board" && c.Metric == result.Time && c.Benchmark == "loop" {
			timeSeen = true
			if c.BaseN != c.HeadN || (c.BaseN != 3 && c.BaseN != 6 && c.BaseN != 12) {
				t.Errorf("time samples %d/%d, want 3, 6 or 12 on both sides", c.BaseN, c.HeadN)
			}
		}
		if c.Target == "armv8-board" && c.Metric == result.Status {
			t.Errorf("a benchmark failed on the board: %+v", c)
		}
		if c.Target != "armv8-board" && c.Verdict == compare.Regression {
			t.Errorf("an unusable board produced a regression: %+v", c)
		}
	}
	if !timeSeen {
		t.Error("no time comparison for the board")
	}
	errs := strings.Join(rep.Errors, "\n")
	if !strings.Contains(errs, "armv8-dead") || !strings.Contains(errs, "armv8-impostor") || !strings.Contains(errs, "host key") {
		t.Errorf("errors do not name the dead board and the wrong host key:\n%s", errs)
	}
	// Two boards are unusable: error, unless the working board found the
	// slowdown (SLOW really is slower), which a report never hides.
	if rep.Verdict != compare.Error && rep.Verdict != compare.Regression {
		t.Errorf("verdict %s, want error (or regression from the working board)", rep.Verdict)
	}

	// A miscompile shows on the board too.
	rep, _, err = m.Run(ctx, measure.Request{Repo: "tc", Rev: f.shas["wrong"], Base: f.shas["base"], Targets: []string{"armv8-board"}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Verdict != compare.Failed {
		t.Errorf("wrong checksum on the board: verdict %s", rep.Verdict)
	}

	// target check reports the board.
	msg, err := m.CheckTarget(ctx, "armv8-board", "steady")
	if err != nil || !strings.Contains(msg, "armv8-board: usable") || !strings.Contains(msg, "on ssh") {
		t.Errorf("target check: %q, %v", msg, err)
	}
	if _, err := m.CheckTarget(ctx, "armv8-impostor", "steady"); err == nil || !strings.Contains(err.Error(), "host key") {
		t.Errorf("target check of a board with the wrong host key: %v", err)
	}
}
