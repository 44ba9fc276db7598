package config

import "fmt"

// toolchainKeys is what the config knows of one toolchain kind (a
// repository's toolchain: key): the checks of the keys it needs. How the
// kind finds the compiler is bot/toolchain's registry (toolchain.Register);
// it imports this package, so the config keeps its own table of names.
type toolchainKeys struct {
	name  string
	check func(c *Config, i int, r Repo, bad badFunc)
}

// toolchainKinds are the toolchain kinds a repository may name, one line
// each.
var toolchainKinds = []toolchainKeys{
	{name: "manifest"},
	{name: "build", check: (*Config).validateBuild},
	{name: "host", check: (*Config).validateHost},
}

func toolchainKindOf(name string) *toolchainKeys {
	for i := range toolchainKinds {
		if toolchainKinds[i].name == name {
			return &toolchainKinds[i]
		}
	}
	return nil
}

func toolchainNames() string {
	var names []string
	for _, k := range toolchainKinds {
		names = append(names, k.name)
	}
	return orList(names)
}

// validateHost checks that a repository with toolchain: host names a
// compiler for every target's arch.
func (c *Config) validateHost(i int, r Repo, bad badFunc) {
	for _, t := range c.Targets {
		if _, ok := r.Host[t.Arch]; !ok && t.Arch != "" {
			bad(c.line("repos", i, "toolchain"), fmt.Sprintf("repos[%d].host", i), "toolchain is host but no compiler is named for arch %s (target %s): add host: {%s: {cc: ..., cflags: ...}}", t.Arch, t.Name, t.Arch)
		}
	}
}
