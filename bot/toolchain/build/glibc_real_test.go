package build_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tcbot/tcbot/bot/compare"
	"github.com/tcbot/tcbot/bot/demo"
	"github.com/tcbot/tcbot/bot/result"
	"github.com/tcbot/tcbot/bot/toolchain/build/realsrc"
)

const glibcTarball = "/usr/src/glibc/glibc-2.36.tar.xz"

// glibcCommits are shaped like real glibc commits: a README fix (the
// library does not change) and strtol going back to computing its
// overflow limits with a division on every call instead of the table
// glibc looks them up in (what glibc did before 2.x): on ARMv7, which has
// no divide instruction in its base ISA, every strtoll and strtoull calls
// the EABI's 64-bit division routine.
var glibcCommits = []demo.Change{
	{Subject: "README: the kernel requirement is for Linux", Edits: []demo.Edit{{
		File: "README",
		Old:  "When working with Linux kernels, this version of the GNU C Library\n",
		New:  "When working with the Linux kernel, this version of the GNU C Library\n",
	}}},
	{Subject: "stdlib: strtol: compute the overflow limits instead of looking them up", Edits: []demo.Edit{{
		File: "stdlib/strtol_l.c",
		Old:  "  cutoff = cutoff_tab[base - 2];\n  cutlim = cutlim_tab[base - 2];\n",
		New:  "  cutoff = STRTOL_ULONG_MAX / (unsigned LONG int) base;\n  cutlim = STRTOL_ULONG_MAX % (unsigned LONG int) base;\n",
	}}},
}

// TestRealGlibc measures real glibc commits: glibc 2.36 (glibc-source) is
// built for each arch with the host cross compiler in an incremental
// tree, installed into a private sysroot, and the suite is linked
// statically against it. The README commit leaves the library identical
// (unchanged, nothing compiled); the strtol change grows the format
// benchmark's strtol functions on ARMv7 (a code-size regression). Opt in with TCBOT_TEST_REAL=1;
// cold, glibc takes 10-20 minutes per arch on 2 cores.
func TestRealGlibc(t *testing.T) {
	if os.Getenv("TCBOT_TEST_REAL") == "" {
		t.Skip("set TCBOT_TEST_REAL=1 (make test-real): builds glibc from source")
	}
	realsrc.Need(t, glibcTarball, "glibc-source", true)
	repo := realsrc.Make(t, "glibc-2.36", glibcTarball, glibcCommits)
	base, docs, strtol := repo.SHAs["release"], repo.SHAs[glibcCommits[0].Subject], repo.SHAs[glibcCommits[1].Subject]
	work := filepath.Join(realsrc.CacheDir(t), "glibc-work")
	m := realMeasurer(t, work, "glibc", repo.Dir, "build: {recipe: glibc}")
	run := runner(t, m, "glibc", nil)

	rep, _ := run("the release against itself (cold builds)", base, base)
	if rep.Verdict != compare.Unchanged {
		t.Errorf("a revision against itself: %s", rep.Verdict)
	}
	rep, st := run("README commit", docs, base)
	if rep.Verdict != compare.Unchanged || st.Builds != 0 || len(rep.Notes) == 0 {
		t.Errorf("README commit: %s, %d compiled, notes %q: want unchanged with an identical library", rep.Verdict, st.Builds, rep.Notes)
	}
	// Measured here: the division adds code to every strtol variant
	// (format's code-size +0.11% on ARMv7, a regression over the 0.1%
	// threshold, the functions named), while the instructions executed
	// barely move (-0.01%: format parses far less than it prints).
	rep, _ = run("strtol computes its limits", strtol, docs)
	found := false
	for _, c := range rep.Comparisons {
		if c.Target == "armv7-qemu" && c.Benchmark == "format" && c.Metric == result.CodeSize && c.Verdict == compare.Regression && strings.Contains(c.Note, "strtoul") {
			found = true
		}
	}
	if !found || rep.Verdict != compare.Regression {
		t.Errorf("strtol change: verdict %s, want a regression of format's code size on armv7-qemu in the strtol functions", rep.Verdict)
	}
}
