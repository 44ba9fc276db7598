package demo

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// GCCTarball is Debian's GCC 12 source (package gcc-12-source).
const GCCTarball = "/usr/src/gcc-12/gcc-12.2.0-dfsg.tar.xz"

// GCCChanges are the GCC demo repository's commits on top of the
// release: Debian's fix that makes the dfsg tarball build without its
// stripped documentation, a ChangeLog-only commit (the compiler does not
// change), and a real kind of GCC change: a pass disabled (induction
// variable optimisations), which makes loops execute more instructions on
// both arches.
var GCCChanges = []Change{
	{Subject: "Debian: build without the GFDL documentation", Patch: "/usr/src/gcc-12/debian/patches/gcc-gfdl-build.diff", Strip: 2},
	{Subject: "ChangeLog: note the 12.2.0 release tag", Edits: []Edit{{
		File: "gcc/ChangeLog", Old: "\t* GCC 12.2.0 released.\n", New: "\t* GCC 12.2.0 released (tag releases/gcc-12.2.0).\n",
	}}},
	{Subject: "ivopts: disable induction variable optimizations", Edits: []Edit{{
		File: "gcc/tree-ssa-loop.cc",
		Old:  "  virtual bool gate (function *) { return flag_ivopts != 0; }",
		New:  "  virtual bool gate (function *) { return false; }",
	}}},
}

// GCCConfig is the GCC demo's config: the repository's cc1 built from
// each revision and used through -B by the host's cross gcc.
func GCCConfig(dir string) string {
	return `# tcbot GCC demo configuration (written by tcbot demo --gcc)
database: sqlite://` + filepath.Join(dir, "work", "tcbot.db") + `
workdir: ` + filepath.Join(dir, "work") + `
repos:
  - name: gcc
    url: ` + filepath.Join(dir, "gcc") + `
    branches: [main]
    toolchain: build
    build: {recipe: gcc}
targets:
  - {name: armv7-qemu, arch: armv7, executor: qemu-user}
  - {name: armv8-qemu, arch: armv8, executor: qemu-user}
`
}

// RunGCC runs the GCC demo in o.Dir (keep it: its build trees make the
// next run warm). The first run builds cc1 for both arches from scratch
// (about 20 minutes each on 2 cores); later runs take the built compilers
// from the cache. ok is true when the ChangeLog-only commit came out
// unchanged (identical compiler) and the disabled pass as a regression.
func RunGCC(ctx context.Context, o Options) (ok bool, err error) {
	if _, err := os.Stat(GCCTarball); err != nil {
		return false, fmt.Errorf("%s: not found: install Debian's gcc-12-source (make demo-gcc does)", GCCTarball)
	}
	repoDir := filepath.Join(o.Dir, "gcc")
	if _, err := os.Stat(filepath.Join(repoDir, shasFile)); err != nil {
		fmt.Fprintf(o.Stderr, "demo: making a GCC repository from %s in %s (about a minute)\n", GCCTarball, repoDir)
	}
	shas, err := MakeTarballRepo(repoDir, GCCTarball, GCCChanges)
	if err != nil {
		return false, err
	}
	base, docs, pass := shas[1], shas[2], shas[3]
	wait := "builds GCC's cc1 for both arches unless built before"
	return measureCases(ctx, o, "gcc", repoDir, GCCConfig(o.Dir), []demoCase{
		{what: "the ChangeLog-only commit", want: "unchanged", head: docs, base: base, wait: wait},
		{what: "the disabled pass", want: "regression", head: pass, base: docs, wait: wait},
	})
}
