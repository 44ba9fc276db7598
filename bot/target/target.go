// Package target makes the executor of a configured target. Each executor
// kind (a target's executor: key) is one type in this folder, registered
// in the table below: it says whether this host can run it, makes the
// executor from the target's keys, and says what kind of machine it is,
// so the code that measures never asks which executor a target names.
//
// The executors themselves live in bot/executor (local, qemu-user,
// qemu-system, ssh) and bot/lava; the config keys of each kind are
// checked by the matching entry of bot/config's executor table.
package target

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/sirupsen/logrus"

	"github.com/tcbot/tcbot/bot/config"
	"github.com/tcbot/tcbot/bot/executor"
)

// Kind is one executor kind.
type Kind interface {
	// CanRun reports whether this host can run the target, without
	// running anything (the emulator is installed, the key files or the
	// token are there).
	CanRun(t config.Target) error
	// New makes the executor of the target.
	New(t config.Target, env Env) (executor.Executor, error)
	// Traits says what kind of machine the target is.
	Traits() Traits
	// Machine is what, besides the target's arch, executor, CPU model,
	// emulator and samples, changes its numbers ("" for nothing more); it
	// is folded into measurement keys (ID).
	Machine(t config.Target) (extra string, rehash string)
}

// Traits are what measuring needs to know of a kind of target.
type Traits struct {
	// OnBoard: the benchmarks run on another machine (a board, a lab or a
	// booted guest): the binaries are uploaded per build, one benchmark
	// runs there at a time, and samples are wall times.
	OnBoard bool
	// Batched: each round of runs goes as one batch (executor.Batcher): a
	// LAVA job costs a boot, so one job runs every benchmark and sample
	// of both sides of a round, and nothing is kept between rounds.
	Batched bool
	// BootsKernel: the executor boots a kernel it can be given (a kernel
	// recipe boots the kernel under test there).
	BootsKernel bool
	// Exclusive: one measurement at a time on the target, whichever
	// worker takes it (two at once would time each other).
	Exclusive bool
}

// Env is what making an executor needs of the process.
type Env struct {
	Plugin  string // the instruction-counting plugin (qemu-user)
	Workdir string // caches (kernels, busybox, LAVA's timer)
	Log     logrus.FieldLogger
	// Files are the binaries an executor on another machine uploads.
	Files []string
}

// kinds are the executor kinds by name: a new one is a file of this
// folder and one line here (and its keys in bot/config's table).
var kinds = map[string]Kind{
	"qemu-user":   qemuUser{},
	"qemu-system": qemuSystem{},
	"ssh":         ssh{},
	"lava":        lava{},
}

func lookup(t config.Target) (Kind, error) {
	k, ok := kinds[t.Executor]
	if !ok {
		return nil, fmt.Errorf("target %s: executor %q is not implemented", t.Name, t.Executor)
	}
	return k, nil
}

// New makes the executor of t.
func New(t config.Target, env Env) (executor.Executor, error) {
	k, err := lookup(t)
	if err != nil {
		return nil, err
	}
	return k.New(t, env)
}

// CanRun reports whether this host can run target t's executor, without
// running anything. A `tcbot worker` refuses at start to serve a target
// it cannot run, rather than failing each of its jobs later.
func CanRun(t config.Target) error {
	k, err := lookup(t)
	if err != nil {
		return err
	}
	return k.CanRun(t)
}

// TraitsOf says what kind of machine t is (none for an unknown executor,
// which config validation refuses).
func TraitsOf(t config.Target) Traits {
	if k, ok := kinds[t.Executor]; ok {
		return k.Traits()
	}
	return Traits{}
}

// ID folds into a measurement key what changes a target's numbers: its
// CPU model, emulator and machine (8 hex digits).
func ID(t config.Target) string {
	id := fmt.Sprintf("%s|%s|%s|%s|%d", t.Arch, t.Executor, t.CPU, t.QEMU, t.Samples)
	var rehash string
	if k, ok := kinds[t.Executor]; ok {
		var extra string
		extra, rehash = k.Machine(t)
		id += extra
	}
	h := sha256.Sum256([]byte(id))
	if rehash != "" {
		h = sha256.Sum256(append(h[:], rehash...))
	}
	return hex.EncodeToString(h[:])[:8]
}
