package config

import (
	"fmt"
	"strings"
)

// BuildToolchain configures a repository with toolchain: build: the
// toolchain recipe that builds the revision (recipes/toolchain/NAME.yaml:
// gcc, binutils, glibc, llvm, or one of the user's), how the benchmarks
// use it, and their flags.
type BuildToolchain struct {
	Recipe string `yaml:"recipe"`
	// Use overrides the recipe's use: overlay or full (gcc).
	Use string `yaml:"use"`
	// CFlags are the benchmarks' flags (default -O2).
	CFlags string `yaml:"cflags"`
}

// CFlagsOr is the benchmarks' flags.
func (b *BuildToolchain) CFlagsOr() string {
	if b == nil || strings.TrimSpace(b.CFlags) == "" {
		return "-O2"
	}
	return b.CFlags
}

// validateBuild checks the build: key of a repository with toolchain: build.
func (c *Config) validateBuild(i int, r Repo, bad badFunc) {
	key := fmt.Sprintf("repos[%d].build", i)
	if r.Build == nil || r.Build.Recipe == "" {
		bad(c.line("repos", i, "toolchain"), key+".recipe", "missing: toolchain: build needs build: {recipe: gcc} (or binutils, glibc, llvm, or a file of recipes_dir/toolchain/)")
		return
	}
	if !nameRE.MatchString(r.Build.Recipe) {
		bad(c.line("repos", i, "build", "recipe"), key+".recipe", "%q: a recipe name such as gcc", r.Build.Recipe)
	}
	switch r.Build.Use {
	case "", "overlay", "full", "sysroot":
	default:
		bad(c.line("repos", i, "build", "use"), key+".use", "%q: want overlay or full", r.Build.Use)
	}
}
