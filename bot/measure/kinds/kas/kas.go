// Package kas is the recipe kind "kas": for base and head, on every
// target's arch, `kas build` of the LAMP image with the repository's
// component pinned to the revision, then buildhistory and buildstats
// become results. Builds run one at a time: each already uses every core
// of the build host. Nothing runs on the targets afterwards.
package kas

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/sirupsen/logrus"

	"github.com/tcbot/tcbot/bot/compare"
	"github.com/tcbot/tcbot/bot/config"
	"github.com/tcbot/tcbot/bot/executor"
	"github.com/tcbot/tcbot/bot/measure/kinds"
	"github.com/tcbot/tcbot/bot/oe"
	"github.com/tcbot/tcbot/bot/oebuild"
	"github.com/tcbot/tcbot/bot/recipe"
	"github.com/tcbot/tcbot/bot/result"
	"github.com/tcbot/tcbot/bot/source"
	"github.com/tcbot/tcbot/bot/store"
	"github.com/tcbot/tcbot/bot/target"
)

// Kind is the recipe kind kas.
type Kind struct{}

// Check: the repository says which component it is, and the recipe's
// project files and the component's toolchain include exist.
func (Kind) Check(env kinds.CheckEnv, r *config.Repo, rec *recipe.Recipe) error {
	if r.Component == "" {
		return fmt.Errorf("%s: repo %s: component: missing: recipe %s builds OpenEmbedded with this repository as gcc, binutils, glibc or linux; say which", env.Config.Path, r.Name, rec.Name)
	}
	for _, p := range rec.Kas.Projects {
		if _, err := fs.Stat(env.Recipes, p); err != nil {
			return fmt.Errorf("%s: kas.projects: %s: %w", rec.Source, p, err)
		}
	}
	tmpl := strings.ReplaceAll(rec.Kas.Toolchain, "{component}", r.Component)
	if _, err := fs.Stat(env.Recipes, tmpl); err != nil {
		return fmt.Errorf("%s: repo %s: no toolchain include %s for component %s: %w", env.Config.Path, r.Name, tmpl, r.Component, err)
	}
	return nil
}

// CheckTree checks the OpenEmbedded tree: the kas files against kas's
// schema, and the meta-tcbot layer.
func (Kind) CheckTree(recipes, benchmarks fs.FS) (string, error) {
	if errs := oebuild.Check(recipes, benchmarks); len(errs) > 0 {
		return "", fmt.Errorf("the OpenEmbedded tree does not check:\n%w", errors.Join(errs...))
	}
	return "kas files valid against kas's schema, meta-tcbot layer checks", nil
}

// job measures one change.
type job struct {
	env     *kinds.Env
	repo    *config.Repo
	version string
	branch  string
	log     logrus.FieldLogger
	built   map[*kinds.Side]map[string]*store.Measurement // by side and target
}

// Start begins measuring a change.
func (Kind) Start(ctx context.Context, env *kinds.Env, c *kinds.Change) (kinds.Job, error) {
	repo := c.Repo
	if repo.Component == "" {
		return nil, fmt.Errorf("%s: repo %s: component: missing: recipe %s builds OpenEmbedded with the repository as gcc, binutils, glibc or linux; say which", env.Config.Path, repo.Name, env.Recipe.Name)
	}
	version, err := oeVersion(env)
	if err != nil {
		return nil, err
	}
	branch := "main"
	if len(repo.Branches) > 0 {
		branch = repo.Branches[0]
	}
	return &job{env: env, repo: repo, version: version, branch: branch,
		log:   env.Log.WithFields(logrus.Fields{"repo": repo.Name, "recipe": env.Recipe.Name}),
		built: map[*kinds.Side]map[string]*store.Measurement{}}, nil
}

// Resolve: one measurement per side and target whose arch has an image.
func (j *job) Resolve(ctx context.Context, c *kinds.Change) error {
	for _, t := range c.Targets {
		if _, ok := j.env.Recipe.Kas.Projects[t.Arch]; !ok {
			msg := fmt.Sprintf("%s: recipe %s builds no image for %s", t.Name, j.env.Recipe.Name, t.Arch)
			c.Infra = append(c.Infra, msg)
			for _, sd := range c.Sides {
				sd.Fail(t.Name, msg)
			}
			continue
		}
		for _, sd := range c.Sides {
			sd.Key[t.Name] = store.Key{Repo: j.repo.Name, Revision: sd.Commit.SHA, ToolchainID: "oe-" + j.repo.Component + "-" + target.ID(t), Target: t.Name, Suite: j.env.Recipe.Suite, SuiteVersion: j.version}
		}
	}
	return nil
}

