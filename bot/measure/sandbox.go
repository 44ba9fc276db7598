package measure

import (
	"path/filepath"

	"github.com/tcbot/tcbot/bot/config"
	"github.com/tcbot/tcbot/bot/sandbox"
)

// SandboxFor is the sandbox the config asks for: everything that comes
// from a revision under test (compilers, build systems, benchmarks, the
// probes that identify a compiler) runs in it.
func SandboxFor(cfg *config.Config) *sandbox.Sandbox {
	kind := sandbox.Bubblewrap
	return &sandbox.Sandbox{Kind: kind, CacheDir: filepath.Join(cfg.Workdir, "cache")}
}

// SetSandbox replaces the sandbox (for tests and benchmarks that compare
// runs with and without one).
func (m *Measurer) SetSandbox(sb *sandbox.Sandbox) {
	m.Sandbox = sb
	m.resolver.Sandbox = sb
}
