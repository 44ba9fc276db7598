package suite

import (
	"context"
	"math"
	"slices"

	"github.com/tcbot/tcbot/bot/compare"
	"github.com/tcbot/tcbot/bot/config"
	"github.com/tcbot/tcbot/bot/measure/kinds"
	"github.com/tcbot/tcbot/bot/result"
	"github.com/tcbot/tcbot/bot/target"
)

// Adaptive resampling, as Chromium's Pinpoint does: a noisy comparison on
// a board that is neither clearly the same nor clearly different gets more
// samples (doubling, both sides interleaved, at most maxResample times the
// target's samples) before tcbot decides. Clear cases cost nothing extra.
const (
	maxResample = 4
	// greyP: a p-value below this, with an effect near the minimum, is
	// suggestive enough to look closer; above it the sides look the same.
	greyP = 0.25
)

func (j *job) resample(ctx context.Context, targets []config.Target, sides []*Side) error {
	base, head := sides[0], sides[1]
	for {
		more := map[string]map[string]int{}
		for _, t := range targets {
			if !target.TraitsOf(t).OnBoard || slices.Contains(t.Informational, result.Time) || base.HasFailed(t.Name) || head.HasFailed(t.Name) {
				continue
			}
			br, hr := base.runs[t.Name], head.runs[t.Name]
			if br == nil || hr == nil {
				continue // a side came from the store: no more samples of it
			}
			for _, b := range j.env.Suite.Benchmarks {
				x, y := br[b.Name], hr[b.Name]
				if x == nil || y == nil || x.identical || y.identical || x.failNote != "" || y.failNote != "" {
					continue
				}
				n := min(len(x.times), len(y.times))
				if n == 0 || n >= maxResample*t.Samples || !j.grey(t, b.Name, x.times, y.times) {
					continue
				}
				if more[t.Name] == nil {
					more[t.Name] = map[string]int{}
				}
				more[t.Name][b.Name] = n
				j.env.Stats.AddResample()
			}
		}
		if len(more) == 0 {
			return nil
		}
		j.env.Log.WithField("benchmarks", more).Info("grey zone: taking more samples")
		if err := j.runSamples(ctx, targets, sides, more); err != nil {
			return err
		}
	}
}

// grey tells whether two timing samples are in the grey zone: not
// significant, yet suggestive (p below greyP) with an effect of at least
// half the minimum effect.
func (j *job) grey(t config.Target, bench string, base, head []float64) bool {
	mk := func(s []float64) []result.Result {
		return []result.Result{{Target: t.Name, Suite: j.env.Suite.Name, Benchmark: bench, Metric: result.Time, Unit: "s", Samples: s}}
	}
	opts := kinds.CompareOptions(j.env.Config, nil)
	out := compare.Compare(mk(base), mk(head), opts)
	if len(out.Comparisons) != 1 {
		return false
	}
	c := out.Comparisons[0]
	if c.Verdict != compare.Unchanged || c.P == nil || c.DeltaPct == nil {
		return false
	}
	return *c.P < greyP && math.Abs(*c.DeltaPct) >= opts.MinEffect/2
}
