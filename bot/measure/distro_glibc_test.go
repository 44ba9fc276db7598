package measure_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tcbot/tcbot/bot/compare"
	"github.com/tcbot/tcbot/bot/config"
	"github.com/tcbot/tcbot/bot/demo"
	"github.com/tcbot/tcbot/bot/kernel/kerneltest"
	"github.com/tcbot/tcbot/bot/measure"
	"github.com/tcbot/tcbot/bot/toolchain/build/realsrc"
)

const glibcTarball = "/usr/src/glibc/glibc-2.36.tar.xz"

// glibcDistroCommits are glibc 2.36 (glibc-source) commits measured on the
// Debian image: a README fix (the library does not change) and a malloc
// that spins before it allocates (every process of the LAMP stack
// allocates while serving a page).
var glibcDistroCommits = []demo.Change{
	{Subject: "README: the kernel requirement is for Linux", Edits: []demo.Edit{{
		File: "README",
		Old:  "When working with Linux kernels, this version of the GNU C Library\n",
		New:  "When working with the Linux kernel, this version of the GNU C Library\n",
	}}},
	{Subject: "malloc: spin before every allocation", Edits: []demo.Edit{{
		File: "malloc/malloc.c",
		Old:  "  if (!__malloc_initialized)\n    ptmalloc_init ();\n#if USE_TCACHE\n  /* int_free also calls request2size, be careful to not pad twice.  */\n",
		New:  "  if (!__malloc_initialized)\n    ptmalloc_init ();\n  { volatile int spin; for (spin = 0; spin < 2000; spin++) ; }\n#if USE_TCACHE\n  /* int_free also calls request2size, be careful to not pad twice.  */\n",
	}}},
}

// glibcBroken is a commit after glibcDistroCommits whose malloc does not
// compile.
var glibcBroken = demo.Change{Subject: "malloc: a change that does not compile", Edits: []demo.Edit{{
	File: "malloc/malloc.c",
	Old:  "  { volatile int spin; for (spin = 0; spin < 2000; spin++) ; }\n",
	New:  "  { volatile int spin; for (spin = 0; spin < 2000; spin++) ; }\n  this_does_not_compile;\n",
}}}

// TestDistroLAMPWithGlibc swaps glibc built from the revision into the
// Debian image (make test-real: glibc builds cold in 20-40 minutes): glibc
// 2.36 from glibc-source is built for armv8 in an incremental tree,
// installed over the image's libc6 in a throwaway overlay, and the image
// boots the kernel built from the kernel repository's release (the same
// at base and head). The README commit builds a byte-identical library
// (unchanged without measuring); a malloc that spins is a regression in
// instructions per request; a glibc that does not build fails the change;
// tcbot target check shows the revision's C library running in the guest.
func TestDistroLAMPWithGlibc(t *testing.T) {
	if os.Getenv("TCBOT_TEST_REAL") == "" {
		t.Skip("set TCBOT_TEST_REAL=1 (make test-real): builds glibc from source (20-40 minutes cold)")
	}
	realsrc.Need(t, linuxTarball, "linux-source-6.1", false)
	realsrc.Need(t, glibcTarball, "glibc-source", true)
	busybox := kerneltest.Fetch(t, "armv8").Busybox
	linux := realsrc.Make(t, "linux-6.1-distro", linuxTarball, distroCommits)
	glibc := realsrc.Make(t, "glibc-2.36", glibcTarball, append(append([]demo.Change{}, glibcDistroCommits...), glibcBroken))
	base, docs, spin, broken := glibc.SHAs["release"], glibc.SHAs[glibcDistroCommits[0].Subject], glibc.SHAs[glibcDistroCommits[1].Subject], glibc.SHAs[glibcBroken.Subject]
	work := filepath.Join(realsrc.CacheDir(t), "distro-ci-work")
	dir := t.TempDir()
	text := fmt.Sprintf(`workdir: %s
database: sqlite://%s/tcbot.db
repos:
  - name: linux
    url: %s
    recipe: distro-lamp
    toolchain: host
    host: {armv8: {cc: aarch64-linux-gnu-gcc, cflags: "-O2"}}
  - name: glibc
    url: %s
    recipe: distro-lamp
    toolchain: build
    build: {recipe: glibc}
    distro: {kernel: {repo: linux, rev: %s}}
targets:
  - {name: armv8-vm, arch: armv8, executor: qemu-system, samples: 3, busybox: %s}
`, work, dir, linux.Dir, glibc.Dir, linux.SHAs["release"], busybox)
	path := filepath.Join(dir, "tcbot.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	m, err := measure.New(context.Background(), cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Store.Close()
	run := runChanges(t, m, "glibc")

	rep := run("README commit", docs, base)
	if rep.Verdict != compare.Unchanged || !strings.Contains(fmt.Sprint(rep.Notes), "byte-identical") {
		t.Errorf("README commit: %s, notes %q: want unchanged, the library byte-identical", rep.Verdict, rep.Notes)
	}

	rep = run("a malloc that spins", spin, docs)
	if rep.Verdict != compare.Regression {
		t.Errorf("a malloc that spins: verdict %s, want regression", rep.Verdict)
	}
	ipr := find(rep, "armv8-vm", "lamp-read", "instructions-per-request")
	if ipr == nil || ipr.Verdict != compare.Regression || ipr.Base == nil || *ipr.Base < 100_000 {
		t.Errorf("lamp-read instructions-per-request %+v: want a regression", ipr)
	}
	for _, page := range []string{"lamp-read", "lamp-write"} {
		if c := find(rep, "armv8-vm", page, "requests-per-second"); c == nil || c.Base == nil || c.Head == nil {
			t.Errorf("%s requests-per-second %+v: want both sides measured", page, c)
		}
	}
	if bt := find(rep, "armv8-vm", "glibc", "build-time"); bt == nil || bt.Base == nil || bt.Head == nil {
		t.Errorf("glibc build-time %+v: want it built at both sides", bt)
	}
	if !strings.Contains(rep.Reproduce, "--kernel-url "+linux.Dir+" --kernel-rev "+linux.SHAs["release"]) {
		t.Errorf("reproduce line %q: want the kernel the image boots", rep.Reproduce)
	}

	rep = run("a glibc that does not build", broken, spin)
	if rep.Verdict != compare.Failed {
		t.Errorf("a glibc that does not build: verdict %s, want failed", rep.Verdict)
	}
	if st := find(rep, "armv8-vm", "glibc", "status"); st == nil || st.Verdict != compare.Failed || !strings.Contains(st.Note+fmt.Sprint(rep.Notes), "this_does_not_compile") {
		t.Errorf("glibc status %+v: want failed, quoting the compiler", st)
	}

	msg, err := m.CheckSystem(context.Background(), "armv8-vm", "glibc", spin)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("target check:\n%s", msg)
	if !strings.Contains(msg, "over the image's libc6") || !strings.Contains(msg, "(GNU libc)") || strings.Contains(msg, "Debian GLIBC") {
		t.Errorf("target check: want the revision's C library (GNU libc, not Debian GLIBC) running in the guest:\n%s", msg)
	}
}
