package kinds

import (
	"github.com/tcbot/tcbot/bot/compare"
	"github.com/tcbot/tcbot/bot/config"
	"github.com/tcbot/tcbot/bot/result"
)

// CompareOptions are the config's comparison options for targets (before
// a kind's Job.Compare tunes them).
func CompareOptions(cfg *config.Config, targets []config.Target) compare.Options {
	opts := compare.DefaultOptions()
	if opts.Thresholds == nil {
		opts.Thresholds = map[string]float64{}
	}
	for k, v := range cfg.Compare.Thresholds {
		opts.Thresholds[k] = v
	}
	opts.MinEffect, opts.Q = cfg.Compare.MinEffect, cfg.Compare.FDR
	opts.Informational = map[string][]string{}
	for _, t := range targets {
		// A toolchain's build time is one sample a side: it informs.
		opts.Informational[t.Name] = append(append([]string(nil), t.Informational...), result.BuildTime)
	}
	return opts
}
