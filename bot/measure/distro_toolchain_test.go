package measure_test

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tcbot/tcbot/benchmarks"
	"github.com/tcbot/tcbot/bot/compare"
	"github.com/tcbot/tcbot/bot/config"
	"github.com/tcbot/tcbot/bot/demo"
	"github.com/tcbot/tcbot/bot/kernel/kerneltest"
	"github.com/tcbot/tcbot/bot/measure"
	"github.com/tcbot/tcbot/bot/result"
	"github.com/tcbot/tcbot/bot/suite"
	"github.com/tcbot/tcbot/bot/toolchain/build/realsrc"
)

// faultSource is the benchmark TestDistroLAMPWithToolchain adds to the
// suite: crc32, which crashes when built with -DTCBOT_TEST_FAULT (a
// miscompile's stand-in).

const faultSource = `/* fault.c - crc32, which crashes first when built with -DTCBOT_TEST_FAULT */
#define main crc32_main
#include "crc32.c"
#undef main

int main(int argc, char **argv)
{
#ifdef TCBOT_TEST_FAULT
    volatile int *volatile p = 0;
    *p = 1;
#endif
    return crc32_main(argc, argv);
}
`

// distroToolchainManifest is a manifest of the toolchain repository.
func distroToolchainManifest(cflags string) string {
	return "# Which compiler builds the benchmarks, per arch (read by tcbot).\narmv8: {cc: aarch64-linux-gnu-gcc, cflags: \"" + cflags + "\"}\n"
}

// distroToolchainCommits: a baseline at -O2, a documentation commit, the
// optimiser switched off, and a flag that makes one benchmark crash.
var distroToolchainCommits = []demo.Commit{
	{Subject: "toolchain: GCC 12 at -O2", Files: map[string]string{
		"tcbot-toolchain.yaml": distroToolchainManifest("-O2"), "README": "A toolchain for the Debian image.\n"}},
	{Subject: "docs: say where the image comes from", Files: map[string]string{
		"README": "A toolchain for the Debian image (bookworm, built by tcbot).\n"}},
	{Subject: "opts: build at -O0 to work around a miscompile", Files: map[string]string{
		"tcbot-toolchain.yaml": distroToolchainManifest("-O0")}},
	{Subject: "opts: -DTCBOT_TEST_FAULT", Files: map[string]string{
		"tcbot-toolchain.yaml": distroToolchainManifest("-O0 -DTCBOT_TEST_FAULT")}},
}

