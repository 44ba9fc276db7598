package suite

import (
	"context"
	"fmt"

	"github.com/tcbot/tcbot/bot/config"
	"github.com/tcbot/tcbot/bot/executor"
	bench "github.com/tcbot/tcbot/bot/suite"
)

// batchRun is one run of a batch: a benchmark of one side.
type batchRun struct {
	sd   *Side
	dir  string
	b    bench.Benchmark
	runs *Runs
}

// runBatch runs a round of runs on a target in one batch and records each
// outcome as runJob would. A failed batch fails the target for every side
// in it (an infrastructure error, retried by the executor already).
func (j *job) runBatch(ex executor.Batcher, t config.Target, batch []batchRun) func(context.Context) {
	return func(ctx context.Context) {
		specs := make([]executor.Spec, len(batch))
		for i, r := range batch {
			specs[i] = j.runSpec(t, r.dir, r.b)
		}
		j.env.Busy.Begin()
		out, err := ex.RunBatch(ctx, specs)
		j.env.Busy.End()
		if err == nil && len(out) != len(specs) {
			err = fmt.Errorf("%s: %d outcomes for %d runs", t.Name, len(out), len(specs))
		}
		for i, r := range batch {
			j.env.Stats.AddRun()
			j.env.Progress.Step(r.sd.Name + " " + specs[i].Name)
			if err != nil {
				r.sd.Fail(t.Name, err.Error())
				continue
			}
			j.record(t, r.sd, r.b, r.runs, out[i])
		}
	}
}
