package recipe_test

import (
	"strings"
	"testing"

	"github.com/tcbot/tcbot/bot/recipe"
	"github.com/tcbot/tcbot/recipes"
)

func TestShippedToolchainRecipes(t *testing.T) {
	for _, name := range []string{"binutils", "gcc", "glibc", "llvm"} {
		tc, err := recipe.LoadToolchain(recipes.FS, "recipes", name)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if tc.Name != name || tc.Component == "" {
			t.Errorf("%s: name %q component %q", name, tc.Name, tc.Component)
		}
	}
	gcc, _ := recipe.LoadToolchain(recipes.FS, "recipes", "gcc")
	argv := recipe.Expand(gcc.Configure[0], map[string][]string{"src": {"/s"}, "host_configure": {"--prefix=/usr", "--target=aarch64-linux-gnu"}})
	if argv[0] != "/s/configure" || argv[1] != "--prefix=/usr" || argv[2] != "--target=aarch64-linux-gnu" {
		t.Errorf("gcc configure expands to %q", argv)
	}
}

func TestBadToolchainRecipes(t *testing.T) {
	for _, c := range []struct{ text, want string }{
		{"name: x\ncomponent: gcc\nuse: sideways\nbuild: [[make]]\n", "use: \"sideways\""},
		{"name: x\ncomponent: gcc\nuse: overlay\nbuild: [[make]]\n", "outputs: missing"},
		{"name: x\ncomponent: gcc\nuse: overlay\noutputs: {as: /abs}\nbuild: [[make]]\n", "outputs.as"},
		{"name: x\ncomponent: gcc\nuse: full\nbuild: [[make]]\n", "full.cc: missing"},
		{"name: x\ncomponent: gcc\nuse: overlay\noutputs: {as: a}\nbuild: [[make, \"{nope}\"]]\n", "unknown placeholder {nope}"},
		{"name: x\ncomponent: gcc\nuse: overlay\noutputs: {as: a}\nbuild: [[make]]\ntimeout: soon\n", "timeout"},
		{"name: x\ncomponent: gcc\nuse: overlay\noutputs: {as: a}\nbuild: [[make]]\nbogus: 1\n", "bogus"},
	} {
		_, err := recipe.ParseToolchain("t.yaml", []byte(c.text))
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "t.yaml") {
			t.Errorf("%q: error %v, want one naming the file and %q", c.text, err, c.want)
		}
	}
}
