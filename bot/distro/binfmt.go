package distro

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"

	"github.com/tcbot/tcbot/bot/kernel"
)

// binfmtDir is where binfmt_misc is mounted.
const binfmtDir = "/proc/sys/fs/binfmt_misc"

// qemuUser are the binfmt_misc registrations of qemu-user-static for
// Debian's Arm arches: ELF magic and mask as Debian's qemu-user-binfmt
// registers them.
var qemuUser = map[string]struct{ name, magic, mask, interp string }{
	"arm64": {"tcbot-qemu-aarch64",
		`\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00`,
		`\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff`,
		"/usr/bin/qemu-aarch64-static"},
	"armhf": {"tcbot-qemu-arm",
		`\x7fELF\x01\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x28\x00`,
		`\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff`,
		"/usr/bin/qemu-arm-static"},
}

// canExec reports whether the host runs debArch's binaries already
// (arch-test, from the package of that name).
func canExec(ctx context.Context, debArch string) bool {
	return exec.CommandContext(ctx, "arch-test", debArch).Run() == nil
}

// errNeedsRoot: registering qemu-user in binfmt_misc needs root.
var errNeedsRoot = errors.New("registering qemu-user in binfmt_misc needs root")

// binfmtLock serializes tcbot's changes to binfmt_misc on the host;
// binfmtMounted records that a tcbot mounted it, so that the last tcbot
// registration to go unmounts it, whichever build started first.
const (
	binfmtLock    = "/run/lock/tcbot-binfmt.lock"
	binfmtMounted = "/run/lock/tcbot-binfmt.mounted"
)

// enableForeign makes the host run debArch's binaries through
// qemu-user-static, as root: it mounts binfmt_misc if it is not mounted
// and registers the interpreter under tcbot's own name if nothing runs
// them yet. The returned undo unregisters what was registered and, when
// tcbot mounted binfmt_misc and no tcbot registration is left (another
// arch's build may still run), unmounts it: what was there before stays.
func enableForeign(ctx context.Context, debArch string) (undo func() error, err error) {
	nothing := func() error { return nil }
	if canExec(ctx, debArch) {
		return nothing, nil
	}
	if os.Geteuid() != 0 {
		return nil, errNeedsRoot
	}
	q, ok := qemuUser[debArch]
	if !ok {
		return nil, fmt.Errorf("no qemu-user registration for %s", debArch)
	}
	if _, err := os.Stat(q.interp); err != nil {
		return nil, fmt.Errorf("%s: %w (install qemu-user-static)", q.interp, err)
	}
	os.MkdirAll(filepath.Dir(binfmtLock), 0o755)
	unlock, err := kernel.LockFile(ctx, binfmtLock)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if _, err := os.Stat(filepath.Join(binfmtDir, "register")); err != nil {
		if err := syscall.Mount("binfmt_misc", binfmtDir, "binfmt_misc", 0, ""); err != nil {
			return nil, fmt.Errorf("mount binfmt_misc on %s: %w", binfmtDir, err)
		}
		if err := os.WriteFile(binfmtMounted, nil, 0o644); err != nil {
			syscall.Unmount(binfmtDir, 0)
			return nil, err
		}
	}
	entry := filepath.Join(binfmtDir, q.name)
	registered := false
	if _, err := os.Stat(entry); err != nil {
		// F: the interpreter is opened now, so it works in a chroot.
		reg := fmt.Sprintf(":%s:M::%s:%s:%s:F", q.name, q.magic, q.mask, q.interp)
		if err := os.WriteFile(filepath.Join(binfmtDir, "register"), []byte(reg), 0); err != nil {
			return nil, fmt.Errorf("register %s in binfmt_misc: %w", q.interp, err)
		}
		registered = true
	}
	return func() error {
		unlock, err := kernel.LockFile(context.Background(), binfmtLock)
		if err != nil {
			return err
		}
		defer unlock()
		if registered {
			if err := os.WriteFile(entry, []byte("-1"), 0); err != nil {
				return fmt.Errorf("unregister %s: %w", entry, err)
			}
		}
		if _, err := os.Stat(binfmtMounted); err != nil {
			return nil // mounted by someone else, or already unmounted
		}
		for _, o := range qemuUser {
			if _, err := os.Stat(filepath.Join(binfmtDir, o.name)); err == nil {
				return nil // another build still uses it: it unmounts
			}
		}
		if err := syscall.Unmount(binfmtDir, 0); err != nil {
			return fmt.Errorf("unmount %s: %w", binfmtDir, err)
		}
		return os.Remove(binfmtMounted)
	}, nil
}
