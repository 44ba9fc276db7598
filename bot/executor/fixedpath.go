package executor

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// FixedDir is the directory every benchmark is executed from under
// qemu-user, on every host and every run. QEMU's linux-user loader resolves
// the executable with realpath() and copies that path onto the guest's
// initial stack, so the stack layout, and with it the instruction count,
// moves with the length of the directory a binary is run from: the same
// binary counted 9 more instructions from a 68-character directory than
// from a short one. Running it as FixedDir-<slot>/<name> makes the count a
// property of the binary and its arguments alone.
//
// Concurrent runs on one host take different slots (FixedDir-0,
// FixedDir-1, ...): the slot number is one digit, so the path keeps its
// length, and no benchmark reads the string itself (TestFixedPath checks
// that two slots and two workdirs of different lengths count the same).
const FixedDir = "/tmp/tcbot-bench"

// maxSlots bounds the concurrent runs on one host that keep the same path
// length (one digit).
const maxSlots = 10

// fixedCopy places the binary at FixedDir-<slot>/<base name> in a slot no
// other run holds, and returns its path and a release func that removes it
// and frees the slot. The slot is held with flock, so several tcbot
// processes on one host (a server and its tests) never share one.
func fixedCopy(bin string) (string, func(), error) {
	for i := 0; i < maxSlots; i++ {
		dir := FixedDir + "-" + strconv.Itoa(i)
		lock, err := os.OpenFile(dir+".lock", os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			continue // another user's slot
		}
		if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			lock.Close()
			continue
		}
		release := func() {
			os.RemoveAll(dir)
			syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
			lock.Close()
		}
		// Whatever a crashed run left here is ours now.
		if err := os.RemoveAll(dir); err != nil {
			release()
			continue
		}
		if err := os.Mkdir(dir, 0o755); err != nil {
			release()
			continue
		}
		exe := filepath.Join(dir, filepath.Base(bin))
		if err := linkOrCopy(bin, exe); err != nil {
			release()
			return "", nil, fmt.Errorf("place %s at the fixed path %s: %w", bin, exe, err)
		}
		return exe, release, nil
	}
	return "", nil, fmt.Errorf("all %d fixed benchmark paths %s-0..%d are busy or not writable (remove stale ones, or run fewer benchmarks at once)", maxSlots, FixedDir, maxSlots-1)
}

func linkOrCopy(src, dst string) error {
	if err := os.Link(src, dst); err == nil {
		return nil
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
