package build_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tcbot/tcbot/bot/compare"
	"github.com/tcbot/tcbot/bot/config"
	"github.com/tcbot/tcbot/bot/measure"
	"github.com/tcbot/tcbot/bot/report"
	"github.com/tcbot/tcbot/bot/result"
	"github.com/tcbot/tcbot/bot/toolchain/build/realsrc"
)

const binutilsTarball = "/usr/src/binutils/binutils-2.40.tar.xz"

// binutilsCommits are shaped like real binutils commits: a documentation
// fix (the assembler and linker do not change) and a change to gas's
// handling of code alignment (.p2align N,,MAX pads to the full boundary,
// ignoring MAX), which GCC's loop and function alignment hit on both
// arches.
var binutilsCommits = []realsrc.Commit{
	{Subject: "gas: doc: fix a typo in the .p2align description", Edits: []realsrc.Edit{{
		File: "gas/doc/as.texi",
		Old:  "@section @code{.p2align[wl] [@var{abs-expr}[, @var{abs-expr}[, @var{abs-expr}]]]}",
		New:  "@section @code{.p2align[wl] [@var{abs-expr}[, @var{abs-expr}[, @var{abs-expr}]]]} ",
	}}},
	{Subject: "gas: aarch64, arm: always pad code to the full alignment", Edits: []realsrc.Edit{{
		File: "gas/config/tc-aarch64.h",
		Old:  "      frag_align_code (N, MAX);\t\t\t\t\t\t\t\\",
		New:  "      frag_align_code (N, 0);\t\t\t\t\t\t\t\\",
	}, {
		File: "gas/config/tc-arm.h",
		Old:  "      arm_frag_align_code (N, MAX);\t\t\t\t\t\t\\",
		New:  "      arm_frag_align_code (N, 0);\t\t\t\t\t\t\\",
	}}},
}

// TestBinutilsFromSource measures real binutils commits: gas and ld are
// built from each revision for ARMv7 and ARMv8 in incremental build trees
// (kept under the test cache, so a machine pays the cold builds once) and
// used by the host's cross gcc through -B. A documentation commit is
// unchanged without compiling a benchmark (identical assembler and
// linker); the gas change is a regression on both arches, from an
// incremental build.
func TestBinutilsFromSource(t *testing.T) {
	if testing.Short() {
		t.Skip("builds binutils (minutes cold)")
	}
	realsrc.Need(t, binutilsTarball, "binutils-source", false)
	repo := realsrc.Make(t, "binutils-2.40", binutilsTarball, nil, binutilsCommits)
	base, docs, gas := repo.SHAs["release"], repo.SHAs[binutilsCommits[0].Subject], repo.SHAs[binutilsCommits[1].Subject]

	work := filepath.Join(realsrc.CacheDir(t), "binutils-work")
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "tcbot.yaml")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf(`workdir: %s
database: sqlite://%s/tcbot.db
repos:
  - name: binutils
    url: %s
    toolchain: build
    build: {recipe: binutils}
targets:
  - {name: armv7-qemu, arch: armv7, executor: qemu-user}
  - {name: armv8-qemu, arch: armv8, executor: qemu-user}
`, work, dir, repo.Dir)), 0o644)
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	m, err := measure.New(context.Background(), cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Store.Close()
	ctx := context.Background()
	run := func(head, base string) (*report.Report, measure.Stats) {
		t.Helper()
		rep, st, err := m.Run(ctx, measure.Request{Repo: "binutils", Rev: head, Base: base})
		if err != nil {
			t.Fatal(err)
		}
		var text strings.Builder
		report.Text(&text, *rep)
		t.Logf("%s\n(wall %s, %d builds, %d runs)", text.String(), st.Wall.Round(1e6), st.Builds, st.Runs)
		return rep, st
	}

	rep, st := run(docs, base)
	if rep.Verdict != compare.Unchanged || st.Builds != 0 || len(rep.Notes) == 0 || !strings.Contains(rep.Notes[0], "byte-identical") {
		t.Errorf("documentation commit: verdict %s, %d benchmarks compiled, notes %q; want unchanged, none compiled, saying the toolchain is byte-identical", rep.Verdict, st.Builds, rep.Notes)
	}

	rep, _ = run(gas, docs)
	if rep.Verdict != compare.Regression {
		t.Errorf("gas alignment change: verdict %s, want regression", rep.Verdict)
	}
	for _, target := range []string{"armv7-qemu", "armv8-qemu"} {
		worse := 0
		for _, c := range rep.Comparisons {
			if c.Target == target && c.Verdict == compare.Regression && (c.Metric == result.CodeSize || c.Metric == result.Instructions) {
				worse++
			}
		}
		if worse == 0 {
			t.Errorf("%s: no code-size or instruction regression from padding every alignment fully", target)
		}
	}
	// The gas change was built incrementally, following the tree.
	ms, _ := filepath.Glob(filepath.Join(work, "toolchains", "binutils", "binutils-overlay-*", gas+"-*", "tcbot-toolchain.json"))
	if len(ms) != 2 {
		t.Fatalf("toolchains built for the gas change: %q, want one per arch", ms)
	}
	for _, p := range ms {
		data, _ := os.ReadFile(p)
		if !strings.Contains(string(data), `"incremental": true`) {
			t.Errorf("%s: not an incremental build:\n%s", p, data)
		}
	}
}