// Build builds, one at a time, every side and target not stored yet.
func (j *job) Build(ctx context.Context, c *kinds.Change) error {
	local := executor.NewLocal()
	for _, t := range c.Targets {
		for _, sd := range c.Sides {
			if !c.Todo(sd, t) {
				continue
			}
			meas, err := j.kasBuild(ctx, local, sd.Key[t.Name], t, sd.Commit)
			if err != nil {
				msg := fmt.Sprintf("%s: %s: %v", t.Name, sd.Commit.SHA[:12], err)
				c.Infra = append(c.Infra, msg)
				sd.Fail(t.Name, msg)
				continue
			}
			if j.built[sd] == nil {
				j.built[sd] = map[string]*store.Measurement{}
			}
			j.built[sd][t.Name] = meas
		}
	}
	return nil
}

// Run: nothing runs on the targets.
func (j *job) Run(context.Context, *kinds.Change) error { return nil }

// Collect is what the build read.
func (j *job) Collect(c *kinds.Change, sd *kinds.Side, t config.Target) (*store.Measurement, error) {
	if meas := j.built[sd][t.Name]; meas != nil {
		return meas, nil
	}
	return nil, fmt.Errorf("not built")
}

// Compare: one build per side, so build CPU time can only inform.
func (j *job) Compare(opts *compare.Options, targets []config.Target) {
	for _, t := range targets {
		opts.Informational[t.Name] = j.env.Recipe.Kas.Informational
	}
}

func (j *job) Close() {}

// kasBuild builds one revision for one target and reads its results.
func (j *job) kasBuild(ctx context.Context, ex executor.Executor, key store.Key, t config.Target, c source.Commit) (*store.Measurement, error) {
	env, repo := j.env, j.repo
	plan, err := oebuild.Prepare(oebuild.Job{
		Recipes: env.Recipes, Benchmarks: env.Benchmarks, Workdir: env.Config.Workdir, Recipe: env.Recipe,
		Arch: t.Arch, Component: repo.Component, URL: repo.URL, Rev: c.SHA, Branch: j.branch,
	})
	if err != nil {
		return nil, err
	}
	j.log.WithFields(logrus.Fields{"target": t.Name, "rev": c.SHA[:12], "build": plan.BuildDir}).Info("kas build")
	env.Progress.Start("kas "+t.Arch+" "+c.SHA[:12], 1)
	env.Busy.Begin()
	out, err := oebuild.Run(ctx, plan, ex, env.Sandbox)
	env.Busy.End()
	env.Progress.Finish()
	if err != nil {
		return nil, err
	}
	results, rerr := oe.Results(plan.BuildDir)
	if rerr != nil {
		if out.OK() {
			// kas succeeded yet left nothing to read: ours to fix.
			return nil, rerr
		}
		// The build broke before buildhistory was written (parse error,
		// fetch failure of the revision): one failed status says so.
		results = []result.Result{{Benchmark: "build", Metric: result.Status, Unit: "pass/fail", Samples: []float64{result.Fail},
			Note: "kas build " + out.Describe() + ": " + kinds.Tail(out.Stderr, 10)}}
	}
	for i := range results {
		results[i].Target, results[i].Suite = t.Name, env.Recipe.Suite
	}
	result.Sort(results)
	return &store.Measurement{Key: key, Subject: c.Subject, Toolchain: repo.Component + " at " + c.SHA[:12], Results: results}, nil
}

// oeVersion identifies the recipes tree, the benchmark suite and the
// measuring method: results of different versions are never compared.
func oeVersion(env *kinds.Env) (string, error) {
	recipesFS, benchFS := env.Recipes, env.Benchmarks
	h := sha256.New()
	h.Write([]byte("method " + kinds.MethodVersion + "\n"))
	h.Write(env.Recipe.Raw)
	for _, fsys := range []fs.FS{recipesFS, benchFS} {
		err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || (fsys == recipesFS && !strings.HasPrefix(p, "oe/")) {
				return err
			}
			data, err := fs.ReadFile(fsys, p)
			if err != nil {
				return err
			}
			fmt.Fprintf(h, "%s %d\n", p, len(data))
			h.Write(data)
			return nil
		})
		if err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}
