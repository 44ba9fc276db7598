package measure_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tcbot/tcbot/bot/compare"
	"github.com/tcbot/tcbot/bot/config"
	"github.com/tcbot/tcbot/bot/demo"
	"github.com/tcbot/tcbot/bot/measure"
	"github.com/tcbot/tcbot/bot/measure/measuretest"
	"github.com/tcbot/tcbot/bot/report"
	"github.com/tcbot/tcbot/bot/result"
)

// split.c does its work in two identical functions; MOVE moves half of
// it from front to back (same total), SLOWBACK makes back alone slower.
const splitC = `#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
__attribute__((noipa)) uint64_t front(uint64_t from, uint64_t to, uint64_t s) {
	for (uint64_t i = from; i < to; i++) s = s * 31 + i;
	return s;
}
__attribute__((noipa)) uint64_t back(uint64_t from, uint64_t to, uint64_t s) {
	for (uint64_t i = from; i < to; i++) {
		s = s * 31 + i;
#ifdef SLOWBACK
		for (volatile int k = 0; k < 2; k++);
#endif
	}
	return s;
}
int main(int argc, char **argv) {
	if (argc < 2) return 2;
	uint64_t n = strtoull(argv[1], 0, 10);
#ifdef MOVE
	uint64_t split = n / 4;
#else
	uint64_t split = 3 * n / 4;
#endif
	uint64_t s = back(split, n, front(0, split, 0));
	printf("checksum: %016llx\n", (unsigned long long)s);
	return 0;
}
`

// TestExplanationsOfRealRuns measures a benchmark whose head moves work
// between two functions (same total: "moved", not a regression) and one
// whose head slows one function (a regression explained by that function
// first, with its assembly diff), on both arches under qemu-user.
func TestExplanationsOfRealRuns(t *testing.T) {
	dir := t.TempDir()
	suite := filepath.Join(dir, "suite")
	os.MkdirAll(suite, 0o755)
	os.WriteFile(filepath.Join(suite, "split.c"), []byte(splitC), 0o644)
	os.WriteFile(filepath.Join(suite, "suite.yaml"), []byte(fmt.Sprintf(`suite: bench
version: 1
benchmarks:
  - {name: split, sources: [split.c], args: ["200000"], checksum: "%016x"}
`, measuretest.LoopSum(200000))), 0o644)
	shas, err := demo.MakeRepo(filepath.Join(dir, "repo"), []demo.Commit{
		{Subject: "base", Files: map[string]string{"tcbot-toolchain.yaml": measuretest.Manifest("")}},
		{Subject: "move work from front to back", Files: map[string]string{"tcbot-toolchain.yaml": measuretest.Manifest("-DMOVE")}},
		{Subject: "slow back", Files: map[string]string{"tcbot-toolchain.yaml": measuretest.Manifest("-DSLOWBACK")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "tcbot.yaml")
	os.WriteFile(path, []byte("workdir: work\nbenchmarks_dir: suite\nrepos:\n  - {name: tc, url: repo}\ntargets:\n"+bothTargets+"\n"), 0o644)
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	m, err := measure.New(context.Background(), cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Store.Close()
	explanation := func(rep *report.Report, target string) *report.Explanation {
		for i := range rep.Explanations {
			if e := &rep.Explanations[i]; e.Target == target && e.Benchmark == "split" {
				logExplanation(t, e)
				return e
			}
		}
		return nil
	}

	rep, _, err := m.Run(context.Background(), measure.Request{Repo: "tc", Rev: shas[1], Base: shas[0]})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Verdict == compare.Regression || rep.Verdict == compare.Improvement {
		t.Errorf("moving work between functions: verdict %s, want no regression", rep.Verdict)
	}
	for _, target := range []string{"armv7-qemu", "armv8-qemu"} {
		c := find(rep, target, "split", result.Instructions)
		e := explanation(rep, target)
		if c == nil || c.Verdict != compare.Unchanged || !strings.Contains(c.Note, "cost moved between functions") {
			t.Errorf("%s: comparison %+v, want unchanged with a note that cost moved", target, c)
		}
		if e == nil || !e.Moved || len(e.Functions) < 2 {
			t.Fatalf("%s: explanation %+v, want moved between front and back", target, e)
		}
		names := e.Functions[0].Name + " " + e.Functions[1].Name
		if !strings.Contains(names, "front") || !strings.Contains(names, "back") {
			t.Errorf("%s: top movers %s, want front and back", target, names)
		}
	}

	rep, _, err = m.Run(context.Background(), measure.Request{Repo: "tc", Rev: shas[2], Base: shas[0]})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Verdict != compare.Regression {
		t.Fatalf("slower back: verdict %s, want regression", rep.Verdict)
	}
	for _, target := range []string{"armv7-qemu", "armv8-qemu"} {
		e := explanation(rep, target)
		if e == nil || e.Moved || len(e.Functions) == 0 || e.Functions[0].Name != "back" || e.Functions[0].Delta <= 0 {
			t.Fatalf("%s: explanation %+v, want back first, slower", target, e)
		}
		// The profile attributes every instruction counted: back's share
		// is its delta over the same total the comparison has, and back
		// alone changed, so it explains the whole regression.
		c := find(rep, target, "split", result.Instructions)
		if want := float64(e.Functions[0].Delta) / *c.Base * 100; math.Abs(e.Functions[0].ShareOfTotalPct-want) > 1e-9 {
			t.Errorf("%s: back's share %.4f%% of the total, want %.4f%% (delta over the base's %v instructions)", target, e.Functions[0].ShareOfTotalPct, want, *c.Base)
		}
		if *c.Head-*c.Base != float64(e.Functions[0].Delta) {
			t.Errorf("%s: total moved by %v, back by %d", target, *c.Head-*c.Base, e.Functions[0].Delta)
		}
		if len(e.Asm) == 0 || e.Asm[0].Function != "back" {
			t.Errorf("%s: assembly diffs %+v, want back's", target, e.Asm)
			continue
		}
		plus := 0
		for _, l := range e.Asm[0].Lines {
			if l.Op == "+" {
				plus++
			}
		}
		if plus == 0 {
			t.Errorf("%s: back's diff adds no instruction: %+v", target, e.Asm[0].Lines)
		}
	}
	// tcbot compare explains the same from the store alone.
	stored, err := m.CompareStored(context.Background(), "tc", shas[0], shas[2], nil)
	if err != nil {
		t.Fatal(err)
	}
	if e := explanation(stored, "armv8-qemu"); e == nil || e.Functions[0].Name != "back" {
		t.Errorf("tcbot compare: explanation %+v, want back first", e)
	}
}

// logExplanation shows what was found (go test -v), to read a failure.
func logExplanation(t *testing.T, e *report.Explanation) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "%s/%s moved=%v\n", e.Target, e.Benchmark, e.Moved)
	for _, f := range e.Functions {
		fmt.Fprintf(&b, "  %-8s %12d %12d %+12d %+7.2f%% of total\n", f.Name, f.Base, f.Head, f.Delta, f.ShareOfTotalPct)
	}
	for _, a := range e.Asm {
		fmt.Fprintf(&b, "  asm %s (truncated %v):\n", a.Function, a.Truncated)
		for _, l := range a.Lines {
			fmt.Fprintf(&b, "    %s %s\n", l.Op, l.Text)
		}
	}
	t.Log(b.String())
}
