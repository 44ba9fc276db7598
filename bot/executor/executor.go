// Package executor runs commands for tcbot: compilers on the host, benchmark
// binaries under emulation or (later) on boards and in labs. Every executor
// implements the same contract and lifecycle:
//
//	Prepare(ctx)    check the executor can work (tools present) and set up
//	                whatever a run needs; called once before any Run.
//	Run(ctx, spec)  run one command with the spec's timeout and collect what
//	                it produced (exit status, capped stdout/stderr, CPU time,
//	                counters such as guest instructions) into an Outcome.
//	Cleanup()       release everything Prepare and Run created. Safe to call
//	                twice, concurrently with nothing, and after a failed
//	                Prepare.
//
// Run returns an error only for infrastructure failures (the emulator is
// missing, a counter file was not written): the caller reports those as
// "error", never as a regression. A command that ran and failed (non-zero
// exit, crash, timeout) is a normal Outcome.
//
// Executors know nothing of GitHub, the queue or reports.
package executor

import (
	"github.com/tcbot/tcbot/bot/result"

	"context"
	"fmt"
	"time"

	"github.com/tcbot/tcbot/bot/sandbox"
)

// Spec is one command to run.
type Spec struct {
	// Name labels the run in logs and errors ("armv8/sha256").
	Name string
	// Dir is the working directory. For target executors it holds the
	// binary, and Argv[0] names it relative to Dir ("./sha256").
	Dir  string
	Argv []string
	// Env is the exact environment of the command: nothing is inherited.
	Env     []string
	Timeout time.Duration
	// Sandbox, when enabled, runs the command where it reaches nothing of
	// tcbot's (see bot/sandbox): the executors that run it on this host
	// (local, qemu-user) honour it. Everything from a revision under
	// test runs so.
	Sandbox *sandbox.Sandbox
	// Mounts are the host paths a sandboxed command sees besides the host
	// system; Dir is added read-only when no mount holds it.
	Mounts []sandbox.Mount
}

// Outcome is what a run produced.
type Outcome struct {
	ExitCode int // -1 when killed by a signal
	Signal   string
	TimedOut bool
	Stdout   []byte // capped at OutputLimit
	Stderr   []byte // capped at OutputLimit
	Wall     time.Duration
	// CPU is user+system time of the process and its waited-for children.
	CPU time.Duration
	// Instructions is the guest instruction count when the executor counts
	// them (qemu-user with the plugin); 0 otherwise.
	Instructions uint64
	HasCounts    bool
	// Profile is Instructions per function of the binary that ran, largest
	// first, when the executor attributes them (qemu-user); nil otherwise.
	Profile []result.FunctionCount
}

// OK reports whether the command exited 0.
func (o *Outcome) OK() bool { return o.ExitCode == 0 && !o.TimedOut && o.Signal == "" }

// Describe says in a few words how the run ended.
func (o *Outcome) Describe() string {
	switch {
	case o.TimedOut:
		return "timed out"
	case o.Signal != "":
		return "killed by signal " + o.Signal
	case o.ExitCode != 0:
		return fmt.Sprintf("exit status %d", o.ExitCode)
	}
	return "ok"
}

// Executor is the contract every executor implements (see package doc).
type Executor interface {
	Name() string
	Prepare(ctx context.Context) error
	Run(ctx context.Context, spec Spec) (*Outcome, error)
	Cleanup() error
}

// Batcher is implemented by executors whose every run costs a large fixed
// overhead (a LAVA job boots a kernel first): the runner hands them all
// the runs of a round at once, in the order they should run (samples
// interleaved), instead of one Run each. RunBatch returns one Outcome per
// spec, in order, or an error (an *InfraError when the infrastructure
// failed) and no outcomes. Run still works, as a batch of one.
type Batcher interface {
	RunBatch(ctx context.Context, specs []Spec) ([]*Outcome, error)
}

// InfraError marks a failure of the infrastructure, not of the thing
// measured.
type InfraError struct {
	Op  string
	Err error
}

func (e *InfraError) Error() string { return e.Op + ": " + e.Err.Error() }
func (e *InfraError) Unwrap() error { return e.Err }
