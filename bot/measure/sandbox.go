package measure

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/tcbot/tcbot/bot/config"
	"github.com/tcbot/tcbot/bot/result"
	"github.com/tcbot/tcbot/bot/sandbox"
	"github.com/tcbot/tcbot/bot/store"
	"github.com/tcbot/tcbot/bot/toolchain"
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

// identicalToolchains says why nothing needs measuring when every target's
// head toolchain was built from the change and is the base's, byte for
// byte; "" otherwise.
func identicalToolchains(sides []*side, targets []config.Target) string {
	base, head := sides[0], sides[1]
	var ids []string
	for _, t := range targets {
		b, h := base.toolchain[t.Name], head.toolchain[t.Name]
		if b == nil || h == nil || h.Built == nil || b.ID != h.ID {
			return ""
		}
		ids = append(ids, t.Arch+" "+h.ID)
	}
	if len(ids) == 0 {
		return ""
	}
	h := head.toolchain[targets[0].Name]
	return fmt.Sprintf("unchanged without measuring: the %s built from %s is byte-identical to the one built from %s (toolchain %s), so no benchmark can differ",
		h.Built.Component, short(head.commit.SHA), short(base.commit.SHA), strings.Join(dedupe(ids), ", "))
}

// toolchainFailed is the head's measurement on t when its toolchain did
// not build: the toolchain and every benchmark fail, naming the component,
// the step and the end of its log.
func (m *Measurer) toolchainFailed(repo string, sd *side, t config.Target, be *toolchain.BuildError) *store.Measurement {
	note := fmt.Sprintf("%s failed to build for %s (%s): %s", be.Component, be.Arch, be.Step, oneLineTail(be.Tail, 3))
	meas := &store.Measurement{Key: store.Key{Repo: repo, Revision: sd.commit.SHA, Target: t.Name, Suite: m.Recipe.Suite}, Subject: sd.commit.Subject}
	add := func(bench, note string) {
		meas.Results = append(meas.Results, result.Result{Target: t.Name, Suite: m.Suite.Name, Benchmark: bench, Metric: result.Status, Unit: "pass/fail", Samples: []float64{result.Fail}, Note: note})
	}
	add(ToolchainBenchmark, note)
	for _, b := range m.Suite.Benchmarks {
		add(b.Name, "not built: "+be.Component+" failed to build")
	}
	return meas
}

// ToolchainBenchmark names the results of a toolchain built from the
// change (status, build-time).
const ToolchainBenchmark = "toolchain"

// toolchainResults are the results of a built toolchain on t.
func toolchainResults(suite string, t config.Target, tc *toolchain.Toolchain) []result.Result {
	if tc == nil || tc.Built == nil {
		return nil
	}
	note := "cold build"
	if tc.Built.Incremental {
		note = "incremental build"
	}
	return []result.Result{
		{Target: t.Name, Suite: suite, Benchmark: ToolchainBenchmark, Metric: result.Status, Unit: "pass/fail", Samples: []float64{result.Pass}},
		{Target: t.Name, Suite: suite, Benchmark: ToolchainBenchmark, Metric: result.BuildTime, Unit: "s", Samples: []float64{tc.Built.Wall.Seconds()}, Note: tc.Built.Component + ", " + note},
	}
}

func oneLineTail(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
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
