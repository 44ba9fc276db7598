package config

import (
	"fmt"
	"strings"
)

// RepoDistro is a repository's part in the distribution scenario (recipe
// distro-lamp) when it is not the kernel: a C library (glibc, toolchain:
// build with build: {recipe: glibc}) is swapped into the Debian image, and
// the image boots a fixed kernel.
type RepoDistro struct {
	// Kernel is the kernel every boot uses, base and head alike.
	Kernel DistroKernel `yaml:"kernel"`
	// kernelURL is Kernel.Repo's URL (for the reproduce line).
	kernelURL string
}

// DistroKernel is a kernel built from another repository of the config at
// a fixed revision, with the distro-lamp recipe's kernel settings.
type DistroKernel struct {
	// Repo names the kernel repository (one of repos:).
	Repo string `yaml:"repo"`
	// Rev is its revision: a tag, a branch or a commit.
	Rev string `yaml:"rev"`
}

// validateDistro checks the distro: key of repository i.
func (c *Config) validateDistro(i int, r Repo, bad func(line int, key, format string, args ...any)) {
	d := r.Distro
	if d == nil {
		return
	}
	key := func(k string) string { return fmt.Sprintf("repos[%d].distro.%s", i, k) }
	var names []string
	found := false
	for _, o := range c.Repos {
		if o.Name != r.Name {
			names = append(names, o.Name)
		}
		if o.Name == d.Kernel.Repo && o.Name != r.Name {
			found, d.kernelURL = true, o.URL
		}
	}
	switch {
	case d.Kernel.Repo == "":
		bad(c.line("repos", i, "distro"), key("kernel.repo"), "missing: name the kernel repository the image boots (one of repos:, e.g. {kernel: {repo: linux, rev: v6.1}})")
	case !found && len(names) == 0:
		bad(c.line("repos", i, "distro", "kernel", "repo"), key("kernel.repo"), "%q: no other repository is configured: add the kernel's repository to repos:", d.Kernel.Repo)
	case !found:
		bad(c.line("repos", i, "distro", "kernel", "repo"), key("kernel.repo"), "%q: not another repository of this config (it has %s)", d.Kernel.Repo, strings.Join(names, ", "))
	}
	if d.Kernel.Rev == "" {
		bad(c.line("repos", i, "distro", "kernel"), key("kernel.rev"), "missing: the kernel's revision (a tag, branch or commit), the same for base and head")
	}
}
