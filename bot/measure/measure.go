// Package measure turns one change (a head revision and its base) into a
// report: it resolves the revisions, reuses what the store already holds,
// builds the rest with the toolchain under test, runs the binaries on every
// target, stores each complete measurement in one transaction, and
// compares head with base.
//
// Guarantees:
//   - A (repo, revision, toolchain, target, suite version) measured once is
//     never measured again: a warm rerun only reads the store.
//   - Base and head samples are taken interleaved (A B A B) so drift of the
//     host hits both sides alike.
//   - A head binary byte-identical to the base binary is not run again; its
//     run metrics are the base's, marked identical (LLVM LNT's rule).
//   - An infrastructure failure (missing emulator, plugin failure,
//     cancellation) is reported as an error and stores nothing, so the
//     next run measures again; it is never a regression.
package measure

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/tcbot/tcbot/bot/codesize"
	"github.com/tcbot/tcbot/bot/compare"
	"github.com/tcbot/tcbot/bot/config"
	"github.com/tcbot/tcbot/bot/executor"
	"github.com/tcbot/tcbot/bot/progress"
	"github.com/tcbot/tcbot/bot/recipe"
	"github.com/tcbot/tcbot/bot/report"
	"github.com/tcbot/tcbot/bot/result"
	"github.com/tcbot/tcbot/bot/sandbox"
	"github.com/tcbot/tcbot/bot/source"
	"github.com/tcbot/tcbot/bot/store"
	"github.com/tcbot/tcbot/bot/suite"
	"github.com/tcbot/tcbot/bot/toolchain"
)

// Measurer measures changes. Create one per process; it is safe for
// concurrent use (changes are measured one at a time).
type Measurer struct {
	Config *config.Config
	Store  *store.Store
	Suite  *suite.Suite
	// Recipes by repository name.
	Recipes  map[string]*recipe.Recipe
	Plugin   string // path of the instruction-counting plugin
	Log      logrus.FieldLogger
	Progress progress.Reporter
	// NewExecutor makes the executor of a target; nil means the default
	// (qemu-user with the plugin).
	NewExecutor func(t config.Target) (executor.Executor, error)
	// Sandbox runs everything that comes from a revision under test
	// (nil: nothing is sandboxed, for trusted code only).
	Sandbox *sandbox.Sandbox

	resolver toolchain.Resolver
	busy     activity
	// mu serializes Run and CompareStored: one change at a time per
	// Measurer (each already uses every core the config allows).
	mu sync.Mutex
	// Recipe is the recipe of the repository being measured.
	Recipe *recipe.Recipe
	// kept holds the executors of the Run in progress, so that the rounds
	// of adaptive resampling reuse a booted guest or a board's uploaded
	// binaries instead of booting and uploading again; Run cleans them
	// up at its end.
	kept map[string]executor.Executor
	// activity is what a long build is doing (Activity).
	activityMu sync.Mutex
	activity   string
}

