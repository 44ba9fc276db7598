package measure_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tcbot/tcbot/bot/compare"
	"github.com/tcbot/tcbot/bot/config"
	"github.com/tcbot/tcbot/bot/demo"
	"github.com/tcbot/tcbot/bot/kernel/kerneltest"
	"github.com/tcbot/tcbot/bot/measure"
	"github.com/tcbot/tcbot/bot/measure/measuretest"
	"github.com/tcbot/tcbot/bot/report"
	"github.com/tcbot/tcbot/bot/result"
)

// fakeKbuild is a stand-in for the kernel's top-level Makefile: the
// targets the kernel recipe calls, taking O=, ARCH= and CROSS_COMPILE= as
// kbuild does (and checking them), where "building" the image copies a
// prebuilt Debian kernel. IMAGE_RULE is what each commit changes.
const fakeKbuild = `# tcbot test: a stand-in for kbuild
O ?= .
KERNEL := @KERNEL@
%defconfig:
	test "$(ARCH)" = arm64
	$(CROSS_COMPILE)gcc --version >/dev/null
	test ! -e .config
	mkdir -p $(O) && echo CONFIG_TCBOT_TEST=y > $(O)/.config
olddefconfig:
	grep -q '^CONFIG_SERIAL_AMBA_PL011_CONSOLE=y' $(O)/.config
Image:
	grep -q '^CONFIG_TCBOT_TEST=y' $(O)/.config
	mkdir -p $(O)/arch/arm64/boot
@IMAGE_RULE@
`

