package executor

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"

	"github.com/tcbot/tcbot/bot/sandbox"
)

// Local runs commands on the tcbot host (compilers, scripts).
type Local struct{}

// NewLocal returns the local executor.
func NewLocal() *Local { return &Local{} }

// Name implements Executor.
func (*Local) Name() string { return "local" }

// Prepare implements Executor; the host needs nothing set up.
func (*Local) Prepare(context.Context) error { return nil }

// Run implements Executor. Argv[0] is looked up in the PATH of spec.Env
// when it has no slash (falling back to tcbot's own PATH).
func (*Local) Run(ctx context.Context, spec Spec) (*Outcome, error) {
	if len(spec.Argv) == 0 {
		return nil, &InfraError{Op: "run " + spec.Name, Err: fmt.Errorf("empty command")}
	}
	argv := append([]string(nil), spec.Argv...)
	p, err := exec.LookPath(argv[0])
	if err != nil {
		return nil, &InfraError{Op: "run " + spec.Name, Err: fmt.Errorf("%s not found: %w", argv[0], err)}
	}
	if !filepath.IsAbs(p) {
		if abs, err := filepath.Abs(p); err == nil {
			p = abs
		}
	}
	argv[0] = p
	mounts := spec.Mounts
	if spec.Sandbox.Enabled() && !covered(mounts, p) {
		// A program outside /usr (a compiler under /opt) must be visible.
		mounts = append(append([]sandbox.Mount(nil), mounts...), sandbox.HostMounts(p)...)
	}
	return runProcess(ctx, spec.Sandbox, mounts, spec.Dir, argv, spec.Env, spec.Timeout)
}

// Cleanup implements Executor.
func (*Local) Cleanup() error { return nil }
