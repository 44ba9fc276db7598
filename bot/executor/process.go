package executor

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/tcbot/tcbot/bot/sandbox"
)

// OutputLimit caps the captured stdout and stderr of one run, so a runaway
// program cannot exhaust memory.
const OutputLimit = 1 << 20

// killGrace is how long a process group has between SIGTERM and SIGKILL.
const killGrace = 2 * time.Second

// capped is a bytes.Buffer that silently drops output beyond its limit.
type capped struct {
	buf   bytes.Buffer
	limit int
	lost  int
}

func (c *capped) Write(p []byte) (int, error) {
	room := c.limit - c.buf.Len()
	if room <= 0 {
		c.lost += len(p)
		return len(p), nil
	}
	if len(p) > room {
		c.buf.Write(p[:room])
		c.lost += len(p) - room
		return len(p), nil
	}
	return c.buf.Write(p)
}

func (c *capped) Bytes() []byte {
	if c.lost > 0 {
		return append(c.buf.Bytes(), []byte("\n[output truncated by tcbot]\n")...)
	}
	return c.buf.Bytes()
}

// runProcess runs argv in its own process group under ctx and the timeout.
// On timeout or cancellation the whole group gets SIGTERM, then SIGKILL
// after killGrace; WaitDelay bounds the wait for pipes a leaked grandchild
// might hold open.
//
// With an enabled sandbox the command runs inside it, seeing mounts (and
// dir, read-only, when no mount holds it).
func runProcess(parent context.Context, sb *sandbox.Sandbox, mounts []sandbox.Mount, dir string, argv, env []string, timeout time.Duration) (*Outcome, error) {
	if timeout <= 0 {
		timeout = time.Hour
	}
	ctx, cancel := context.WithTimeout(parent, timeout)
	defer cancel()

	if sb.Enabled() && dir != "" && !covered(mounts, dir) {
		mounts = append(append([]sandbox.Mount(nil), mounts...), sandbox.RO(dir))
	}
	cmd, err := sb.Command(ctx, argv, env, dir, mounts)
	if err != nil {
		return nil, &InfraError{Op: "start " + argv[0], Err: err}
	}
	var stdout, stderr = &capped{limit: OutputLimit}, &capped{limit: OutputLimit}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	killed := make(chan struct{})
	cmd.Cancel = func() error {
		pgid := cmd.Process.Pid
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		go func() {
			select {
			case <-time.After(killGrace):
				_ = syscall.Kill(-pgid, syscall.SIGKILL)
			case <-killed:
			}
		}()
		return nil
	}
	cmd.WaitDelay = killGrace + time.Second

	start := time.Now()
	err = cmd.Start()
	if err != nil {
		return nil, &InfraError{Op: "start " + argv[0], Err: err}
	}
	err = cmd.Wait()
	wall := time.Since(start)
	close(killed)
	// Whatever the group left behind goes too.
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)

	o := &Outcome{Stdout: stdout.Bytes(), Stderr: stderr.Bytes(), Wall: wall}
	if ps := cmd.ProcessState; ps != nil {
		o.CPU = ps.UserTime() + ps.SystemTime()
		o.ExitCode = ps.ExitCode()
		if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			o.Signal = ws.Signal().String()
		} else if sb.Enabled() && o.ExitCode > 128 && o.ExitCode < 128+65 {
			// bwrap passes a signal that killed the command on as
			// 128+signal.
			o.Signal, o.ExitCode = syscall.Signal(o.ExitCode-128).String(), -1
		}
	}
	if parent.Err() != nil {
		// Cancelled by the caller (shutdown, /tcbot cancel): not the
		// program's fault.
		return o, &InfraError{Op: "run " + argv[0], Err: parent.Err()}
	}
	if ctx.Err() != nil {
		o.TimedOut = true
		return o, nil
	}
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		return o, &InfraError{Op: "wait " + argv[0], Err: err}
	}
	return o, nil
}

// covered reports whether a mount holds path.
func covered(mounts []sandbox.Mount, path string) bool {
	path = filepath.Clean(path)
	for _, m := range mounts {
		p := filepath.Clean(m.Path)
		if path == p || strings.HasPrefix(path, p+"/") {
			return true
		}
	}
	return false
}
