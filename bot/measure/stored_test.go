package measure_test

import (
	"context"
	"strings"
	"testing"

	"github.com/tcbot/tcbot/bot/compare"
	"github.com/tcbot/tcbot/bot/result"
)

// TestCompareAttributesCodeSize: `tcbot compare` names the functions
// behind a code-size change from the stored measurements, exactly as
// `tcbot run` did when it measured them.
func TestCompareAttributesCodeSize(t *testing.T) {
	// The slowdown adds a few bytes to main of a static binary of a few
	// hundred KB (0.01%): a threshold below that makes it a regression.
	f := newFixture(t, `  - {name: armv8-qemu, arch: armv8, executor: qemu-user}
compare:
  thresholds: {code-size: 0.001}`)
	m := f.measurer(t)
	ctx := context.Background()
	run, _, err := m.Run(ctx, measureRequest(f, "slow", "base"))
	if err != nil {
		t.Fatal(err)
	}
	r := find(run, "armv8-qemu", "loop", result.CodeSize)
	if r == nil || r.Verdict != compare.Regression || !strings.Contains(r.Note, "functions: main +") {
		t.Fatalf("run: code-size of loop %+v: want a regression noting the functions (main)", r)
	}
	stored, err := m.CompareStored(ctx, "tc", f.shas["base"], f.shas["slow"], nil)
	if err != nil {
		t.Fatal(err)
	}
	c := find(stored, "armv8-qemu", "loop", result.CodeSize)
	if c == nil || c.Verdict != r.Verdict || c.Note != r.Note {
		t.Errorf("compare: code-size of loop %+v, want %s with run's note %q", c, r.Verdict, r.Note)
	}
	// An unchanged code size is not attributed.
	if s := find(stored, "armv8-qemu", "steady", result.CodeSize); s == nil || s.Verdict != compare.Unchanged || strings.Contains(s.Note, "functions:") {
		t.Errorf("compare: code-size of steady %+v, want unchanged without attribution", s)
	}
}