// TestKernelStandIn covers, with a stand-in for kbuild that takes
// seconds, what a real kernel (TestKernelUnderTest) would make costly:
// a 1 MiB bigger image is a kernel-size regression; a kernel that does
// not build (a real one is confirmed by a clean build: minutes) or does
// not boot is the change's failure ("failed"), never an infrastructure
// error; a qemu-user target cannot take a kernel.
func TestKernelStandIn(t *testing.T) {
	g := kerneltest.Fetch(t, "armv8")
	dir := t.TempDir()
	if err := measuretest.WriteSuite(filepath.Join(dir, "suite")); err != nil {
		t.Fatal(err)
	}
	// The stand-in copies a real kernel kept in the tree: the build runs
	// in tcbot's sandbox, which sees the tree and nothing else of the host.
	image, err := os.ReadFile(g.Kernel.Path)
	if err != nil {
		t.Fatal(err)
	}
	mk := func(rule string) map[string]string {
		s := strings.ReplaceAll(fakeKbuild, "@KERNEL@", "$(CURDIR)/kernel.prebuilt")
		return map[string]string{"Makefile": strings.ReplaceAll(s, "@IMAGE_RULE@", rule)}
	}
	const copyRule = "\tcp $(KERNEL) $(O)/arch/arm64/boot/Image"
	commits := []demo.Commit{
		{Subject: "base", Files: func() map[string]string {
			f := mk(copyRule)
			f["kernel.prebuilt"] = string(image)
			return f
		}()},
		{Subject: "no-op", Files: map[string]string{"README": "docs\n"}},
		{Subject: "bigger", Files: mk(copyRule + "\n\thead -c 1048576 /dev/zero >> $(O)/arch/arm64/boot/Image")},
		{Subject: "nobuild", Files: mk("\t@echo 'drivers/tty/serial/amba-pl011.c:42: error: broken on purpose' >&2; exit 1")},
		{Subject: "noboot", Files: mk("\thead -c 1048576 $(KERNEL) > $(O)/arch/arm64/boot/Image")},
	}
	shas, err := demo.MakeRepo(filepath.Join(dir, "linux"), commits)
	if err != nil {
		t.Fatal(err)
	}
	sha := map[string]string{}
	for i, c := range commits {
		sha[c.Subject] = shas[i]
	}
	cfgText := `workdir: work
benchmarks_dir: suite
repos:
  - name: linux
    url: linux
    recipe: kernel
    toolchain: host
    host: {armv8: {cc: aarch64-linux-gnu-gcc, cflags: "-O2"}}
    kernel:
      config: {armv8: [tcbot_defconfig]}
targets:
  - {name: armv8-vm, arch: armv8, executor: qemu-system, samples: 3, boot_timeout: 10s, busybox: ` + g.Busybox + `}
  - {name: armv8-user, arch: armv8, executor: qemu-user}
`
	path := filepath.Join(dir, "tcbot.yaml")
	os.WriteFile(path, []byte(cfgText), 0o644)
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	m, err := measure.New(context.Background(), cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Store.Close()
	ctx := context.Background()
	run := func(rev string) (*report.Report, measure.Stats) {
		t.Helper()
		rep, st, err := m.Run(ctx, measure.Request{Repo: "linux", Rev: sha[rev], Base: sha["base"]})
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Errors) > 0 {
			t.Errorf("%s: infrastructure errors: %v", rev, rep.Errors)
		}
		return rep, st
	}

	t.Run("same kernel", func(t *testing.T) {
		rep, _ := run("no-op")
		if rep.Verdict != compare.Unchanged && rep.Verdict != compare.Improvement && rep.Verdict != compare.Regression {
			t.Fatalf("verdict %s:\n%s", rep.Verdict, reportText(t, rep))
		}
		size := find(rep, "armv8-vm", measure.KernelBenchmark, result.KernelSize)
		if size == nil || size.Base == nil || *size.Base != float64(g.Kernel.Size) || size.Verdict != compare.Unchanged {
			t.Errorf("kernel-size: %+v, want %d bytes at both sides", size, g.Kernel.Size)
		}
		// The benchmark binaries are the same at both sides, yet the
		// head runs them: its kernel may differ.
		loop := find(rep, "armv8-vm", "loop", result.Time)
		if loop == nil || loop.BaseN < 3 || loop.HeadN < 3 {
			t.Errorf("loop time: %+v, want 3 samples a side", loop)
		}
		// One boot a side, and one more for each round of resampling.
		if boot := find(rep, "armv8-vm", measure.BootBenchmark, result.BootTime); boot == nil || boot.BaseN < 1 || boot.HeadN != boot.BaseN {
			t.Errorf("boot-time: %+v, want as many boots a side", boot)
		}
	})
	t.Run("bigger kernel", func(t *testing.T) {
		rep, st := run("bigger")
		if st.Reused != 1 {
			t.Errorf("%d measurements reused, want the base's", st.Reused)
		}
		size := find(rep, "armv8-vm", measure.KernelBenchmark, result.KernelSize)
		if size == nil || size.Verdict != compare.Regression || size.Head == nil || *size.Head-*size.Base != 1<<20 {
			t.Fatalf("kernel-size: %+v, want a 1 MiB regression", size)
		}
		if rep.Verdict != compare.Regression {
			t.Errorf("verdict %s", rep.Verdict)
		}
	})
	t.Run("kernel that does not build", func(t *testing.T) {
		rep, _ := run("nobuild")
		if rep.Verdict != compare.Failed {
			t.Fatalf("verdict %s, want failed:\n%s", rep.Verdict, reportText(t, rep))
		}
		st := find(rep, "armv8-vm", measure.KernelBenchmark, result.Status)
		if st == nil || st.Verdict != compare.Failed || !strings.Contains(st.Note, "broken on purpose") {
			t.Errorf("kernel status: %+v, want failed with the compiler's message", st)
		}
		if loop := find(rep, "armv8-vm", "loop", result.Status); loop == nil || !strings.Contains(loop.Note, "the kernel did not build") {
			t.Errorf("loop status: %+v, want not run because the kernel did not build", loop)
		}
	})
	t.Run("kernel that does not boot", func(t *testing.T) {
		rep, _ := run("noboot")
		if rep.Verdict != compare.Failed {
			t.Fatalf("verdict %s, want failed:\n%s", rep.Verdict, reportText(t, rep))
		}
		boot := find(rep, "armv8-vm", measure.BootBenchmark, result.Status)
		if boot == nil || boot.Verdict != compare.Failed || !strings.Contains(boot.Note, "no boot within 10s") {
			t.Errorf("boot status: %+v, want failed: no boot within 10s", boot)
		}
		// It built (a 1 MiB image).
		if ks := find(rep, "armv8-vm", measure.KernelBenchmark, result.KernelSize); ks == nil || ks.Head == nil || *ks.Head != 1<<20 {
			t.Errorf("kernel-size %+v: want the 1 MiB it built", ks)
		}
	})

	// The qemu-user target is left out (it cannot boot a kernel), and
	// asked for alone it says what a kernel recipe needs.
	_, _, err = m.Run(ctx, measure.Request{Repo: "linux", Rev: sha["no-op"], Base: sha["base"], Targets: []string{"armv8-user"}})
	if err == nil || !strings.Contains(err.Error(), "needs a target with executor: qemu-system") {
		t.Errorf("kernel recipe on a qemu-user target: %v", err)
	}
}
