package measure

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/sirupsen/logrus"

	"github.com/tcbot/tcbot/benchmarks"
	"github.com/tcbot/tcbot/bot/config"
	"github.com/tcbot/tcbot/bot/insncount"
	"github.com/tcbot/tcbot/bot/measure/kinds"
	"github.com/tcbot/tcbot/bot/progress"
	"github.com/tcbot/tcbot/bot/recipe"
	"github.com/tcbot/tcbot/bot/store"
	"github.com/tcbot/tcbot/bot/suite"
	"github.com/tcbot/tcbot/bot/toolchain"
	"github.com/tcbot/tcbot/recipes"
)

// Sources returns where recipes and the benchmark suite come from: the
// copies built into tcbot, or the directories the config names.
func Sources(cfg *config.Config) (recipesFS fs.FS, recipesWhere string, suiteFS fs.FS, suiteWhere string) {
	recipesFS, recipesWhere = recipes.FS, "recipes (built in)"
	if cfg.RecipesDir != "" {
		recipesFS, recipesWhere = os.DirFS(cfg.RecipesDir), cfg.RecipesDir
	}
	suiteFS, suiteWhere = benchmarks.FS, "benchmarks (built in)"
	if cfg.BenchmarksDir != "" {
		suiteFS, suiteWhere = os.DirFS(cfg.BenchmarksDir), cfg.BenchmarksDir
	}
	return
}

// LoadRecipes loads the recipe of every configured repository and the
// suite they build, checking that they fit together.
func LoadRecipes(cfg *config.Config) (map[string]*recipe.Recipe, *suite.Suite, error) {
	rfs, rwhere, sfs, swhere := Sources(cfg)
	s, err := suite.Load(sfs, swhere)
	if err != nil {
		return nil, nil, err
	}
	out := map[string]*recipe.Recipe{}
	for _, r := range cfg.Repos {
		rec, err := recipe.Load(rfs, rwhere, r.Recipe)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: repo %s: %w", cfg.Path, r.Name, err)
		}
		kind, err := kindOf(rec)
		if err != nil {
			return nil, nil, err
		}
		env := kinds.CheckEnv{Config: cfg, Recipes: rfs, RecipesWhere: rwhere, Suite: s, SuiteWhere: swhere}
		if err := kind.Check(env, &r, rec); err != nil {
			return nil, nil, err
		}
		out[r.Name] = rec
	}
	return out, s, nil
}

// New wires a Measurer from a config: the store, the recipes, the suite
// and the instruction-counting plugin (built on first use). Close the
// returned Measurer's Store when done.
func New(ctx context.Context, cfg *config.Config, log logrus.FieldLogger, prog progress.Reporter) (*Measurer, error) {
	recs, s, err := LoadRecipes(cfg)
	if err != nil {
		return nil, err
	}
	plugin := cfg.Plugin
	if plugin == "" {
		sub, err := fs.Sub(benchmarks.FS, "plugin")
		if err != nil {
			return nil, err
		}
		plugin, err = insncount.Build(ctx, sub, filepath.Join(cfg.Workdir, "cache"))
		if err != nil {
			return nil, err
		}
	}
	sb := SandboxFor(cfg)
	if err := sb.Check(); err != nil {
		return nil, fmt.Errorf("%s: sandbox: %w", cfg.Path, err)
	}
	st, err := store.OpenURL(ctx, cfg.Database)
	if err != nil {
		return nil, err
	}
	m := &Measurer{Config: cfg, Store: st, Suite: s, Recipes: recs, Plugin: plugin, Log: log, Progress: prog, Sandbox: sb}
	m.resolver.Sandbox = sb
	rfs, rwhere, _, _ := Sources(cfg)
	m.resolver.Env = toolchain.BuildEnv{Workdir: cfg.Workdir, Jobs: cfg.Jobs, Recipes: rfs, RecipesWhere: rwhere, Log: log,
		Progress: m.buildProgress,
	}
	return m, nil
}

// Fork returns a Measurer that shares m's config, store, suite, recipes,
// plugin and sandbox but measures on its own, so several changes can be
// measured at once in one process (a bisection's probes). Build trees are
// locked per tree, so two forks building the same toolchain take turns.
func (m *Measurer) Fork() *Measurer {
	f := &Measurer{Config: m.Config, Store: m.Store, Suite: m.Suite, Recipes: m.Recipes, Plugin: m.Plugin,
		Log: m.Log, Progress: m.Progress, NewExecutor: m.NewExecutor, Sandbox: m.Sandbox}
	f.resolver.Sandbox = m.resolver.Sandbox
	f.resolver.Env = m.resolver.Env
	f.resolver.Env.Progress = f.buildProgress
	return f
}
