// Package suite is the recipe kind "suite" (recipes/bench.yaml): each
// benchmark of the suite is built with the toolchain under test of each
// side, once per (arch, toolchain), and run on every target's executor,
// base and head samples interleaved (A B A B) so drift of the host hits
// both sides alike. A head binary byte-identical to the base binary is not
// run again: its run metrics are the base's, marked identical (LLVM LNT's
// rule).
//
// Other kinds build on it through Hooks (the kernel kind boots the kernel
// under test and runs the suite in it).
package suite

import (
	"context"
	"fmt"
	"sync"

	"github.com/tcbot/tcbot/bot/compare"
	"github.com/tcbot/tcbot/bot/config"
	"github.com/tcbot/tcbot/bot/executor"
	"github.com/tcbot/tcbot/bot/measure/kinds"
	"github.com/tcbot/tcbot/bot/recipe"
	"github.com/tcbot/tcbot/bot/result"
	"github.com/tcbot/tcbot/bot/store"
	"github.com/tcbot/tcbot/bot/target"
	"github.com/tcbot/tcbot/bot/toolchain"
)

// Kind is the recipe kind suite.
type Kind struct{}

// Check: the toolchain's own recipe loads, and the recipe builds the
// benchmark suite tcbot has.
func (Kind) Check(env kinds.CheckEnv, r *config.Repo, rec *recipe.Recipe) error {
	if err := toolchain.Check(r, env.Recipes, env.RecipesWhere); err != nil {
		return fmt.Errorf("%s: repo %s: %w", env.Config.Path, r.Name, err)
	}
	if rec.Suite != env.Suite.Name {
		return fmt.Errorf("%s: suite: %q, but the benchmark suite in %s is %q", rec.Source, rec.Suite, env.SuiteWhere, env.Suite.Name)
	}
	return nil
}

// Start begins measuring a change.
func (Kind) Start(ctx context.Context, env *kinds.Env, c *kinds.Change) (kinds.Job, error) {
	return New(env, c, Hooks{}), nil
}

// Hooks are how a kind built on this one adds its steps; nil fields add
// nothing.
type Hooks struct {
	// Identity is folded into a side's measurement key on t: what else
	// changes its numbers ("" for nothing).
	Identity func(t config.Target) string
	// Build runs after the suite is built: what else the sides need on
	// the targets they measure (Side.Targets).
	Build func(ctx context.Context, c *kinds.Change, sides []*Side) error
	// Executor adapts the executor a side uses on a target.
	Executor func(sd *Side, t config.Target, ex executor.Executor) (executor.Executor, error)
	// PrepareFault reports whether err, met preparing a side's executor
	// on t, is the failure of the thing measured; then it has noted it.
	PrepareFault func(sd *Side, t config.Target, err error) bool
	// RunFault likewise for err met running a benchmark.
	RunFault func(sd *Side, runs *Runs, err error) bool
	// Results are a side's results on t beyond the benchmarks', and
	// whether they say how its boot went.
	Results func(sd *Side, t config.Target) (rs []result.Result, boot bool)
	// RunIdentical runs a head binary identical to the base's anyway
	// (what it runs on differs).
	RunIdentical bool
	// Instructions is the metric a run's instruction count is filed
	// under when the recipe's run stage names it ("": instructions,
	// exact); a whole system's count varies a little from run to run
	// (system-instructions, counted).
	Instructions string
}

// New is the job that measures change c with the suite, with a kind's
// hooks.
func New(env *kinds.Env, c *kinds.Change, hooks Hooks) kinds.Job {
	return &job{env: env, hooks: hooks, kept: map[string]executor.Executor{}}
}

type job struct {
	env   *kinds.Env
	hooks Hooks
	sides [2]*Side
	// kept holds the executors of the Run in progress, so that the rounds
	// of adaptive resampling reuse a booted guest or a board's uploaded
	// binaries instead of booting and uploading again; Close cleans them
	// up.
	kept map[string]executor.Executor
}

// Side is the base or the head, with what this kind builds and runs.
type Side struct {
	*kinds.Side
	toolchain map[string]*toolchain.Toolchain // by target
	builds    []targetBuild                   // targets this side must measure
	runs      map[string]map[string]*Runs     // target -> benchmark -> runs
	boots     map[string][]executor.BootInfo  // by target: guests booted
	mu        sync.Mutex
}

type targetBuild struct {
	target config.Target
	set    *buildSet
}

// Targets are the targets the side measures in this run.
func (sd *Side) Targets() []config.Target {
	var out []config.Target
	for _, b := range sd.builds {
		out = append(out, b.target)
	}
	return out
}

func (sd *Side) buildFor(target string) *buildSet {
	for _, b := range sd.builds {
		if b.target.Name == target {
			return b.set
		}
	}
	return nil
}

