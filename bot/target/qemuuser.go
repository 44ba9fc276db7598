package target

import (
	"fmt"
	"os/exec"

	"github.com/tcbot/tcbot/bot/config"
	"github.com/tcbot/tcbot/bot/executor"
)

// qemuUser runs each benchmark under qemu-user on this host, counting its
// instructions with the plugin.
type qemuUser struct{}

func (qemuUser) CanRun(t config.Target) error { return emulatorInstalled(t, "qemu-user") }

func (qemuUser) New(t config.Target, env Env) (executor.Executor, error) {
	return &executor.QEMUUser{QEMU: t.QEMU, CPU: t.CPU, Plugin: env.Plugin}, nil
}

func (qemuUser) Traits() Traits { return Traits{} }

func (qemuUser) Machine(config.Target) (string, string) { return "", "" }

// emulatorInstalled checks the target's emulator is on this host; pkg is
// the Debian package that has it.
func emulatorInstalled(t config.Target, pkg string) error {
	if _, err := exec.LookPath(t.QEMU); err != nil {
		return fmt.Errorf("target %s: %s is not installed here (%v): install Debian's %s (deploy/install-deps.sh)", t.Name, t.QEMU, err, pkg)
	}
	return nil
}
