package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/spf13/cobra"

	"github.com/tcbot/tcbot/bot/config"
	"github.com/tcbot/tcbot/bot/result"
	"github.com/tcbot/tcbot/bot/store"
)

// exportFormats are the formats of `tcbot export`, by --format name.
var exportFormats = map[string]func(io.Writer, []*store.Measurement) error{
	"benchfmt": writeBenchfmt,
	"csv":      writeCSV,
}

// exportCmd writes stored measurements in the Go benchmark format (for
// benchstat) or as CSV (for a spreadsheet).
func exportCmd(stdout io.Writer) *cobra.Command {
	var cfgPath, repo, since, until, targets, format, output string
	c := &cobra.Command{
		Use:   "export --config F --repo R [--since DATE] [--until DATE] [--targets a,b] [--format benchfmt|csv] [--output FILE]",
		Short: "write stored measurements for benchstat (benchfmt) or a spreadsheet (csv)",
		Long: `Export writes the stored measurements of a repository, in commit order
(as far as the measured changes tell it; by time otherwise).

benchfmt is the Go benchmark format: each measurement is a block of
configuration lines (repo, commit, subject, target, toolchain,
toolchain-id, suite, suite-version, date) and one line per benchmark and
sample, in units benchstat knows (sec/op, instructions/op, code-B, ...).
A failed benchmark has a comment instead of numbers. csv has one row per
sample, every metric.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if repo == "" {
				return fmt.Errorf("--repo is required: the repository whose measurements to export")
			}
			write, ok := exportFormats[format]
			if !ok {
				return fmt.Errorf("--format %q: want benchfmt (for benchstat) or csv (for a spreadsheet)", format)
			}
			f := store.ExportFilter{Repo: repo, Targets: splitList(targets)}
			var err error
			if f.Since, err = parseDate("--since", since); err != nil {
				return err
			}
			if f.Until, err = parseDate("--until", until); err != nil {
				return err
			}
			if !f.Since.IsZero() && !f.Until.IsZero() && !f.Until.After(f.Since) {
				return fmt.Errorf("--until %s is not after --since %s: nothing could match; --until is exclusive", until, since)
			}
			cfg, err := loadConfig(cfgPath)
			if err != nil {
				return err
			}
			st, err := store.OpenURL(cmd.Context(), cfg.Database)
			if err != nil {
				return err
			}
			defer st.Close()
			if err := checkExportScope(cmd.Context(), cfg, st, f); err != nil {
				return err
			}
			ms, err := st.Export(cmd.Context(), f)
			if err != nil {
				return err
			}
			if len(ms) == 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "tcbot: no measurements of %s match%s\n", repo, describeWindow(since, until, f.Targets))
			}
			if output == "" {
				return writeBuffered(stdout, ms, write)
			}
			return writeFile(output, ms, write)
		},
	}
	c.Flags().StringVar(&cfgPath, "config", "", "configuration file")
	c.Flags().StringVar(&repo, "repo", "", "repository name, as in the config")
	c.Flags().StringVar(&since, "since", "", "only measurements made on or after this time (2026-12-01, or RFC 3339: 2026-12-01T15:04:05Z)")
	c.Flags().StringVar(&until, "until", "", "only measurements made before this time (same forms as --since)")
	c.Flags().StringVar(&targets, "targets", "", "comma-separated targets (default: all)")
	c.Flags().StringVar(&format, "format", "benchfmt", "benchfmt (the Go benchmark format, for benchstat) or csv (for a spreadsheet)")
	c.Flags().StringVar(&output, "output", "", "write to this file, replaced only once the export is complete (default: standard output)")
	return c
}

// checkExportScope fails on a repository or target that is neither in the
// config nor in the database: a typo, not an empty export. One that only
// the database knows (a repository or board since removed from the
// config) is fine: its history is still worth exporting.
func checkExportScope(ctx context.Context, cfg *config.Config, st *store.Store, f store.ExportFilter) error {
	measured, err := st.MeasuredTargets(ctx, f.Repo)
	if err != nil {
		return err
	}
	if _, err := cfg.Repo(f.Repo); err != nil && len(measured) == 0 {
		return fmt.Errorf("--repo: %v, and database %s has no measurements of %q", err, st.Name(), f.Repo)
	}
	var configured []string
	for _, t := range cfg.Targets {
		configured = append(configured, t.Name)
	}
	for _, t := range f.Targets {
		if !slices.Contains(configured, t) && !slices.Contains(measured, t) {
			return fmt.Errorf("--targets: unknown target %q: %s configures %s; %s was measured on %s",
				t, cfg.Path, orNone(configured), f.Repo, orNone(measured))
		}
	}
	return nil
}

func orNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

func describeWindow(since, until string, targets []string) string {
	var parts []string
	if since != "" {
		parts = append(parts, "since "+since)
	}
	if until != "" {
		parts = append(parts, "until "+until)
	}
	if len(targets) > 0 {
		parts = append(parts, "on "+strings.Join(targets, ", "))
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// parseDate reads --since and --until: a day (UTC midnight) or an
// RFC 3339 time.
func parseDate(flag, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%s %q: want a day such as 2026-12-01 (UTC) or an RFC 3339 time such as 2026-12-01T15:04:05Z", flag, s)
}

func writeBuffered(w io.Writer, ms []*store.Measurement, write func(io.Writer, []*store.Measurement) error) error {
	bw := bufio.NewWriter(w)
	if err := write(bw, ms); err != nil {
		return err
	}
	return bw.Flush()
}

// writeFile writes the export next to path and renames it into place, so
// a reader (a spreadsheet, a cron job) never sees half an export and a
// failed export leaves an existing file as it was.
func writeFile(path string, ms []*store.Measurement, write func(io.Writer, []*store.Measurement) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("--output %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // after the rename, nothing is there
	if err := writeBuffered(tmp, ms, write); err != nil {
		tmp.Close()
		return fmt.Errorf("--output %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("--output %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("--output %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("--output %s: %w", path, err)
	}
	return nil
}

// benchUnit is the benchfmt unit of a metric. benchstat knows sec/op
// (and scales it to ms, µs...) and treats units ending in B as bytes
// (KiB, MiB); counts become "<metric>/op"; other seconds and bytes are
// named for their metric (compile-sec, kernel-B).
func benchUnit(metric, unit string) string {
	m := strings.Join(strings.Fields(metric), "-")
	switch {
	case metric == result.Time:
		return "sec/op"
	case unit == "count":
		return m + "/op"
	case unit == "s":
		return strings.TrimSuffix(m, "-time") + "-sec"
	case unit == "bytes":
		return strings.TrimSuffix(m, "-size") + "-B"
	}
	return m
}

// unitMetadata is what benchstat should assume of a unit: exact metrics
// are compared as exact (one sample decides, as in tcbot's reports),
// noisy ones need several samples; and which direction is better.
func unitMetadata(metric string) (assume, better string) {
	md, ok := result.LookupMetric(metric)
	if !ok {
		return "", ""
	}
	assume, better = "nothing", "lower"
	if md.Kind == result.Exact {
		assume = "exact"
	}
	if md.HigherIsBetter {
		better = "higher"
	}
	return assume, better
}

// benchName makes a benchmark name valid in the Go benchmark format:
// "Benchmark" then an upper-case letter (a lower-case first letter is
// capitalised; a name that does not start with a letter gets an X), no
// spaces, and no "-digits" at the end, which benchstat would take for
// GOMAXPROCS (sha-256 becomes Sha_256).
func benchName(name string) string {
	name = strings.Join(strings.Fields(name), "_")
	if i := strings.LastIndexByte(name, '-'); i >= 0 && i < len(name)-1 && strings.Trim(name[i+1:], "0123456789") == "" {
		name = name[:i] + "_" + name[i+1:]
	}
	r := []rune(name)
	switch {
	case len(r) == 0:
		return "BenchmarkX"
	case unicode.IsLower(r[0]):
		r[0] = unicode.ToUpper(r[0])
	case !unicode.IsUpper(r[0]):
		r = append([]rune("X"), r...)
	}
	return "Benchmark" + string(r)
}

// configValue keeps a configuration value on one line.
func configValue(s string) string { return strings.Join(strings.Fields(s), " ") }

// writeBenchfmt writes the unit metadata, then each measurement as a
// block: configuration lines, then one line per benchmark and sample
// index with every metric that has that sample (exact metrics have one,
// noisy ones one per run, so benchstat sees their spread). A failed
// benchmark has a comment instead of result lines: its numbers, if any,
// are not comparable.
func writeBenchfmt(w io.Writer, ms []*store.Measurement) error {
	units := map[string][2]string{}
	for _, m := range ms {
		for _, r := range m.Results {
			if r.Metric == result.Status {
				continue
			}
			if assume, better := unitMetadata(r.Metric); assume != "" {
				units[benchUnit(r.Metric, r.Unit)] = [2]string{assume, better}
			}
		}
	}
	var names []string
	for u := range units {
		names = append(names, u)
	}
	sort.Strings(names)
	for _, u := range names {
		if _, err := fmt.Fprintf(w, "Unit %s assume=%s better=%s\n", u, units[u][0], units[u][1]); err != nil {
			return err
		}
	}
	if len(names) > 0 {
		fmt.Fprintln(w)
	}
	for _, m := range ms {
		fmt.Fprintf(w, "repo: %s\ncommit: %s\nsubject: %s\ntarget: %s\ntoolchain: %s\ntoolchain-id: %s\nsuite: %s\nsuite-version: %s\ndate: %s\n\n",
			configValue(m.Repo), configValue(m.Revision), configValue(m.Subject), configValue(m.Target), configValue(m.Toolchain),
			configValue(m.ToolchainID), configValue(m.Suite), configValue(m.SuiteVersion), m.CreatedAt.UTC().Format(time.RFC3339))
		byBench := map[string][]result.Result{}
		var benches []string
		seen, failed := map[string]bool{}, map[string]bool{}
		for _, r := range m.Results {
			if !seen[r.Benchmark] {
				seen[r.Benchmark] = true
				benches = append(benches, r.Benchmark)
			}
			if r.Metric == result.Status {
				failed[r.Benchmark] = failed[r.Benchmark] || slices.Contains(r.Samples, result.Fail)
				continue
			}
			byBench[r.Benchmark] = append(byBench[r.Benchmark], r)
		}
		sort.Strings(benches)
		for _, bench := range benches {
			name := benchName(bench)
			if failed[bench] {
				fmt.Fprintf(w, "# %s failed: no results\n", name)
				continue
			}
			rs := byBench[bench]
			n := 0
			for _, r := range rs {
				n = max(n, len(r.Samples))
			}
			for i := 0; i < n; i++ {
				var b strings.Builder
				b.WriteString(name + " 1")
				for _, r := range rs {
					if i < len(r.Samples) {
						fmt.Fprintf(&b, " %s %s", formatValue(r.Samples[i]), benchUnit(r.Metric, r.Unit))
					}
				}
				b.WriteByte('\n')
				if _, err := io.WriteString(w, b.String()); err != nil {
					return err
				}
			}
		}
		if _, err := fmt.Fprintln(w); err != nil {
			return err
		}
	}
	return nil
}

// formatValue writes a sample exactly (the shortest decimal that reads
// back as the same float64), without an exponent where a person or a
// spreadsheet would not expect one: 1234567890 instructions, not
// 1.23456789e+09.
func formatValue(v float64) string {
	if a := math.Abs(v); a == 0 || (a >= 1e-6 && a < 1e21) {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// csvHeader is the first row of a CSV export.
var csvHeader = []string{"repo", "commit", "subject", "target", "toolchain", "suite", "benchmark", "metric", "unit", "sample", "value", "created_at"}

// writeCSV writes one row per sample, every result (status too: 1 pass,
// 0 fail), values exact (formatValue).
func writeCSV(w io.Writer, ms []*store.Measurement) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return err
	}
	for _, m := range ms {
		created := m.CreatedAt.UTC().Format(time.RFC3339Nano)
		for _, r := range m.Results {
			for i, v := range r.Samples {
				if err := cw.Write([]string{m.Repo, m.Revision, m.Subject, m.Target, m.Toolchain, m.Suite, r.Benchmark, r.Metric, r.Unit,
					strconv.Itoa(i), formatValue(v), created}); err != nil {
					return err
				}
			}
		}
	}
	cw.Flush()
	return cw.Error()
}
