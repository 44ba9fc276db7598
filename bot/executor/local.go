package executor

import (
	"context"
	"fmt"
	"os/exec"
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
	argv[0] = p
	return runProcess(ctx, spec.Dir, argv, spec.Env, spec.Timeout)
}

// Cleanup implements Executor.
func (*Local) Cleanup() error { return nil }
