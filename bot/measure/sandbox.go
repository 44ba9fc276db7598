package measure

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/tcbot/tcbot/bot/config"
	"github.com/tcbot/tcbot/bot/sandbox"
	// The toolchain kind build registers itself.
	_ "github.com/tcbot/tcbot/bot/toolchain/build"
)

// SandboxFor is the sandbox the config asks for: everything that comes
// from a revision under test (compilers, build systems, benchmarks, the
// probes that identify a compiler) runs in it.
func SandboxFor(cfg *config.Config) *sandbox.Sandbox {
	if cfg.Sandbox == config.SandboxNone {
		return nil
	}
	return &sandbox.Sandbox{Kind: sandbox.Bubblewrap, CacheDir: filepath.Join(cfg.Workdir, "cache"),
		Memory: int64(cfg.SandboxLimits.Memory), Processes: cfg.SandboxLimits.Processes}
}

// SetSandbox replaces the sandbox (for tests and benchmarks that compare
// runs with and without one).
func (m *Measurer) SetSandbox(sb *sandbox.Sandbox) {
	m.Sandbox = sb
	m.resolver.Sandbox = sb
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

// Activity is what the Measurer is doing now, for the dashboard: the step
// of a long toolchain or kernel build, its elapsed time and the last line
// of its log; "" when no such build runs.
func (m *Measurer) Activity() string {
	m.activityMu.Lock()
	defer m.activityMu.Unlock()
	return m.activity
}

// buildProgress reports a long build's progress (what is building) to the
// log and to Activity; a call with an empty step says it ended.
func (m *Measurer) buildProgress(what string) func(step string, elapsed time.Duration, last string) {
	return func(step string, elapsed time.Duration, last string) {
		m.activityMu.Lock()
		if step == "" {
			m.activity = ""
		} else {
			m.activity = fmt.Sprintf("%s: %s (%s): %s", what, step, elapsed.Round(time.Second), last)
		}
		m.activityMu.Unlock()
		if step != "" && elapsed > 0 && m.Log != nil {
			m.Log.WithFields(logrus.Fields{"elapsed": elapsed.Round(time.Second), "last": last}).Info(what + ": " + step)
		}
	}
}
