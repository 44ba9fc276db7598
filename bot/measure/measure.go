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
	"fmt"
	"io"
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
	"github.com/tcbot/tcbot/bot/explain"
	"github.com/tcbot/tcbot/bot/measure/kinds"
	"github.com/tcbot/tcbot/bot/progress"
	"github.com/tcbot/tcbot/bot/recipe"
	"github.com/tcbot/tcbot/bot/report"
	"github.com/tcbot/tcbot/bot/result"
	"github.com/tcbot/tcbot/bot/sandbox"
	"github.com/tcbot/tcbot/bot/source"
	"github.com/tcbot/tcbot/bot/store"
	"github.com/tcbot/tcbot/bot/suite"
	"github.com/tcbot/tcbot/bot/target"
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
	// NewExecutor makes the executor of a target; nil means the one its
	// executor kind makes (bot/target).
	NewExecutor func(t config.Target) (executor.Executor, error)
	// Sandbox runs everything that comes from a revision under test
	// (nil: nothing is sandboxed, for trusted code only).
	Sandbox *sandbox.Sandbox

	resolver toolchain.Resolver
	busy     kinds.Activity
	// mu serializes Run and CompareStored: one change at a time per
	// Measurer (each already uses every core the config allows).
	mu sync.Mutex
	// Recipe is the recipe of the repository being measured.
	Recipe *recipe.Recipe
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
type Stats = kinds.Stats

// Run measures a change and returns its report: every recipe kind takes
// the same path (see package kinds).
func (m *Measurer) Run(ctx context.Context, req Request) (*report.Report, Stats, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	start := time.Now()
	var st Stats
	c, job, err := m.start(ctx, req, &st)
	if err != nil {
		return nil, st, err
	}
	defer job.Close()
	log := m.Log.WithFields(logrus.Fields{"repo": c.Repo.Name, "base": short(c.Sides[0].Commit.SHA), "head": short(c.Sides[1].Commit.SHA)})
	if err := m.resolve(ctx, job, c, &st, log); err != nil {
		return nil, st, err
	}
	if c.Unchanged != "" {
		rep := m.newReport(req, c, compare.Outcome{Verdict: compare.Unchanged})
		rep.Notes = append(rep.Notes, c.Unchanged)
		st.Wall, st.Busy = time.Since(start), m.busy.Total()
		log.WithField("wall", st.Wall.Round(time.Millisecond)).Info("change measured: identical toolchain")
		return rep, st, nil
	}
	if err := job.Build(ctx, c); err != nil {
		return nil, st, err
	}
	if err := job.Run(ctx, c); err != nil {
		return nil, st, err
	}
	base, head, err := m.collect(ctx, job, c, &st)
	if err != nil {
		return nil, st, err
	}
	opts := kinds.CompareOptions(m.Config, c.Targets)
	job.Compare(&opts, c.Targets)
	out := compare.Compare(base, head, opts)
	attributeCodeSize(out.Comparisons, c.Sides[0].Meas, c.Sides[1].Meas)
	expl, notes := explain.Explain(ctx, out.Comparisons, c.Sides[0].Meas, c.Sides[1].Meas, m.explainOptions(opts, c.Targets))
	rep := m.newReport(req, c, out)
	rep.Explanations = expl
	rep.Notes = append(rep.Notes, notes...)
	st.Wall, st.Busy = time.Since(start), m.busy.Total()
	log.WithFields(logrus.Fields{"verdict": rep.Verdict, "wall": st.Wall.Round(time.Millisecond), "measured": st.Measured, "reused": st.Reused}).Info("change measured")
	return rep, st, nil
}

// start resolves the request: the repository, its recipe's kind and the
// job that measures the change with it, the targets, base and head.
func (m *Measurer) start(ctx context.Context, req Request, st *Stats) (*kinds.Change, kinds.Job, error) {
	m.busy = kinds.Activity{}
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
		return nil, nil, err
	}
	m.Recipe = m.Recipes[repo.Name]
	if m.Recipe == nil {
		return nil, nil, fmt.Errorf("repo %s: no recipe loaded", repo.Name)
	}
	kind, err := kindOf(m.Recipe)
	if err != nil {
		return nil, nil, err
	}
	c := &kinds.Change{Repo: repo}
	if c.Targets, err = cfg.SelectTargets(req.Targets); err != nil {
		return nil, nil, err
	}
	job, err := kind.Start(ctx, m.env(st), c)
	if err != nil {
		return nil, nil, err
	}
	if c.Mirror, err = source.Open(filepath.Join(cfg.Workdir, "git"), repo.Name, repo.URL); err != nil {
		return nil, nil, err
	}
	head, err := c.Mirror.Resolve(ctx, req.Rev)
	if err != nil {
		return nil, nil, err
	}
	var base source.Commit
	switch {
	case req.Base != "":
		base, err = c.Mirror.Resolve(ctx, req.Base)
	case len(head.Parents) == 0:
		err = fmt.Errorf("repo %s: %s (%s) is a root commit with no parent to compare with: pass --base", repo.Name, head.SHA[:12], head.Subject)
	default:
		base, err = c.Mirror.Resolve(ctx, head.Parents[0])
	}
	if err != nil {
		return nil, nil, err
	}
	c.Sides = [2]*kinds.Side{kinds.NewSide("base", base), kinds.NewSide("head", head)}
	return c, job, nil
}

