package demo

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/tcbot/tcbot/bot/config"
	"github.com/tcbot/tcbot/bot/measure"
	"github.com/tcbot/tcbot/bot/report"
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
// from the cache. ok is true when the documentation commit came out
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
	cfgPath := filepath.Join(o.Dir, "tcbot.yaml")
	if err := os.WriteFile(cfgPath, []byte(GCCConfig(o.Dir)), 0o644); err != nil {
		return false, err
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return false, err
	}
	m, err := measure.New(ctx, cfg, o.Log, o.Progress)
	if err != nil {
		return false, err
	}
	defer m.Store.Close()
	fmt.Fprintf(o.Stderr, "demo: repository %s, config %s\n", repoDir, cfgPath)
	base, docs, pass := shas[1], shas[2], shas[3]
	cases := []struct {
		what, want string
		head, base string
	}{
		{"the documentation commit", "unchanged", docs, base},
		{"the disabled pass", "regression", pass, docs},
	}
	ok = true
	var lines []string
	for _, c := range cases {
		fmt.Fprintf(o.Stderr, "demo: measuring %s %s (builds GCC's cc1 for both arches unless built before)\n", c.what, c.head[:12])
		start := time.Now()
		rep, _, err := m.Run(ctx, measure.Request{Repo: "gcc", Rev: c.head, Base: c.base})
		if err != nil {
			return false, err
		}
		if err := report.Render(o.Stdout, *rep, o.Format); err != nil {
			return false, err
		}
		fmt.Fprintln(o.Stdout)
		mark := "as expected"
		if string(rep.Verdict) != c.want {
			mark = "UNEXPECTED, wanted " + c.want
			ok = false
		}
		lines = append(lines, fmt.Sprintf("demo: %s %s: %s (%s) in %s", c.what, c.head[:12], rep.Verdict, mark, time.Since(start).Round(time.Second)))
	}
	for _, l := range lines {
		fmt.Fprintln(o.Stderr, l)
	}
	return ok, nil
}
