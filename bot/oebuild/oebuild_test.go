package oebuild

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tcbot/tcbot/benchmarks"
	"github.com/tcbot/tcbot/bot/oe/layercheck"
	"github.com/tcbot/tcbot/bot/recipe"
	"github.com/tcbot/tcbot/recipes"
)

// TestPrepareShippedRecipe prepares the shipped oe-lamp recipe for every
// component and arch: the per-change include pins the revision and is a
// valid kas file, and the command names the project and the include.
func TestPrepareShippedRecipe(t *testing.T) {
	rec, err := recipe.Load(recipes.FS, "recipes", "oe-lamp")
	if err != nil {
		t.Fatal(err)
	}
	schemaPath, err := layercheck.FindKasSchema()
	if err != nil {
		t.Fatalf("%v (CI installs Debian's kas)", err)
	}
	schema, err := os.ReadFile(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	const rev = "89abcdef0123456789abcdef0123456789abcdef"
	for _, component := range recipe.Components {
		for _, arch := range []string{"armv7", "armv8"} {
			p, err := Prepare(Job{Recipes: recipes.FS, Benchmarks: benchmarks.FS, Workdir: work, Recipe: rec,
				Arch: arch, Component: component, URL: "https://example.org/" + component + ".git", Rev: rev, Branch: "main"})
			if err != nil {
				t.Fatalf("%s/%s: %v", component, arch, err)
			}
			data, err := os.ReadFile(p.Override)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(data), rev) {
				t.Errorf("%s/%s: the include does not pin %s:\n%s", component, arch, rev, data)
			}
			if err := layercheck.CheckKas(p.Override, schema); err != nil {
				t.Errorf("%s/%s: rendered include is not a valid kas file: %v", component, arch, err)
			}
			if p.Argv[0] != "kas" || p.Argv[1] != "build" || p.Argv[2] != p.Project+":"+p.Override {
				t.Errorf("%s/%s: command %q", component, arch, p.Argv)
			}
			if filepath.Dir(p.Override) != filepath.Dir(p.Project) {
				t.Errorf("the include %s is not beside the project %s", p.Override, p.Project)
			}
			env := strings.Join(p.Env, "\n")
			for _, want := range []string{"KAS_BUILD_DIR=" + p.BuildDir, "DL_DIR=" + filepath.Join(work, "oe", "downloads"), "SSTATE_DIR=" + filepath.Join(work, "oe", "sstate")} {
				if !strings.Contains(env, want) {
					t.Errorf("environment lacks %s", want)
				}
			}
		}
	}
	// One source tree for all of them: written once per content.
	srcs, _ := filepath.Glob(filepath.Join(work, "oe", "src-*"))
	if len(srcs) != 1 {
		t.Errorf("%d source trees, want 1", len(srcs))
	}
	if _, err := os.Stat(filepath.Join(srcs[0], "benchmarks", "loadgen", "loadgen.c")); err != nil {
		t.Errorf("the load generator the layer builds is missing from the tree: %v", err)
	}
}

func TestShippedTreeChecks(t *testing.T) {
	if errs := Check(recipes.FS, benchmarks.FS); len(errs) > 0 {
		for _, e := range errs {
			t.Error(e)
		}
	}
}
