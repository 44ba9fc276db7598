package main

import (
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/spf13/cobra"

	"github.com/tcbot/tcbot/bot/result"
	"github.com/tcbot/tcbot/bot/store"
)

// exportCmd writes stored measurements in the Go benchmark format (for
// benchstat) or as CSV (for a spreadsheet).
func exportCmd(stdout io.Writer) *cobra.Command {
	var cfgPath, repo, since, until, targets, format, output string
	c := &cobra.Command{
		Use:   "export --config F --repo R [--since DATE] [--format benchfmt|csv]",
		Short: "write stored measurements for benchstat (benchfmt) or a spreadsheet (csv)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if repo == "" {
				return fmt.Errorf("--repo is required: the repository whose measurements to export")
			}
			if format != "benchfmt" && format != "csv" {
				return fmt.Errorf("--format %q: want benchfmt (for benchstat) or csv", format)
			}
			f := store.ExportFilter{Repo: repo, Targets: splitList(targets)}
			var err error
			if f.Since, err = parseDate("--since", since); err != nil {
				return err
			}
			if f.Until, err = parseDate("--until", until); err != nil {
				return err
			}
			cfg, err := loadConfig(cfgPath)
			if err != nil {
				return err
			}
			if _, err := cfg.Repo(repo); err != nil {
				return err
			}
			if _, err := cfg.SelectTargets(f.Targets); err != nil {
				return err
			}
			st, err := store.OpenURL(cmd.Context(), cfg.Database)
			if err != nil {
				return err
			}
			defer st.Close()
			ms, err := st.Export(cmd.Context(), f)
			if err != nil {
				return err
			}
			w := stdout
			if output != "" {
				file, err := os.Create(output)
				if err != nil {
					return fmt.Errorf("--output: %w", err)
				}
				defer file.Close()
				w = file
			}
			if format == "csv" {
				return writeCSV(w, ms)
			}
			return writeBenchfmt(w, ms)
		},
	}
	c.Flags().StringVar(&cfgPath, "config", "", "configuration file")
	c.Flags().StringVar(&repo, "repo", "", "repository name from the config")
	c.Flags().StringVar(&since, "since", "", "only measurements made on or after this date (2026-12-01 or RFC 3339)")
	c.Flags().StringVar(&until, "until", "", "only measurements made before this date")
	c.Flags().StringVar(&targets, "targets", "", "comma-separated targets (default: all)")
	c.Flags().StringVar(&format, "format", "benchfmt", "benchfmt (the Go benchmark format, for benchstat) or csv")
	c.Flags().StringVar(&output, "output", "", "write to this file (default: standard output)")
	return c
}

func parseDate(flag, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%s %q: want a date such as 2026-12-01 or 2026-12-01T15:04:05Z", flag, s)
}

// benchUnit is the benchfmt unit of a metric: benchstat knows sec/op
// and B; the rest are tcbot's own, self-describing units.
func benchUnit(metric, unit string) string {
	switch metric {
	case result.Time:
		return "sec/op"
	case result.Instructions:
		return "instructions/op"
	case result.CodeSize:
		return "code-B"
	}
	u := strings.NewReplacer("/", "-per-", " ", "-").Replace(unit)
	switch unit {
	case "s":
		u = "sec"
	case "bytes":
		u = "B"
	}
	return metric + "-" + u
}

// benchName makes a valid benchfmt name: "Benchmark" then the name with
// its first letter upper-cased and no spaces.
func benchName(name string) string {
	r := []rune(strings.Join(strings.Fields(name), "_"))
	if len(r) > 0 {
		r[0] = unicode.ToUpper(r[0])
	}
	if len(r) == 0 || unicode.IsLower(r[0]) {
		return "Benchmark_" + string(r)
	}
	return "Benchmark" + string(r)
}

func oneLineValue(s string) string { return strings.Join(strings.Fields(s), " ") }

// writeBenchfmt writes each measurement as a block: configuration lines
// (repo, commit, subject, target, toolchain, suite, date), then one line
// per benchmark and sample index with every metric that has that sample
// (exact metrics have one, noisy ones one per run, so benchstat sees
// their spread). Failed benchmarks have no line.
func writeBenchfmt(w io.Writer, ms []*store.Measurement) error {
	for _, m := range ms {
		fmt.Fprintf(w, "repo: %s\ncommit: %s\nsubject: %s\ntarget: %s\ntoolchain: %s\nsuite: %s\ndate: %s\n\n",
			m.Repo, m.Revision, oneLineValue(m.Subject), m.Target, oneLineValue(m.Toolchain), m.Suite, m.CreatedAt.UTC().Format(time.RFC3339))
		byBench := map[string][]result.Result{}
		var names []string
		failed := map[string]bool{}
		for _, r := range m.Results {
			if r.Metric == result.Status {
				if len(r.Samples) == 1 && r.Samples[0] == result.Fail {
					failed[r.Benchmark] = true
				}
				continue
			}
			if _, ok := byBench[r.Benchmark]; !ok {
				names = append(names, r.Benchmark)
			}
			byBench[r.Benchmark] = append(byBench[r.Benchmark], r)
		}
		sort.Strings(names)
		for _, name := range names {
			if failed[name] {
				continue
			}
			rs := byBench[name]
			n := 0
			for _, r := range rs {
				n = max(n, len(r.Samples))
			}
			for i := 0; i < n; i++ {
				var b strings.Builder
				fmt.Fprintf(&b, "%s 1", benchName(name))
				for _, r := range rs {
					if i < len(r.Samples) {
						fmt.Fprintf(&b, " %s %s", strconv.FormatFloat(r.Samples[i], 'g', -1, 64), benchUnit(r.Metric, r.Unit))
					}
				}
				fmt.Fprintln(w, b.String())
			}
		}
		fmt.Fprintln(w)
	}
	return nil
}

// writeCSV writes one row per sample.
func writeCSV(w io.Writer, ms []*store.Measurement) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"repo", "commit", "subject", "target", "toolchain", "suite", "benchmark", "metric", "unit", "sample", "value", "created_at"})
	for _, m := range ms {
		for _, r := range m.Results {
			for i, v := range r.Samples {
				cw.Write([]string{m.Repo, m.Revision, m.Subject, m.Target, m.Toolchain, m.Suite, r.Benchmark, r.Metric, r.Unit,
					strconv.Itoa(i), strconv.FormatFloat(v, 'g', -1, 64), m.CreatedAt.UTC().Format(time.RFC3339Nano)})
			}
		}
	}
	cw.Flush()
	return cw.Error()
}
