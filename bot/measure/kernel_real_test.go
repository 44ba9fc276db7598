package measure_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tcbot/tcbot/bot/compare"
	"github.com/tcbot/tcbot/bot/config"
	"github.com/tcbot/tcbot/bot/demo"
	"github.com/tcbot/tcbot/bot/kernel/kerneltest"
	"github.com/tcbot/tcbot/bot/measure"
	"github.com/tcbot/tcbot/bot/report"
	"github.com/tcbot/tcbot/bot/result"
	"github.com/tcbot/tcbot/bot/toolchain/build/realsrc"
)

const linuxTarball = "/usr/src/linux-source-6.1.tar.xz"

// The kernel commits on top of Debian's linux-source-6.1: a documentation
// fix (the same kernel), a memcpy that spins before every copy on both
// arches (a kernel change that must show in the boot and the benchmarks),
// and an init that panics (a kernel that does not boot).
var kernelCommits = []demo.Change{
	{Subject: "README: name the kernel's documentation", Edits: []demo.Edit{{
		File: "README", Old: "There are several guides for kernel developers and users.",
		New: "There are several guides for the kernel's developers and users.",
	}}},
	{Subject: "arm64, arm: lib: memcpy: wait before copying", Edits: []demo.Edit{{
		File: "arch/arm64/lib/memcpy.S",
		Old:  "SYM_FUNC_START(__pi_memcpy)\n",
		New:  "SYM_FUNC_START(__pi_memcpy)\n\tmov\tx16, 256\n1:\tsubs\tx16, x16, 1\n\tb.ne\t1b\n",
	}, {
		File: "arch/arm/lib/memcpy.S",
		Old:  "WEAK(memcpy)\n",
		New:  "WEAK(memcpy)\n\tmov\tip, #256\n1:\tsubs\tip, ip, #1\n\tbne\t1b\n",
	}}},
	{Subject: "init: panic before running init", Edits: []demo.Edit{{
		File: "init/main.c",
		Old:  "static int __ref kernel_init(void *unused)\n{\n\tint ret;\n",
		New:  "static int __ref kernel_init(void *unused)\n{\n\tint ret;\n\n\tpanic(\"tcbot: broken on purpose\");\n",
	}}},
}

