package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"

	"github.com/tcbot/tcbot/bot/bisect"
	"github.com/tcbot/tcbot/bot/measure"
	"github.com/tcbot/tcbot/bot/progress"
	"github.com/tcbot/tcbot/bot/report"
	"github.com/tcbot/tcbot/bot/source"
)

// Exit codes of tcbot bisect.
const (
	exitBisectFound           = 2 // a culprit, or a range hidden by broken commits
	exitBisectNotReproducible = 3
)

func bisectCmd(log *logrus.Logger, stdout, stderr io.Writer) *cobra.Command {
	var cfgPath, repo, good, bad, target, benchmark, metric, format string
	workers := 1
	c := &cobra.Command{
		Use:   "bisect --config F --repo R --good REV --bad REV [--target T] [--benchmark B] [--metric M]",
		Short: "find the first commit between --good and --bad that regresses (exit 0: nothing to bisect, 2: culprit or range named, 3: not reproducible, 1: error)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			for _, fv := range [][2]string{{"--repo", repo}, {"--good", good}, {"--bad", bad}} {
				if fv[1] == "" {
					return fmt.Errorf("%s is required", fv[0])
				}
			}
			switch format {
			case "text", "markdown", "json":
			default:
				return fmt.Errorf("--format %q: want text, markdown or json", format)
			}
			if workers < 1 {
				return fmt.Errorf("--workers %d: want at least 1", workers)
			}
			cfg, err := loadConfig(cfgPath)
			if err != nil {
				return err
			}
			if _, err := cfg.LoadSecrets(); err != nil {
				return err
			}
			r, err := cfg.Repo(repo)
			if err != nil {
				return err
			}
			var targets []string
			if target != "" {
				if _, err := cfg.SelectTargets([]string{target}); err != nil {
					return fmt.Errorf("--target: %w", err)
				}
				targets = []string{target}
			}
			m, err := measure.New(ctx, cfg, log, progress.New(stderr))
			if err != nil {
				return err
			}
			defer m.Store.Close()
			mirror, err := source.Open(filepath.Join(cfg.Workdir, "git"), r.Name, r.URL)
			if err != nil {
				return err
			}
			res, err := bisect.Run(ctx, bisect.Options{
				Repo: repo, Good: good, Bad: bad, Target: target, Benchmark: benchmark, Metric: metric,
				Parallel: max(1, workers-1), Mirror: mirror,
				Measure: measurers(m, workers, repo, targets),
				Reproduce: func(base, head, t string) string {
					if r, err := cfg.Repo(repo); err == nil {
						return report.ReproduceRun(r.RunRepo().Flags(), base, head, []string{t})
					}
					return report.ReproduceCommand(cfg.Path, repo, base, head, []string{t})
				},
				Progress: func(p bisect.Progress) {
					log.WithFields(logrus.Fields{"round": p.Round, "remaining": p.Remaining, "measured": len(p.Steps)}).Warn("bisect: round done")
				},
			})
			if err != nil {
				return err
			}
			if err := bisect.Render(stdout, res, format); err != nil {
				return err
			}
			switch res.Outcome {
			case bisect.Culprit, bisect.Range:
				return exitError{exitBisectFound}
			case bisect.NotReproducible:
				return exitError{exitBisectNotReproducible}
			}
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&cfgPath, "config", "", "configuration file")
	f.StringVar(&repo, "repo", "", "repository name from the config")
	f.StringVar(&good, "good", "", "a revision without the regression")
	f.StringVar(&bad, "bad", "", "a later revision with it (good must be its first-parent ancestor)")
	f.StringVar(&target, "target", "", "bisect the regression on this target (and measure only it; default: all targets, the largest regression)")
	f.StringVar(&benchmark, "benchmark", "", "bisect the regression of this benchmark")
	f.StringVar(&metric, "metric", "", "bisect the regression of this metric (instructions, code-size, time, ...)")
	f.IntVar(&workers, "workers", 1, "commits measured at once: with N workers each round measures N-1 midpoints (at least 1)")
	f.StringVar(&format, "format", "text", "report format: text, markdown or json")
	return c
}

// measurers measures probes with up to n Measurers at once.
func measurers(m *measure.Measurer, n int, repo string, targets []string) bisect.MeasureFunc {
	pool := make(chan *measure.Measurer, n)
	pool <- m
	for i := 1; i < n; i++ {
		pool <- m.Fork()
	}
	return func(ctx context.Context, rev, base string) (*report.Report, error) {
		mm := <-pool
		defer func() { pool <- mm }()
		rep, _, err := mm.Run(ctx, measure.Request{Repo: repo, Rev: rev, Base: base, Targets: targets})
		return rep, err
	}
}
