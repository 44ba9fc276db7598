package measure_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tcbot/tcbot/bot/config"
	"github.com/tcbot/tcbot/bot/measure"
)

// TestDistroLAMPLibraryRepoErrors: a repository whose C library the
// distribution scenario swaps in is checked when tcbot starts, and each
// mistake is named with what to write instead.
func TestDistroLAMPLibraryRepoErrors(t *testing.T) {
	const linux = "  - {name: linux, url: /nonexistent/linux, recipe: distro-lamp, toolchain: host, host: {armv8: {cc: aarch64-linux-gnu-gcc}}}\n"
	for _, tc := range []struct{ name, repo, want string }{
		// A compiler under test builds the benchmarks run in the image
		// (bench.go): it needs the kernel the image boots too.
		{"a compiler without a kernel", "build: {recipe: gcc}",
			"distro.kernel: missing: recipe distro-lamp runs the benchmarks built by the toolchain under test"},
		{"no kernel", "build: {recipe: glibc}",
			"distro.kernel: missing: the image boots a fixed kernel when glibc is under test"},
		// glibc linked statically into the benchmarks is their
		// toolchain, not the image's C library.
		{"glibc linked statically without a kernel", "build: {recipe: glibc, use: overlay}",
			"distro.kernel: missing: recipe distro-lamp runs the benchmarks built by the toolchain under test"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			text := "workdir: " + dir + "/work\ndatabase: sqlite://" + dir + "/tcbot.db\nrepos:\n" + linux +
				"  - {name: glibc, url: /nonexistent/glibc, recipe: distro-lamp, toolchain: build, " + tc.repo + "}\n" +
				"targets:\n  - {name: armv8-vm, arch: armv8, executor: qemu-system}\n"
			path := filepath.Join(dir, "tcbot.yaml")
			if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			cfg, err := config.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			m, err := measure.New(context.Background(), cfg, nil, nil)
			if err == nil {
				m.Store.Close()
				t.Fatal("started")
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "repo glibc") {
				t.Errorf("error %q: want it to name repo glibc and say %q", err, tc.want)
			}
		})
	}
}