// env is what a kind's job may use of the Measurer.
func (m *Measurer) env(st *Stats) *kinds.Env {
	recipesFS, _, benchFS, _ := Sources(m.Config)
	return &kinds.Env{
		Config: m.Config, Suite: m.Suite, Recipe: m.Recipe, Sandbox: m.Sandbox,
		Log: m.Log, Progress: m.Progress, Busy: &m.busy, Stats: st,
		Toolchains: &m.resolver, SuiteVersion: m.suiteVersion(),
		NewExecutor: m.newExecutor, BuildProgress: m.buildProgress,
		Recipes: recipesFS, Benchmarks: benchFS, Plugin: m.Plugin,
	}
}

// newExecutor makes the executor of a target; files are the binaries an
// executor on another machine uploads.
func (m *Measurer) newExecutor(t config.Target, files []string) (executor.Executor, error) {
	if m.NewExecutor != nil {
		return m.NewExecutor(t)
	}
	return target.New(t, target.Env{Plugin: m.Plugin, Workdir: m.Config.Workdir, Log: m.Log, Files: files})
}

// resolve asks the job what each side measures on each target, and takes
// what the store already holds.
func (m *Measurer) resolve(ctx context.Context, job kinds.Job, c *kinds.Change, st *Stats, log logrus.FieldLogger) error {
	if err := job.Resolve(ctx, c); err != nil {
		return err
	}
	for _, sd := range c.Sides {
		for _, t := range c.Targets {
			k, ok := sd.Key[t.Name]
			if !ok || !c.Todo(sd, t) {
				continue
			}
			got, ok, err := m.Store.Get(ctx, k)
			if err != nil {
				return err
			}
			if ok {
				sd.Meas[t.Name] = got
				st.Reused++
				log.WithFields(logrus.Fields{"side": sd.Name, "target": t.Name}).Debug("reusing stored measurement")
			}
		}
	}
	return nil
}

// collect stores each new measurement (one transaction each) and returns
// the results of base and head.
func (m *Measurer) collect(ctx context.Context, job kinds.Job, c *kinds.Change, st *Stats) (base, head []result.Result, err error) {
	for _, t := range c.Targets {
		for _, sd := range c.Sides {
			if msg, bad := sd.Failure(t.Name); bad {
				if !strings.Contains(strings.Join(c.Infra, "\n"), msg) {
					c.Infra = append(c.Infra, fmt.Sprintf("%s: %s: %s", t.Name, sd.Name, msg))
				}
				continue
			}
			meas := sd.Meas[t.Name]
			if meas == nil {
				meas, err = job.Collect(c, sd, t)
				if err != nil {
					sd.Fail(t.Name, err.Error())
					c.Infra = append(c.Infra, fmt.Sprintf("%s: %s: %v", t.Name, sd.Name, err))
					continue
				}
				if err := m.Store.Put(ctx, meas); err != nil {
					return nil, nil, err
				}
				sd.Meas[t.Name] = meas
				st.Measured++
			}
			if sd == c.Sides[0] {
				base = append(base, meas.Results...)
			} else {
				head = append(head, meas.Results...)
			}
		}
	}
	return base, head, nil
}

// newReport makes the report of a change: the comparison outcome, the
// infrastructure errors met (each once), and the reproduce command.
func (m *Measurer) newReport(req Request, c *kinds.Change, out compare.Outcome) *report.Report {
	base, head := c.Sides[0].Commit, c.Sides[1].Commit
	rep := report.New(c.Repo.Name, base.SHA, head.SHA, out)
	rep.BaseSubject, rep.HeadSubject = base.Subject, head.Subject
	infra := append([]string(nil), c.Infra...)
	sort.Strings(infra)
	for _, e := range kinds.Dedupe(infra) {
		rep.AddError(e)
	}
	rep.Reproduce = req.Reproduce
	if rep.Reproduce == "" {
		rep.Reproduce = report.ReproduceRun(c.Repo.RunRepo().Flags(), base.SHA, head.SHA, req.Targets)
	}
	return &rep
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

// explainOptions say where explain finds the binaries (this host's build
// cache) and how it disassembles them (objdump, in the sandbox).
func (m *Measurer) explainOptions(opts compare.Options, targets []config.Target) explain.Options {
	d := explain.NewDisassembler(targets, m.Sandbox)
	return explain.Options{
		Compare: opts,
		Binary: func(meas *store.Measurement, bench string) string {
			return explain.BinaryPath(m.Config.Workdir, d.Arch, meas, bench)
		},
		Disassemble: d.Function,
	}
}

// suiteVersion covers the suite's files, the recipe that builds it and the
// measuring method.
func (m *Measurer) suiteVersion() string {
	h := sha256.New()
	h.Write([]byte("method " + kinds.MethodVersion + "\n"))
	h.Write([]byte(m.Suite.Version))
	h.Write(m.Recipe.Raw)
	return hex.EncodeToString(h.Sum(nil))[:16]
}
