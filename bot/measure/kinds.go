package measure

import (
	"fmt"

	"github.com/tcbot/tcbot/bot/config"
	"github.com/tcbot/tcbot/bot/measure/kinds"
	"github.com/tcbot/tcbot/bot/measure/kinds/distro"
	"github.com/tcbot/tcbot/bot/measure/kinds/kas"
	"github.com/tcbot/tcbot/bot/measure/kinds/kernel"
	"github.com/tcbot/tcbot/bot/measure/kinds/suite"
	"github.com/tcbot/tcbot/bot/recipe"
)

// recipeKinds are the recipe kinds by a recipe's kind: key. A new kind is
// a folder under kinds/ and one line here (see the README's "Adding a
// recipe / target").
var recipeKinds = map[string]kinds.Kind{
	"suite":  suite.Kind{},
	"kernel": kernel.Kind{},
	"kas":    kas.Kind{},
	// The distribution scenario: a Debian LAMP system with the kernel
	// under test.
	"distro-lamp": distro.Kind{},
}

// CheckTrees runs the slower checks of the trees the configured recipes
// use (tcbot config check): once per kind that has such a check, for the
// first repository of that kind. It returns what was checked.
func CheckTrees(cfg *config.Config, recs map[string]*recipe.Recipe) ([]string, error) {
	recipesFS, _, benchFS, _ := Sources(cfg)
	done := map[string]bool{}
	var notes []string
	for _, r := range cfg.Repos {
		rec := recs[r.Name]
		v, ok := recipeKinds[rec.Kind].(kinds.TreeChecker)
		if !ok || done[rec.Kind] {
			continue
		}
		done[rec.Kind] = true
		note, err := v.CheckTree(recipesFS, benchFS)
		if err != nil {
			return nil, fmt.Errorf("recipe %s (repo %s): %w", r.Recipe, r.Name, err)
		}
		notes = append(notes, fmt.Sprintf("recipe %s: %s", r.Recipe, note))
	}
	return notes, nil
}

func kindOf(rec *recipe.Recipe) (kinds.Kind, error) {
	k, ok := recipeKinds[rec.Kind]
	if !ok {
		return nil, fmt.Errorf("%s: kind: %s recipes are not implemented in this version", rec.Source, rec.Kind)
	}
	return k, nil
}

// The pseudo-benchmarks some kinds report beside the suite's.
const (
	// BootBenchmark: a guest's boot on a target that boots one
	// (boot-time, status).
	BootBenchmark = suite.BootBenchmark
	// KernelBenchmark: the kernel a kernel recipe built (kernel-size,
	// status).
	KernelBenchmark = kernel.KernelBenchmark
	// ToolchainBenchmark: a toolchain built from the change (status,
	// build-time).
	ToolchainBenchmark = suite.ToolchainBenchmark
)

// RecipeBootsKernel reports whether a recipe's kind boots the kernel it
// builds (its standalone targets are qemu-system guests).
func RecipeBootsKernel(rec *recipe.Recipe) bool {
	b, ok := recipeKinds[rec.Kind].(kinds.Booter)
	return ok && b.BootsKernel()
}
