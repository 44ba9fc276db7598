package config

import (
	"fmt"
	"time"

	"github.com/tcbot/tcbot/bot/kernel"
)

// QEMUSystemTarget holds the keys of a target with executor: qemu-system,
// which boots an Arm kernel under qemu-system-aarch64 / qemu-system-arm
// (machine virt) with an initramfs tcbot builds, and runs the benchmarks
// in that guest. The target's qemu and cpu keys name the emulator
// (default qemu-system-aarch64 / qemu-system-arm) and CPU model (default
// cortex-a57 / cortex-a15).
type QEMUSystemTarget struct {
	// Kernel is the kernel to boot (an arm64 Image or an ARM zImage);
	// default: Debian's linux-image-*-arm64 / -armmp, fetched as a
	// package into workdir/kernels.
	Kernel string `yaml:"kernel"`
	// Busybox is a static busybox for the guest (default: Debian's
	// busybox-static for the arch, fetched likewise).
	Busybox string `yaml:"busybox"`
	// Memory is the guest's memory in MiB (default 1024).
	Memory int `yaml:"memory" want:"the guest's memory in MiB, 64 to 16384, such as 1024" min:"64" max:"16384"`
	// BootTimeout bounds a boot, from starting QEMU to the guest's
	// prompt (default 60s).
	BootTimeout Duration `yaml:"boot_timeout" want:"a duration such as 60s or 2m"`
	// KernelArgs are added to the kernel command line.
	KernelArgs string `yaml:"kernel_args"`
	// RealTime runs the guest's clock in real time. By default it counts
	// instructions (QEMU -icount shift=0: 1 ns each while the guest
	// computes), so in-guest times do not move with the host's load.
	RealTime bool `yaml:"real_time"`
}

// Defaults of a qemu-system target.
const (
	DefaultQEMUSystemMemory      = 1024
	DefaultQEMUSystemBootTimeout = 60 * time.Second
)

// qemuSystemDefaults fills the defaults of a qemu-system target.
func (c *Config) qemuSystemDefaults(t *Target) {
	a, err := kernel.LookupArch(t.Arch)
	if err != nil {
		return
	}
	if t.QEMU == "" {
		t.QEMU = a.QEMU
	}
	if t.CPU == "" {
		t.CPU = a.CPU
	}
	if t.Samples == 0 {
		// Timings get the boards' statistics: ~10 samples a side for the
		// false-discovery control to find anything.
		t.Samples = 10
	}
	if t.Informational == nil {
		t.Informational = []string{"compile-time", "boot-time"}
	}
	if t.Memory == 0 {
		t.Memory = DefaultQEMUSystemMemory
	}
	if t.BootTimeout == 0 {
		t.BootTimeout = Duration(DefaultQEMUSystemBootTimeout)
	}
	t.Kernel = c.Abs(t.Kernel)
	t.Busybox = c.Abs(t.Busybox)
}

// qemuSystemKeys are the keys only a qemu-system target has.
var qemuSystemKeys = []string{"kernel", "busybox", "memory", "boot_timeout", "kernel_args", "real_time"}

// refuseQEMUSystem refuses the qemu-system keys on a target of another
// executor.
func (c *Config) refuseQEMUSystem(i int, t Target, bad badFunc) {
	for _, k := range qemuSystemKeys {
		if v, _ := c.walk("targets", i, k); v != nil {
			bad(c.line("targets", i, k), fmt.Sprintf("targets[%d].%s", i, k), "only for executor: qemu-system")
		}
	}
}

// validateQEMUSystem checks the keys of qemu-system target i.
func (c *Config) validateQEMUSystem(i int, t Target, bad badFunc) {
	key := func(k string) string { return fmt.Sprintf("targets[%d].%s", i, k) }
	ln := func(k string) int { return c.line("targets", i, k) }
	if t.Memory < 64 || t.Memory > 16384 {
		bad(ln("memory"), key("memory"), "%d: want the guest's memory in MiB, 64 to 16384 (default %d)", t.Memory, DefaultQEMUSystemMemory)
	}
	if t.BootTimeout < 0 {
		bad(ln("boot_timeout"), key("boot_timeout"), "%v is negative: want a duration such as 60s or 2m", time.Duration(t.BootTimeout))
	}
	if t.RunWrapper != nil {
		bad(ln("run_wrapper"), key("run_wrapper"), "only for executor: ssh (a qemu-system guest runs the benchmarks itself)")
	}
}
