package target

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/tcbot/tcbot/bot/config"
	"github.com/tcbot/tcbot/bot/executor"
)

// qemuSystem boots an Arm kernel under qemu-system and runs the
// benchmarks in that guest; Debian's kernel and busybox are cached in
// workdir/kernels.
type qemuSystem struct{}

func (qemuSystem) CanRun(t config.Target) error { return emulatorInstalled(t, "qemu-system-arm") }

func (qemuSystem) New(t config.Target, env Env) (executor.Executor, error) {
	return &executor.QEMUSystem{
		Arch: t.Arch, QEMU: t.QEMU, CPU: t.CPU, MemoryMiB: t.Memory,
		Kernel: t.Kernel, Busybox: t.Busybox, KernelArgs: t.KernelArgs,
		KernelCache: kernelCache(env),
		BootTimeout: time.Duration(t.BootTimeout),
		RealTime:    t.RealTime,
		Files:       env.Files,
	}, nil
}

func (qemuSystem) Traits() Traits { return Traits{OnBoard: true, BootsKernel: true} }

// Machine: the guest's kernel, busybox, memory and clock are its machine.
func (qemuSystem) Machine(t config.Target) (string, string) {
	return "", fmt.Sprintf("|%s|%s|%d|%s|%t", t.Kernel, t.Busybox, t.Memory, t.KernelArgs, t.RealTime)
}

// kernelCache is where Debian's kernels and busybox are kept (bot/kernel's
// cache, shared by qemu-system and LAVA targets).
func kernelCache(env Env) string { return filepath.Join(env.Workdir, "kernels") }