// TestDistroLAMPWithToolchain measures a toolchain repository on the
// Debian image: each side's toolchain (a manifest) builds the benchmarks,
// which run inside the image booted with the kernel TestDistroLAMP builds
// (its release, pinned by distro.kernel; the same cached kernel and
// image), each run counted between markrun's marks: the whole suite and
// fault, 3 samples a side. A documentation commit is unchanged without
// measuring; -O0 is a regression in every benchmark's
// system-instructions; a benchmark that crashes in the guest fails, and
// the others, identical binaries, are unchanged without running.
func TestDistroLAMPWithToolchain(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a Debian image with a kernel built from Linux (minutes cold)")
	}
	realsrc.Need(t, linuxTarball, "linux-source-6.1", false)
	for _, tool := range []string{"mmdebstrap", "genext2fs", "arch-test", "qemu-aarch64-static"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s missing (make test-deps installs it)", tool)
			}
			t.Skipf("%s missing (make test-deps installs it)", tool)
		}
	}
	busybox := kerneltest.Fetch(t, "armv8").Busybox
	linux := realsrc.Make(t, "linux-6.1-distro", linuxTarball, distroCommits)
	work := filepath.Join(realsrc.CacheDir(t), "distro-ci-work")
	dir := t.TempDir()
	benchDir := filepath.Join(dir, "benchmarks")
	names := distroToolchainBenchmarks(t, benchDir)
	tcDir := filepath.Join(dir, "toolchain")
	shas, err := demo.MakeRepo(tcDir, distroToolchainCommits)
	if err != nil {
		t.Fatal(err)
	}
	release, docs, o0, fault := shas[0], shas[1], shas[2], shas[3]
	text := fmt.Sprintf(`workdir: %s
database: sqlite://%s/tcbot.db
benchmarks_dir: %s
repos:
  - name: linux
    url: %s
    recipe: distro-lamp
    toolchain: host
    host: {armv8: {cc: aarch64-linux-gnu-gcc, cflags: "-O2"}}
  - name: toolchain
    url: %s
    recipe: distro-lamp
    toolchain: manifest
    distro: {kernel: {repo: linux, rev: %s}}
targets:
  - {name: armv8-vm, arch: armv8, executor: qemu-system, samples: 3, busybox: %s}
`, work, dir, benchDir, linux.Dir, tcDir, linux.SHAs["release"], busybox)
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
	run := runChanges(t, m, "toolchain")
	const tg = "armv8-vm"
	benches := append(append([]string{}, names...), "fault")

	rep := run("documentation commit", docs, release)
	if rep.Verdict != compare.Unchanged || !strings.Contains(fmt.Sprint(rep.Notes), "unchanged without measuring") {
		t.Errorf("documentation commit: %s, notes %q: want unchanged without measuring", rep.Verdict, rep.Notes)
	}

	rep = run("-O0", o0, docs)
	if rep.Verdict != compare.Regression {
		t.Errorf("-O0: verdict %s, want regression", rep.Verdict)
	}
	for _, b := range benches {
		c := find(rep, tg, b, result.SystemInstructions)
		if c == nil || c.Base == nil || c.Head == nil || c.BaseN != 3 || c.HeadN != 3 {
			t.Errorf("%s system-instructions %+v: want 2 samples at both sides", b, c)
			continue
		}
		t.Logf("%s: system-instructions base %.0f, head %.0f (%+.2f%%)", b, *c.Base, *c.Head, *c.DeltaPct)
		if c.Verdict != compare.Regression || *c.Base < 1e6 {
			t.Errorf("%s system-instructions: %s, base %.0f: want a regression of a real count", b, c.Verdict, *c.Base)
		}
		if st := find(rep, tg, b, result.Status); st != nil {
			t.Errorf("%s status %+v: want passing at both sides (no status comparison)", b, st)
		}
	}
	if boot := find(rep, tg, measure.BootBenchmark, result.BootTime); boot == nil || boot.BaseN < 1 || boot.HeadN < 1 {
		t.Errorf("boot-time %+v: want both sides booted", boot)
	}

	rep = run("a benchmark that crashes", fault, o0)
	if rep.Verdict != compare.Failed {
		t.Errorf("a benchmark that crashes: verdict %s, want failed", rep.Verdict)
	}
	if st := find(rep, tg, "fault", result.Status); st == nil || st.Verdict != compare.Failed || !strings.Contains(st.Note, "signal") {
		t.Errorf("fault status %+v: want failed, killed by a signal", st)
	}
	for _, b := range names {
		if c := find(rep, tg, b, result.SystemInstructions); c == nil || c.Verdict != compare.Unchanged {
			t.Errorf("%s system-instructions %+v: want unchanged (the same binary)", b, c)
		}
	}
}

// distroToolchainBenchmarks writes tcbot's benchmark directory to dir with
// fault added to the suite, and returns the suite's benchmarks.
func distroToolchainBenchmarks(t *testing.T, dir string) []string {
	t.Helper()
	err := fs.WalkDir(benchmarks.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(benchmarks.FS, p)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(p)), 0o755); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, p), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	s, err := suite.Load(benchmarks.FS, "benchmarks")
	if err != nil {
		t.Fatal(err)
	}
	crc32, ok := s.Benchmark("crc32")
	if !ok {
		t.Fatal("no crc32 in the suite")
	}
	var names []string
	for _, b := range s.Benchmarks {
		names = append(names, b.Name)
	}
	manifest, _ := fs.ReadFile(benchmarks.FS, suite.Manifest)
	manifest = fmt.Appendf(manifest, "  - name: fault\n    description: \"crc32, crashing when built with -DTCBOT_TEST_FAULT\"\n    sources: [fault.c]\n    args: [%q]\n    checksum: %q\n",
		strings.Join(crc32.Args, ""), crc32.Checksum)
	if err := os.WriteFile(filepath.Join(dir, suite.Manifest), manifest, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "fault.c"), []byte(faultSource), 0o644); err != nil {
		t.Fatal(err)
	}
	return names
}
