// Package kinds is the seam between measuring a change and the recipe
// kinds (a recipe's kind: key). Measurer.Run (bot/measure) takes every
// change down one path, whatever its recipe:
//
//	resolve  Job.Resolve: what each side measures on each target (the
//	         measurement's key); Measurer then reuses what the store holds
//	build    Job.Build: build what the sides still need
//	run      Job.Run: run it, base and head interleaved
//	collect  Job.Collect: each new measurement; Measurer stores it
//	compare  Job.Compare tunes the comparison; Measurer compares, reports
//
// Each kind is a folder here (suite, kernel, kas, distro) and one line of
// bot/measure's table; the orchestrator never asks which kind it has.
package kinds

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/tcbot/tcbot/bot/compare"
	"github.com/tcbot/tcbot/bot/config"
	"github.com/tcbot/tcbot/bot/executor"
	"github.com/tcbot/tcbot/bot/progress"
	"github.com/tcbot/tcbot/bot/recipe"
	"github.com/tcbot/tcbot/bot/sandbox"
	"github.com/tcbot/tcbot/bot/source"
	"github.com/tcbot/tcbot/bot/store"
	"github.com/tcbot/tcbot/bot/suite"
	"github.com/tcbot/tcbot/bot/toolchain"
)

// Kind is one recipe kind.
type Kind interface {
	// Check tells whether a repository's config and recipe fit this kind
	// (tcbot config check, and every start).
	Check(env CheckEnv, repo *config.Repo, rec *recipe.Recipe) error
	// Start begins measuring one change; it may narrow c.Targets to
	// those the kind can measure on.
	Start(ctx context.Context, env *Env, c *Change) (Job, error)
}

// TreeChecker is implemented by kinds whose recipes use a tree that
// tcbot config check validates in depth (kas: the OpenEmbedded files
// against kas's schema); it says what it checked.
type TreeChecker interface {
	CheckTree(recipes, benchmarks fs.FS) (string, error)
}

// Job measures one change; Measurer.Run calls its methods in order, and
// Close at the end.
type Job interface {
	// Resolve decides, for each side and target, the key of the
	// measurement to reuse or make (Side.Key), a measurement already
	// decided (Side.Meas), or a failure (Side.Fail and Change.Infra).
	Resolve(ctx context.Context, c *Change) error
	// Build builds what the sides still need (Change.Todo).
	Build(ctx context.Context, c *Change) error
	// Run runs what was built, base and head interleaved.
	Run(ctx context.Context, c *Change) error
	// Collect is the new measurement of side sd on target t.
	Collect(c *Change, sd *Side, t config.Target) (*store.Measurement, error)
	// Compare tunes the comparison of the change's results.
	Compare(opts *compare.Options, targets []config.Target)
	// Close releases what the job kept (booted guests); safe to call
	// after any step failed.
	Close()
}

// CheckEnv is what Kind.Check may read: the config, the recipes tree and
// the benchmark suite.
type CheckEnv struct {
	Config       *config.Config
	Recipes      fs.FS
	RecipesWhere string
	Suite        *suite.Suite
	SuiteWhere   string
}

// Env is what a job may use of the measuring process.
type Env struct {
	Config   *config.Config
	Suite    *suite.Suite
	Recipe   *recipe.Recipe // the recipe of the repository measured
	Sandbox  *sandbox.Sandbox
	Log      logrus.FieldLogger
	Progress progress.Reporter
	// Busy counts the wall time during which a subprocess runs.
	Busy *Activity
	// Stats are the counts of the Run in progress.
	Stats *Stats
	// Toolchains resolves a side's toolchain per arch.
	Toolchains *toolchain.Resolver
	// SuiteVersion covers the suite, the recipe and the measuring method.
	SuiteVersion string
	// NewExecutor makes the executor of a target; files are the binaries
	// an executor on another machine uploads.
	NewExecutor func(t config.Target, files []string) (executor.Executor, error)
	// BuildProgress returns the function a long build of what reports
	// its progress to (the dashboard's Activity and the log).
	BuildProgress func(what string) func(step string, elapsed time.Duration, last string)
	// Sources are the recipes tree and the benchmark suite's files.
	Recipes, Benchmarks fs.FS
	// Plugin is the QEMU instruction-counting plugin (insncount.so).
	Plugin string
}

// MethodVersion changes whenever tcbot changes how it measures (what a
// metric counts, how a binary is run), so results measured the old way are
// never compared with results measured the new way.
const MethodVersion = "3" // 3: benchmarks run from executor.FixedDir