// Request is one change to measure.
type Request struct {
	Repo    string
	Rev     string
	Base    string // empty: the first parent of Rev
	Targets []string
	// Reproduce is the command that reproduces the report; empty: built
	// from the request.
	Reproduce string
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

// Run measures a change and returns its report.
func (m *Measurer) Run(ctx context.Context, req Request) (*report.Report, Stats, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	start := time.Now()
	m.busy = activity{}
	var st Stats
	if m.Log == nil {
		l := logrus.New()
		l.SetOutput(io.Discard)
		m.Log = l
	}
	if m.Progress == nil {
		m.Progress = progress.Discard{}
	}
	cfg := m.Config
	repo, err := cfg.Repo(req.Repo)
	if err != nil {
		return nil, st, err
	}
	m.Recipe = m.Recipes[repo.Name]
	if m.Recipe == nil {
		return nil, st, fmt.Errorf("repo %s: no recipe loaded", repo.Name)
	}
	targets, err := cfg.SelectTargets(req.Targets)
	if err != nil {
		return nil, st, err
	}
	if m.Recipe.Kind == "kernel" {
		if targets, err = kernelTargets(cfg.Path, m.Recipe.Name, targets); err != nil {
			return nil, st, err
		}
	}
	mirror, err := source.Open(filepath.Join(cfg.Workdir, "git"), repo.Name, repo.URL)
	if err != nil {
		return nil, st, err
	}
	head, err := mirror.Resolve(ctx, req.Rev)
	if err != nil {
		return nil, st, err
	}
	var base source.Commit
	switch {
	case req.Base != "":
		base, err = mirror.Resolve(ctx, req.Base)
	case len(head.Parents) == 0:
		err = fmt.Errorf("repo %s: %s (%s) is a root commit with no parent to compare with: pass --base", repo.Name, head.SHA[:12], head.Subject)
	default:
		base, err = mirror.Resolve(ctx, head.Parents[0])
	}
	if err != nil {
		return nil, st, err
	}
	if m.Recipe.Kind == "kas" {
		return m.runKas(ctx, req, repo, targets, base, head, start)
	}
	log := m.Log.WithFields(logrus.Fields{"repo": repo.Name, "base": base.SHA[:12], "head": head.SHA[:12]})

	// Plan: which (side, target) measurements exist already.
	sides := []*side{{name: "base", commit: base}, {name: "head", commit: head}}
	var infra []string
	for _, sd := range sides {
		sd.meas = map[string]*store.Measurement{}
		sd.toolchain = map[string]*toolchain.Toolchain{}
		sd.failed = map[string]string{}
		for _, t := range targets {
			tc, err := m.resolver.Resolve(ctx, repo, mirror, sd.commit.SHA, t.Arch)
			var broken *toolchain.BuildError
			switch {
			case errors.As(err, &broken) && sd.name == "head":
				// The change's toolchain does not build: its failure.
				sd.meas[t.Name] = m.toolchainFailed(repo.Name, sd, t, broken)
				continue
			case errors.As(err, &broken):
				err = fmt.Errorf("the baseline is broken: %w", err)
				fallthrough
			case err != nil:
				sd.failed[t.Name] = err.Error()
				infra = append(infra, fmt.Sprintf("%s: %s: %v", t.Name, sd.name, err))
				continue
			}
			sd.toolchain[t.Name] = tc
			k := m.key(repo.Name, sd.commit.SHA, tc, t)
			got, ok, err := m.Store.Get(ctx, k)
			if err != nil {
				return nil, st, err
			}
			if ok {
				sd.meas[t.Name] = got
				st.Reused++
				log.WithFields(logrus.Fields{"side": sd.name, "target": t.Name}).Debug("reusing stored measurement")
			}
		}
	}

	// A toolchain built from the head byte-identical to the base's on
	// every target (a documentation change) changes nothing measurable.
	if note := identicalToolchains(sides, targets); note != "" {
		rep := m.newReport(req, repo.Name, base, head, compare.Outcome{Verdict: compare.Unchanged}, infra)
		rep.Notes = append(rep.Notes, note)
		st.Wall, st.Busy = time.Since(start), m.busy.total()
		log.WithField("wall", st.Wall.Round(time.Millisecond)).Info("change measured: identical toolchain")
		return rep, st, nil
	}

	// Build what is missing, once per (arch, toolchain).
	builds := map[string]*buildSet{}
	var buildOrder []*buildSet
	for _, sd := range sides {
		for _, t := range targets {
			tc := sd.toolchain[t.Name]
			if tc == nil || sd.meas[t.Name] != nil {
				continue
			}
			id := t.Arch + "/" + tc.ID
			if builds[id] == nil {
				builds[id] = &buildSet{arch: t.Arch, tc: tc, commit: sd.commit}
				buildOrder = append(buildOrder, builds[id])
			}
			sd.builds = append(sd.builds, targetBuild{target: t, set: builds[id]})
		}
	}
	if err := m.build(ctx, mirror, buildOrder, &st); err != nil {
		return nil, st, err
	}
	if err := m.buildKernels(ctx, mirror, repo, sides); err != nil {
		return nil, st, err
	}
	for _, b := range buildOrder {
		if b.err != nil {
			infra = append(infra, fmt.Sprintf("build %s with %s: %v", b.arch, b.tc.Desc, b.err))
		}
	}

	// Run: one executor per target, base and head interleaved.
	m.kept = map[string]executor.Executor{}
	defer m.releaseExecutors()
	if err := m.runAll(ctx, targets, sides, &st); err != nil {
		return nil, st, err
	}
	if err := m.resample(ctx, targets, sides, &st); err != nil {
		return nil, st, err
	}

	// Assemble, store, compare.
	var baseResults, headResults []result.Result
	for _, t := range targets {
		for _, sd := range sides {
			if msg, bad := sd.failed[t.Name]; bad {
				if !strings.Contains(strings.Join(infra, "\n"), msg) {
					infra = append(infra, fmt.Sprintf("%s: %s: %s", t.Name, sd.name, msg))
				}
				continue
			}
			meas := sd.meas[t.Name]
			if meas == nil {
				meas, err = m.assemble(repo.Name, sd, t, sides)
				if err != nil {
					sd.failed[t.Name] = err.Error()
					infra = append(infra, fmt.Sprintf("%s: %s: %v", t.Name, sd.name, err))
					continue
				}
				if err := m.Store.Put(ctx, meas); err != nil {
					return nil, st, err
				}
				sd.meas[t.Name] = meas
				st.Measured++
			}
			if sd.name == "base" {
				baseResults = append(baseResults, meas.Results...)
			} else {
				headResults = append(headResults, meas.Results...)
			}
		}
	}
	opts := m.compareOptions(targets)
	out := compare.Compare(baseResults, headResults, opts)
	attributeCodeSize(out.Comparisons, sides[0].meas, sides[1].meas)
	rep := m.newReport(req, repo.Name, base, head, out, infra)
	st.Wall = time.Since(start)
	st.Busy = m.busy.total()
	log.WithFields(logrus.Fields{"verdict": rep.Verdict, "wall": st.Wall.Round(time.Millisecond), "measured": st.Measured, "reused": st.Reused}).Info("change measured")
	return rep, st, nil
}

// newReport makes the report of a change: the comparison outcome, the
// infrastructure errors met (each once), and the reproduce command.
func (m *Measurer) newReport(req Request, repo string, base, head source.Commit, out compare.Outcome, infra []string) *report.Report {
	rep := report.New(repo, base.SHA, head.SHA, out)
	rep.BaseSubject, rep.HeadSubject = base.Subject, head.Subject
	sort.Strings(infra)
	for _, e := range dedupe(infra) {
		rep.AddError(e)
	}
	rep.Reproduce = req.Reproduce
	if rep.Reproduce == "" {
		rep.Reproduce = report.ReproduceCommand(m.Config.Path, repo, base.SHA, head.SHA, req.Targets)
	}
	return &rep
}

func (m *Measurer) compareOptions(targets []config.Target) compare.Options {
	cfg := m.Config
	opts := compare.DefaultOptions()
	if opts.Thresholds == nil {
		opts.Thresholds = map[string]float64{}
	}
	for k, v := range cfg.Compare.Thresholds {
		opts.Thresholds[k] = v
	}
	opts.MinEffect, opts.Q = cfg.Compare.MinEffect, cfg.Compare.FDR
	opts.Informational = map[string][]string{}
	for _, t := range targets {
		// A toolchain's build time is one sample a side: it informs.
		opts.Informational[t.Name] = append(append([]string(nil), t.Informational...), result.BuildTime)
	}
	return opts
}

// attributeCodeSize notes, on each code-size change, the functions that
// changed most (from the binaries' symbol tables), so the report says
// where the bytes went.
func attributeCodeSize(cs []compare.Comparison, base, head map[string]*store.Measurement) {
	for i := range cs {
		c := &cs[i]
		if c.Metric != result.CodeSize || (c.Verdict != compare.Regression && c.Verdict != compare.Improvement) {
			continue
		}
		b, h := base[c.Target], head[c.Target]
		if b == nil || h == nil {
			continue
		}
		if a := codesize.Attribute(b.Binaries[c.Benchmark].Functions, h.Binaries[c.Benchmark].Functions, 3); a != "" {
			if c.Note != "" {
				c.Note += "; "
			}
			c.Note += "functions: " + a
		}
	}
}

func dedupe(ss []string) []string {
	var out []string
	for i, s := range ss {
		if i == 0 || s != ss[i-1] {
			out = append(out, s)
		}
	}
	return out
}

func (m *Measurer) key(repo, sha string, tc *toolchain.Toolchain, t config.Target) store.Key {
	return store.Key{Repo: repo, Revision: sha, ToolchainID: tc.ID + "-" + targetID(t) + m.kernelID(repo, t.Arch), Target: t.Name, Suite: m.Suite.Name, SuiteVersion: m.suiteVersion()}
}

// targetID folds into the key what changes a target's numbers: its CPU
// model and emulator.
func targetID(t config.Target) string {
	id := fmt.Sprintf("%s|%s|%s|%s|%d", t.Arch, t.Executor, t.CPU, t.QEMU, t.Samples)
	if l := t.LAVA; l != nil {
		// A lab's device type, tags and kernel are its machine.
		id += fmt.Sprintf("|%s|%s|%q|%s|%s|%d", l.URL, l.DeviceType, l.Tags, l.Kernel, l.KernelArgs, l.Memory)
	}
	h := sha256.Sum256([]byte(id))
	if t.Executor == "qemu-system" {
		// The guest's kernel, busybox, memory and clock are its machine.
		h = sha256.Sum256(fmt.Appendf(h[:], "|%s|%s|%d|%s|%t", t.Kernel, t.Busybox, t.Memory, t.KernelArgs, t.RealTime))
	}
	return hex.EncodeToString(h[:])[:8]
}

// methodVersion changes whenever tcbot changes how it measures (what a
// metric counts, how a binary is run), so results measured the old way are
// never compared with results measured the new way.
const methodVersion = "2"

// suiteVersion covers the suite's files, the recipe that builds it and the
// measuring method.
func (m *Measurer) suiteVersion() string {
	h := sha256.New()
	h.Write([]byte("method " + methodVersion + "\n"))
	h.Write([]byte(m.Suite.Version))
	h.Write(m.Recipe.Raw)
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// side is the base or the head of the change.
type side struct {
	name      string
	commit    source.Commit
	toolchain map[string]*toolchain.Toolchain  // by target
	meas      map[string]*store.Measurement    // by target, stored or new
	failed    map[string]string                // by target: infrastructure error
	builds    []targetBuild                    // targets this side must measure
	runs      map[string]map[string]*benchRuns // target -> benchmark -> runs
	boots     map[string][]executor.BootInfo   // by target: qemu-system guests booted
	kernel    map[string]*sideKernel           // by target: the kernel built (recipe kernel)
	mu        sync.Mutex
}

type targetBuild struct {
	target config.Target
	set    *buildSet
}

func (sd *side) buildFor(target string) *buildSet {
	for _, b := range sd.builds {
		if b.target.Name == target {
			return b.set
		}
	}
	return nil
}

// benchRuns collects the samples of one benchmark on one target.
type benchRuns struct {
	instructions []float64
	times        []float64
	failNote     string
	identical    bool // not run: head binary identical to base
}

// activity measures the wall time during which at least one subprocess
// runs, to tell tcbot's own overhead from compilers and emulators.
type activity struct {
	mu     sync.Mutex
	active int
	since  time.Time
	sum    time.Duration
}

func (a *activity) begin() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.active == 0 {
		a.since = time.Now()
	}
	a.active++
}

func (a *activity) end() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.active--
	if a.active == 0 {
		a.sum += time.Since(a.since)
	}
}

func (a *activity) total() time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.sum
}

// pool runs fns with at most n at once and returns when all are done.
func pool(ctx context.Context, n int, fns []func(context.Context)) {
	if n < 1 {
		n = 1
	}
	sem := make(chan struct{}, n)
	var wg sync.WaitGroup
	for _, fn := range fns {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			fn(ctx)
		}()
	}
	wg.Wait()
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
