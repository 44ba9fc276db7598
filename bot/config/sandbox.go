package config

import (
	"fmt"
	"strings"
)

// What the code of a revision under test runs in (Config.Sandbox): the
// same names as bot/sandbox's kinds.
const (
	SandboxBubblewrap = "bubblewrap"
	SandboxNone       = "none"
	// TrustAll (Config.Trust) says every author of a pull request is
	// trusted with the bot's user, environment and network.
	TrustAll = "all"
)

// Defaults of sandbox_limits.
const (
	DefaultSandboxMemory    ByteSize = 8 << 30
	DefaultSandboxProcesses          = 1024
)

// SandboxLimits bound what runs in the sandbox.
type SandboxLimits struct {
	// Memory is the address space of each process (default 8GiB).
	Memory ByteSize `yaml:"memory" want:"a size such as 8GiB, 512MiB or 4G, or a number of bytes" min:"64MiB"`
	// Processes is how many processes the sandbox user may have at once
	// (default 1024): a fork bomb stops there.
	Processes int `yaml:"processes" want:"a positive whole number such as 1024" min:"1"`
}

// untrustedRisk says why code from pull requests needs a sandbox.
const untrustedRisk = "pull requests bring code (compilers, configure scripts, benchmarks) that would run with tcbot's user, environment and network"

func (c *Config) sandboxDefaults() {
	if c.Sandbox == "" {
		c.Sandbox = SandboxBubblewrap
	}
	if c.SandboxLimits.Memory == 0 {
		c.SandboxLimits.Memory = DefaultSandboxMemory
	}
	if c.SandboxLimits.Processes == 0 {
		c.SandboxLimits.Processes = DefaultSandboxProcesses
	}
}

func (c *Config) validateSandbox(bad func(line int, key, format string, args ...any)) {
	switch c.Sandbox {
	case SandboxBubblewrap, SandboxNone:
	default:
		bad(c.line("sandbox"), "sandbox", "%q: want bubblewrap (the default) or none", c.Sandbox)
	}
	switch c.Trust {
	case "", TrustAll:
	default:
		bad(c.line("trust"), "trust", "%q: the only value is all (every pull request author is trusted); leave it out otherwise", c.Trust)
	}
	if c.SandboxLimits.Memory < 0 {
		bad(c.line("sandbox_limits", "memory"), "sandbox_limits.memory", "%d is negative: want a size such as 8GiB", c.SandboxLimits.Memory)
	}
	if c.SandboxLimits.Processes < 0 {
		bad(c.line("sandbox_limits", "processes"), "sandbox_limits.processes", "%d is negative: want a positive whole number such as 1024", c.SandboxLimits.Processes)
	}
}

// githubRepos lists the repositories whose pull requests are tested.
func (c *Config) githubRepos() []string {
	var out []string
	for _, r := range c.Repos {
		if r.GitHub != "" {
			out = append(out, r.Name+" ("+r.GitHub+")")
		}
	}
	return out
}

// CheckUntrusted refuses, for tcbot serve and tcbot worker (serve true),
// to run the code of pull requests without a sandbox: sandbox: none on a
// config with a github: repository needs trust: all. Other commands run
// what the user asked for on their own machine and are never refused.
func (c *Config) CheckUntrusted(serve bool) error {
	if !serve || c.Sandbox != SandboxNone || c.Trust == TrustAll {
		return nil
	}
	repos := c.githubRepos()
	if len(repos) == 0 {
		return nil
	}
	return fmt.Errorf("%s:%d: sandbox: none, and the pull requests of %s are tested: %s; use sandbox: bubblewrap, or say trust: all if every pull request author is trusted",
		c.Path, c.line("sandbox"), strings.Join(repos, ", "), untrustedRisk)
}

// SandboxSummary says which sandbox is in use, for tcbot config check.
func (c *Config) SandboxSummary() string {
	if c.Sandbox == SandboxNone {
		return "sandbox: none: builds and benchmarks run as tcbot's user, with its environment and network"
	}
	return fmt.Sprintf("sandbox: %s: %s address space per process, %d processes", c.Sandbox, c.SandboxLimits.Memory, c.SandboxLimits.Processes)
}

// SandboxWarning explains what sandbox: none risks ("" with a sandbox).
func (c *Config) SandboxWarning() string {
	if c.Sandbox != SandboxNone {
		return ""
	}
	msg := "warning: sandbox: none: " + untrustedRisk + " and could read its secrets, database and files"
	switch repos := c.githubRepos(); {
	case len(repos) > 0 && c.Trust == TrustAll:
		msg += fmt.Sprintf("; trust: all says every author of a pull request of %s is trusted", strings.Join(repos, ", "))
	case len(repos) > 0:
		msg += fmt.Sprintf("; serve and worker refuse to test the pull requests of %s without sandbox: bubblewrap or trust: all", strings.Join(repos, ", "))
	default:
		msg += "; use it only for code you trust"
	}
	return msg
}