// TestKernelUnderTest measures real kernel changes: Debian's
// linux-source-6.1 with tinyconfig and the recipe's guest fragment, built
// for arm64 and armhf in incremental trees (kept under the test cache: a
// fresh machine pays two cold builds of about 5 minutes each, later runs
// seconds) and booted under qemu-system on the virt board with the suite.
// The documentation commit gives the same kernel; the slower memcpy shows
// in the boot time on both arches (the guest's clock counts
// instructions); the panicking init is the change's failure.
func TestKernelUnderTest(t *testing.T) {
	if testing.Short() {
		t.Skip("builds Linux for two arches (minutes cold)")
	}
	realsrc.Need(t, linuxTarball, "linux-source-6.1", false)
	g8, g7 := kerneltest.Fetch(t, "armv8"), kerneltest.Fetch(t, "armv7")
	t0 := time.Now()
	repo := realsrc.Make(t, "linux-6.1", linuxTarball, kernelCommits)
	t.Logf("repository ready in %s", time.Since(t0).Round(time.Second))
	base, docs, memcpy, panics := repo.SHAs["release"], repo.SHAs[kernelCommits[0].Subject], repo.SHAs[kernelCommits[1].Subject], repo.SHAs[kernelCommits[2].Subject]
	work := filepath.Join(realsrc.CacheDir(t), "linux-ci-work")
	m := kernelMeasurer(t, t.TempDir(), work, repo.Dir, map[string]string{"armv8": g8.Busybox, "armv7": g7.Busybox})
	defer m.Store.Close()
	run := runChanges(t, m, "linux")
	targets := []string{"armv8-vm", "armv7-vm"}

	rep := run("documentation commit", docs, base)
	for _, tg := range targets {
		size := find(rep, tg, measure.KernelBenchmark, result.KernelSize)
		if size == nil || size.Base == nil || size.Head == nil || *size.Base != *size.Head || *size.Base < 100_000 {
			t.Errorf("%s: kernel-size %+v: want the same real image at both sides", tg, size)
		}
		if boot := find(rep, tg, measure.BootBenchmark, result.BootTime); boot == nil || boot.BaseN < 1 || boot.HeadN < 1 {
			t.Errorf("%s: boot-time %+v: want both sides booted", tg, boot)
		}
		if sha := find(rep, tg, "sha256", result.Time); sha == nil || sha.BaseN < 3 || sha.HeadN < 3 {
			var have []string
			for _, c := range append(rep.Comparisons, rep.Info...) {
				if c.Target == tg {
					have = append(have, fmt.Sprintf("%s/%s(%d,%d)", c.Benchmark, c.Metric, c.BaseN, c.HeadN))
				}
			}
			t.Errorf("%s: sha256 time %+v: want 3 samples a side in the booted kernel; have %s", tg, sha, strings.Join(have, " "))
		}
	}

	memcpyStart := time.Now()
	rep = run("slower memcpy", memcpy, docs)
	for _, tg := range targets {
		boot := find(rep, tg, measure.BootBenchmark, result.BootTime)
		if boot == nil || boot.DeltaPct == nil || *boot.DeltaPct <= 0 {
			t.Errorf("%s: boot time did not grow with a slower memcpy: %+v", tg, boot)
		}
	}
	// Built incrementally: the trees followed the revisions.
	for _, arch := range []string{"armv8", "armv7"} {
		// The newest tree of the arch (a changed config or fragment makes
		// another).
		ms, _ := filepath.Glob(filepath.Join(work, "trees", "linux", "kernel-"+arch+"-*", "build.log"))
		newest, when := "", time.Time{}
		for _, p := range ms {
			if st, err := os.Stat(p); err == nil && st.ModTime().After(when) {
				newest, when = p, st.ModTime()
			}
		}
		if newest == "" {
			t.Fatalf("%s: no kernel tree in %s", arch, work)
		}
		if when.Before(memcpyStart) {
			// The work directory is kept between runs: the kernel of this
			// revision was built by an earlier run and reused, so nothing
			// was built now (a log from before is another build's).
			t.Logf("%s: the memcpy kernel came from the cache of an earlier run", arch)
			continue
		}
		data, _ := os.ReadFile(newest)
		if !strings.Contains(string(data), "incremental build") {
			t.Errorf("%s: the memcpy change was not built incrementally:\n%s", arch, firstLine(string(data)))
		}
	}

	rep = run("init panics", panics, memcpy)
	if rep.Verdict != compare.Failed {
		t.Errorf("a kernel whose init panics: verdict %s, want failed", rep.Verdict)
	}
	for _, tg := range targets {
		if st := find(rep, tg, measure.BootBenchmark, result.Status); st == nil || st.Verdict != compare.Failed {
			t.Errorf("%s: boot status %+v: want failed", tg, st)
		}
	}
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// BenchmarkKernelBuild prints what building a real kernel costs: Debian's
// linux-source-6.1 with tinyconfig and the guest fragment for arm64, cold
// in a fresh workdir, then the memcpy change incremental in the same
// tree, with the boot and the suite (make bench; about 6 minutes on 2
// cores). Its metrics: cold-s and incremental-s (the build alone, from
// the reports' informational build-time), measure-s (the whole cold
// measurement).
func BenchmarkKernelBuild(b *testing.B) {
	realsrc.Need(b, linuxTarball, "linux-source-6.1", false)
	g := kerneltest.Fetch(b, "armv8")
	repo := realsrc.Make(b, "linux-6.1", linuxTarball, kernelCommits)
	docs, memcpy := repo.SHAs[kernelCommits[0].Subject], repo.SHAs[kernelCommits[1].Subject]
	for i := 0; i < b.N; i++ {
		dir := b.TempDir()
		m := kernelMeasurer(b, dir, filepath.Join(dir, "work"), repo.Dir, map[string]string{"armv8": g.Busybox})
		start := time.Now()
		rep, _, err := m.Run(context.Background(), measure.Request{Repo: "linux", Rev: docs, Base: docs})
		if err != nil {
			b.Fatal(err)
		}
		whole := time.Since(start)
		cold := buildTime(b, rep)
		rep, _, err = m.Run(context.Background(), measure.Request{Repo: "linux", Rev: memcpy, Base: docs})
		if err != nil {
			b.Fatal(err)
		}
		incr := buildTime(b, rep)
		m.Store.Close()
		b.ReportMetric(cold, "cold-s")
		b.ReportMetric(incr, "incremental-s")
		b.ReportMetric(whole.Seconds(), "measure-s")
	}
}

// buildTime is the head's kernel build time in rep.
func buildTime(b *testing.B, rep *report.Report) float64 {
	b.Helper()
	for _, c := range append(rep.Info, rep.Comparisons...) {
		if c.Benchmark == measure.KernelBenchmark && c.Metric == result.BuildTime && c.Head != nil {
			return *c.Head
		}
	}
	b.Fatalf("no kernel build-time in the report:\n%+v", rep.Info)
	return 0
}

// kernelMeasurer measures the kernel repository at repoDir, built with
// tinyconfig and the recipe's fragment, on one qemu-system target per
// arch of busybox (arch -> the guest's busybox), with its config and
// database in dir.
func kernelMeasurer(tb testing.TB, dir, work, repoDir string, busybox map[string]string) *measure.Measurer {
	tb.Helper()
	cc := map[string]string{"armv8": "aarch64-linux-gnu-gcc", "armv7": "arm-linux-gnueabihf-gcc"}
	var host, conf, targets strings.Builder
	for _, arch := range []string{"armv8", "armv7"} {
		if busybox[arch] == "" {
			continue
		}
		fmt.Fprintf(&host, "      %s: {cc: %s, cflags: \"-O2\"}\n", arch, cc[arch])
		fmt.Fprintf(&conf, "        %s: [tinyconfig]\n", arch)
		fmt.Fprintf(&targets, "  - {name: %s-vm, arch: %s, executor: qemu-system, samples: 3, boot_timeout: 2m, busybox: %s}\n", arch, arch, busybox[arch])
	}
	text := "workdir: " + work + "\ndatabase: sqlite://" + dir + "/tcbot.db\nrepos:\n  - name: linux\n    url: " + repoDir +
		"\n    recipe: kernel\n    toolchain: host\n    host:\n" + host.String() + "    kernel:\n      config:\n" + conf.String() + "targets:\n" + targets.String()
	path := filepath.Join(dir, "tcbot.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		tb.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		tb.Fatal(err)
	}
	m, err := measure.New(context.Background(), cfg, nil, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// runChanges measures changes of repo with m, failing the test on an
// error and reporting infrastructure errors; it logs each report.
func runChanges(t *testing.T, m *measure.Measurer, repo string) func(what, head, base string) *report.Report {
	return func(what, head, base string) *report.Report {
		t.Helper()
		start := time.Now()
		rep, st, err := m.Run(context.Background(), measure.Request{Repo: repo, Rev: head, Base: base})
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Errors) > 0 {
			t.Errorf("%s: infrastructure errors: %v", what, rep.Errors)
		}
		t.Logf("%s: measured in %s (%d runs):\n%s", what, time.Since(start).Round(time.Second), st.Runs, reportText(t, rep))
		return rep
	}
}