// Change is one change being measured.
type Change struct {
	Repo    *config.Repo
	Mirror  *source.Mirror
	Targets []config.Target
	Sides   [2]*Side // base, head
	// Infra are the infrastructure errors met, for the report.
	Infra []string
	// Unchanged, set by Resolve, says why nothing needs measuring (a
	// toolchain byte-identical to the base's).
	Unchanged string
}

// Todo reports whether side sd still needs a measurement on target t:
// none was stored or decided, and nothing failed.
func (c *Change) Todo(sd *Side, t config.Target) bool {
	return sd.Meas[t.Name] == nil && !sd.HasFailed(t.Name)
}

// Side is the base or the head of a change.
type Side struct {
	Name   string // base or head
	Commit source.Commit
	Key    map[string]store.Key          // by target
	Meas   map[string]*store.Measurement // by target: stored, decided or new
	mu     sync.Mutex
	failed map[string]string // by target: infrastructure error
}

// NewSide is a side with nothing resolved.
func NewSide(name string, c source.Commit) *Side {
	return &Side{Name: name, Commit: c, Key: map[string]store.Key{}, Meas: map[string]*store.Measurement{}, failed: map[string]string{}}
}

// Fail records the first infrastructure error of the side on target.
func (sd *Side) Fail(target, msg string) {
	sd.mu.Lock()
	defer sd.mu.Unlock()
	if _, ok := sd.failed[target]; !ok {
		sd.failed[target] = msg
	}
}

// HasFailed reports whether the side failed on target.
func (sd *Side) HasFailed(target string) bool {
	_, ok := sd.Failure(target)
	return ok
}

// Failure is the side's infrastructure error on target.
func (sd *Side) Failure(target string) (string, bool) {
	sd.mu.Lock()
	defer sd.mu.Unlock()
	msg, ok := sd.failed[target]
	return msg, ok
}

// Stats tells where the time of a Run went (for `make bench`).
type Stats struct {
	Wall time.Duration
	// Busy is the wall time during which at least one compiler or emulator
	// process was running; Wall - Busy is tcbot's own overhead.
	Busy     time.Duration
	Builds   int // benchmarks compiled
	Runs     int // emulator runs
	Reused   int // measurements taken from the store
	Measured int // measurements stored by this run
	// Resampled counts grey-zone comparisons that got more samples.
	Resampled int
}

var statsMu sync.Mutex

func (s *Stats) AddBuild()    { statsMu.Lock(); s.Builds++; statsMu.Unlock() }
func (s *Stats) AddRun()      { statsMu.Lock(); s.Runs++; statsMu.Unlock() }
func (s *Stats) AddResample() { statsMu.Lock(); s.Resampled++; statsMu.Unlock() }

// SystemChecker is implemented by kinds that boot a whole system
// (distro-lamp): tcbot target check boots it with revision c of the
// repository and says what came up.
type SystemChecker interface {
	CheckSystem(ctx context.Context, env *Env, repo *config.Repo, mirror *source.Mirror, c source.Commit, t config.Target) (string, error)
}

// Booter is implemented by kinds that boot the kernel they build on their
// targets (kernel, distro-lamp): a standalone tcbot run gives them the
// standard qemu-system targets.
type Booter interface {
	BootsKernel() bool
}

// ResolveToolchain resolves side sd's toolchain for target t. A head
// toolchain that does not build is the change's failure (failed makes
// its measurement); a base one is a broken baseline and, like any other
// error, an infrastructure error of the side. nil: nothing to measure.
func (e *Env) ResolveToolchain(ctx context.Context, c *Change, sd *Side, t config.Target, failed func(*toolchain.BuildError) *store.Measurement) *toolchain.Toolchain {
	tc, err := e.Toolchains.Resolve(ctx, c.Repo, c.Mirror, sd.Commit.SHA, t.Arch)
	var broken *toolchain.BuildError
	switch {
	case errors.As(err, &broken) && sd.Name == "head":
		sd.Meas[t.Name] = failed(broken)
		return nil
	case errors.As(err, &broken):
		err = fmt.Errorf("the baseline is broken: %w", err)
	}
	if err != nil {
		sd.Fail(t.Name, err.Error())
		c.Infra = append(c.Infra, fmt.Sprintf("%s: %s: %v", t.Name, sd.Name, err))
		return nil
	}
	return tc
}