// Runs collects the samples of one benchmark on one target.
type Runs struct {
	instructions []float64
	// profile is the instructions per function of the first run (runs of
	// one binary attribute identically, as they count identically).
	profile   []result.FunctionCount
	times     []float64
	failNote  string
	identical bool // not run: head binary identical to base
}

// FailRuns notes why the side's runs on target failed, on every
// benchmark without a note yet.
func (sd *Side) FailRuns(target, note string) {
	sd.mu.Lock()
	defer sd.mu.Unlock()
	for _, runs := range sd.runs[target] {
		if runs.failNote == "" {
			runs.failNote = note
		}
	}
}

// FailRun notes why one benchmark's run failed, unless noted already.
func (sd *Side) FailRun(runs *Runs, note string) {
	sd.mu.Lock()
	defer sd.mu.Unlock()
	if runs.failNote == "" {
		runs.failNote = note
	}
}

// Resolve finds each side's toolchain on each target and the key of its
// measurement. A head toolchain that does not build is the change's
// failure; a base one, a broken baseline.
func (j *job) Resolve(ctx context.Context, c *kinds.Change) error {
	for i, sd := range c.Sides {
		j.sides[i] = &Side{Side: sd, toolchain: map[string]*toolchain.Toolchain{}}
	}
	for _, sd := range j.sides {
		for _, t := range c.Targets {
			tc := j.env.ResolveToolchain(ctx, c, sd.Side, t, func(broken *toolchain.BuildError) *store.Measurement {
				return j.toolchainFailed(c.Repo.Name, sd, t, broken)
			})
			if tc == nil {
				continue
			}
			sd.toolchain[t.Name] = tc
			sd.Key[t.Name] = j.key(c.Repo.Name, sd.Commit.SHA, tc, t)
		}
	}
	// A toolchain built from the head byte-identical to the base's on
	// every target (a documentation change) changes nothing measurable.
	c.Unchanged = identicalToolchains(j.sides[:], c.Targets)
	return nil
}

func (j *job) key(repo, sha string, tc *toolchain.Toolchain, t config.Target) store.Key {
	id := tc.ID + "-" + target.ID(t)
	if j.hooks.Identity != nil {
		id += j.hooks.Identity(t)
	}
	return store.Key{Repo: repo, Revision: sha, ToolchainID: id, Target: t.Name, Suite: j.env.Suite.Name, SuiteVersion: j.env.SuiteVersion}
}

// Build builds what is missing, once per (arch, toolchain).
func (j *job) Build(ctx context.Context, c *kinds.Change) error {
	builds := map[string]*buildSet{}
	var buildOrder []*buildSet
	for _, sd := range j.sides {
		for _, t := range c.Targets {
			tc := sd.toolchain[t.Name]
			if tc == nil || !c.Todo(sd.Side, t) {
				continue
			}
			id := t.Arch + "/" + tc.ID
			if builds[id] == nil {
				builds[id] = &buildSet{arch: t.Arch, tc: tc, commit: sd.Commit}
				buildOrder = append(buildOrder, builds[id])
			}
			sd.builds = append(sd.builds, targetBuild{target: t, set: builds[id]})
		}
	}
	if err := j.build(ctx, c.Mirror, buildOrder); err != nil {
		return err
	}
	if j.hooks.Build != nil {
		if err := j.hooks.Build(ctx, c, j.sides[:]); err != nil {
			return err
		}
	}
	for _, b := range buildOrder {
		if b.err != nil {
			c.Infra = append(c.Infra, fmt.Sprintf("build %s with %s: %v", b.arch, b.tc.Desc, b.err))
		}
	}
	return nil
}

// Run runs every binary on every target, base and head interleaved, then
// takes more samples of grey-zone comparisons.
func (j *job) Run(ctx context.Context, c *kinds.Change) error {
	if err := j.runAll(ctx, c.Targets, j.sides[:]); err != nil {
		return err
	}
	return j.resample(ctx, c.Targets, j.sides[:])
}

// Collect assembles the measurement of a side from its build and runs.
func (j *job) Collect(c *kinds.Change, sd *kinds.Side, t config.Target) (*store.Measurement, error) {
	for _, s := range j.sides {
		if s.Side == sd {
			return j.assemble(c.Repo.Name, s, t, j.sides[:])
		}
	}
	return nil, fmt.Errorf("side %s is not this change's", sd.Name)
}

func (j *job) Compare(*compare.Options, []config.Target) {}

// Close cleans up the executors the job kept.
func (j *job) Close() { j.releaseExecutors() }

// newExecutor makes the executor a side uses on a target; files are the
// binaries an executor on another machine must upload.
func (j *job) newExecutor(sd *Side, t config.Target, files []string) (executor.Executor, error) {
	ex, err := j.env.NewExecutor(t, files)
	if err != nil || j.hooks.Executor == nil {
		return ex, err
	}
	return j.hooks.Executor(sd, t, ex)
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}
