package suite

import (
	"fmt"
	"strings"

	"github.com/tcbot/tcbot/bot/config"
	"github.com/tcbot/tcbot/bot/measure/kinds"
	"github.com/tcbot/tcbot/bot/result"
	"github.com/tcbot/tcbot/bot/store"
	"github.com/tcbot/tcbot/bot/toolchain"
)

// identicalToolchains says why nothing needs measuring when every target's
// head toolchain was built from the change and is the base's, byte for
// byte; "" otherwise.
func identicalToolchains(sides []*Side, targets []config.Target) string {
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
		h.Built.Component, short(head.Commit.SHA), short(base.Commit.SHA), strings.Join(kinds.Dedupe(ids), ", "))
}

// toolchainFailed is the head's measurement on t when its toolchain did
// not build: the toolchain and every benchmark fail, naming the component,
// the step and the end of its log.
func (j *job) toolchainFailed(repo string, sd *Side, t config.Target, be *toolchain.BuildError) *store.Measurement {
	note := fmt.Sprintf("%s failed to build for %s (%s): %s", be.Component, be.Arch, be.Step, kinds.OneLineTail(be.Tail, 3))
	meas := &store.Measurement{Key: store.Key{Repo: repo, Revision: sd.Commit.SHA, Target: t.Name, Suite: j.env.Recipe.Suite}, Subject: sd.Commit.Subject}
	add := func(bench, note string) {
		meas.Results = append(meas.Results, result.Result{Target: t.Name, Suite: j.env.Suite.Name, Benchmark: bench, Metric: result.Status, Unit: "pass/fail", Samples: []float64{result.Fail}, Note: note})
	}
	add(ToolchainBenchmark, note)
	for _, b := range j.env.Suite.Benchmarks {
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
