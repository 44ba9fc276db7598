package measure_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tcbot/tcbot/bot/config"
	"github.com/tcbot/tcbot/bot/demo"
	"github.com/tcbot/tcbot/bot/kernel/kerneltest"
	"github.com/tcbot/tcbot/bot/measure"
	"github.com/tcbot/tcbot/bot/report"
	"github.com/tcbot/tcbot/bot/result"
	"github.com/tcbot/tcbot/bot/toolchain/build/realsrc"
)

const linuxTarball = "/usr/src/linux-source-6.1.tar.xz"

// slowMemcpy makes the arm64 kernel's memcpy spin before every copy: a
// kernel change that must show in the boot and in the benchmarks.
var slowMemcpy = demo.Change{Subject: "arm64: lib: memcpy: wait before copying", Edits: []demo.Edit{{
	File: "arch/arm64/lib/memcpy.S",
	Old:  "SYM_FUNC_START(__pi_memcpy)\n",
	New:  "SYM_FUNC_START(__pi_memcpy)\n\tmov\tx16, 256\n1:\tsubs\tx16, x16, 1\n\tb.ne\t1b\n",
}}}

// TestRealKernel measures a real kernel change: Debian's linux-source-6.1
// with tinyconfig and the recipe's guest fragment, built for arm64 in an
// incremental tree and booted under qemu-system with the suite; the
// slower memcpy shows in the boot time and the benchmarks' times (the
// guest's clock counts instructions). Measured here: boot +4.16%, the
// suite's time +0.19% (under min_effect, so no regression is declared),
// 11.5 minutes cold with other builds running. Opt in with
// TCBOT_TEST_REAL=1.
func TestRealKernel(t *testing.T) {
	if os.Getenv("TCBOT_TEST_REAL") == "" {
		t.Skip("set TCBOT_TEST_REAL=1 (make test-real): builds Linux from source")
	}
	realsrc.Need(t, linuxTarball, "linux-source-6.1", true)
	g := kerneltest.Fetch(t, "armv8")
	repo := realsrc.Make(t, "linux-6.1", linuxTarball, []demo.Change{slowMemcpy})
	work := filepath.Join(realsrc.CacheDir(t), "linux-work")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "tcbot.yaml"), []byte(`workdir: `+work+`
database: sqlite://`+dir+`/tcbot.db
repos:
  - name: linux
    url: `+repo.Dir+`
    recipe: kernel
    toolchain: host
    host: {armv8: {cc: aarch64-linux-gnu-gcc, cflags: "-O2"}}
    kernel:
      config: {armv8: [tinyconfig]}
targets:
  - {name: armv8-vm, arch: armv8, executor: qemu-system, samples: 5, boot_timeout: 2m, busybox: `+g.Busybox+`}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(filepath.Join(dir, "tcbot.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := measure.New(context.Background(), cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Store.Close()
	start := time.Now()
	rep, st, err := m.Run(context.Background(), measure.Request{Repo: "linux", Rev: repo.SHAs[slowMemcpy.Subject], Base: repo.SHAs["release"]})
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	report.Text(&text, *rep)
	t.Logf("kernel change measured in %s (%d runs):\n%s", time.Since(start).Round(time.Second), st.Runs, text.String())
	boot := find(rep, "armv8-vm", "boot", result.BootTime)
	if boot == nil || boot.DeltaPct == nil || *boot.DeltaPct <= 0 {
		t.Errorf("boot time did not grow with a slower memcpy: %+v", boot)
	}
	// The suite's own time moves by less than min_effect (its programs
	// rarely call the kernel's memcpy): it must move up, not be called a
	// regression.
	var grew bool
	for _, g := range rep.Geomeans {
		if g.Target == "armv8-vm" && g.Metric == result.Time && g.DeltaPct > 0 {
			grew = true
		}
	}
	if !grew {
		t.Errorf("the benchmarks' time under the slower kernel did not grow: %+v", rep.Geomeans)
	}
}
