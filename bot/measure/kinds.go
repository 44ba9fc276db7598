package measure

import (
	"fmt"

	"github.com/tcbot/tcbot/bot/measure/kinds"
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
