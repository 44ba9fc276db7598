package suite

import (
	"fmt"

	"github.com/tcbot/tcbot/bot/config"
	"github.com/tcbot/tcbot/bot/executor"
	"github.com/tcbot/tcbot/bot/result"
	"github.com/tcbot/tcbot/bot/store"
)

// BootBenchmark names the pseudo-benchmark under which a qemu-system
// target reports its guest's boot: boot-time (seconds on the guest's
// clock when its /init is ready; informational by default) and status
// (the guest came up). A guest that does not come up is an infrastructure error when
// the kernel is not the thing measured.
const BootBenchmark = "boot"

// noteBoot records the boot of a guest a side's executor made for target.
func (sd *Side) noteBoot(target string, ex executor.Executor) {
	b, ok := ex.(executor.Booter)
	if !ok {
		return
	}
	info, ok := b.Boot()
	if !ok {
		return
	}
	sd.mu.Lock()
	defer sd.mu.Unlock()
	if sd.boots == nil {
		sd.boots = map[string][]executor.BootInfo{}
	}
	sd.boots[target] = append(sd.boots[target], info)
}

// bootResults are the results of the boot pseudo-benchmark of a side on a
// target: one boot-time sample per boot; and under a kernel recipe the
// kernel's (Hooks.Results). A side that booted nothing in this run (every
// binary identical to the base's) carries the base's boot results, marked
// identical.
func (j *job) bootResults(sd *Side, t config.Target, baseMeas *store.Measurement) []result.Result {
	suiteName := j.env.Suite.Name
	var out []result.Result
	ownBoot := false // the kind's results say how the boot went
	if j.hooks.Results != nil {
		out, ownBoot = j.hooks.Results(sd, t)
	}
	sd.mu.Lock()
	boots := sd.boots[t.Name]
	sd.mu.Unlock()
	if len(boots) == 0 {
		if baseMeas == nil || ownBoot {
			// (A kernel under test that did not boot says so in its
			// results.)
			return out
		}
		for _, r := range baseMeas.Results {
			if r.Benchmark == BootBenchmark {
				r.Identical = true
				r.Note = "not booted again: identical binaries; boot of " + baseMeas.Revision[:min(12, len(baseMeas.Revision))]
				out = append(out, r)
			}
		}
		return out
	}
	// The guest's own clock at its prompt: under icount a deterministic
	// measure of what the boot executed, where the host's wall time
	// moves with the host's load.
	var secs []float64
	for _, b := range boots {
		d := b.GuestUptime
		if d <= 0 {
			d = b.Time
		}
		secs = append(secs, d.Seconds())
	}
	bt, _ := result.LookupMetric(result.BootTime)
	st, _ := result.LookupMetric(result.Status)
	note := fmt.Sprintf("guest clock at the prompt; host wall %.2fs", boots[0].Time.Seconds())
	if v := boots[0].KernelVersion; v != "" {
		note += "; kernel " + v
	}
	return append(out,
		result.Result{Target: t.Name, Suite: suiteName, Benchmark: BootBenchmark, Metric: result.BootTime, Unit: bt.Unit, Samples: secs, Note: note},
		result.Result{Target: t.Name, Suite: suiteName, Benchmark: BootBenchmark, Metric: result.Status, Unit: st.Unit, Samples: []float64{result.Pass}},
	)
}
