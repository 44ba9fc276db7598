package report

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/tcbot/tcbot/bot/compare"
	"github.com/tcbot/tcbot/bot/result"
)

// view is a Report arranged for reading: findings per target, most severe
// first, and the counts the headlines need. Text and Markdown share it so
// they always agree.
type view struct {
	r       Report
	targets []string
	// findings are the verdict comparisons that are not unchanged, per
	// target, ordered failed, regression, error, improvement, fixed.
	findings  map[string][]compare.Comparison
	unchanged map[string][]compare.Comparison
	info      map[string][]compare.Comparison
	// counts counts verdict comparisons by verdict.
	counts map[compare.Verdict]int
	// multiSuite is set when the comparisons span more than one suite, so
	// benchmarks are named suite/benchmark.
	multiSuite bool
}

// severity orders verdicts within a target's findings.
var severity = map[compare.Verdict]int{
	compare.Failed:      0,
	compare.Regression:  1,
	compare.Error:       2,
	compare.Improvement: 3,
	compare.Fixed:       4,
	compare.Unchanged:   5,
}

func rank(v compare.Verdict) int {
	if s, ok := severity[v]; ok {
		return s
	}
	return len(severity)
}

func newView(r Report) *view {
	v := &view{
		r:         r,
		targets:   targets(r),
		findings:  make(map[string][]compare.Comparison),
		unchanged: make(map[string][]compare.Comparison),
		info:      make(map[string][]compare.Comparison),
		counts:    make(map[compare.Verdict]int),
	}
	suites := make(map[string]bool)
	for _, c := range r.Comparisons {
		suites[c.Suite] = true
		v.counts[c.Verdict]++
		if c.Verdict == compare.Unchanged {
			v.unchanged[c.Target] = append(v.unchanged[c.Target], c)
		} else {
			v.findings[c.Target] = append(v.findings[c.Target], c)
		}
	}
	for _, c := range r.Info {
		suites[c.Suite] = true
		v.info[c.Target] = append(v.info[c.Target], c)
	}
	// Most severe first; within a verdict, the largest change first, so
	// the worst regression heads its table.
	for _, cs := range v.findings {
		sort.SliceStable(cs, func(i, j int) bool {
			if ri, rj := rank(cs[i].Verdict), rank(cs[j].Verdict); ri != rj {
				return ri < rj
			}
			return size(cs[i]) > size(cs[j])
		})
	}
	v.multiSuite = len(suites) > 1
	return v
}

// size is how large a change is, for ordering: |Δ%|, or 0 when unknown.
func size(c compare.Comparison) float64 {
	if c.DeltaPct == nil {
		return 0
	}
	return math.Abs(*c.DeltaPct)
}

// Better says which direction of a metric is good (result.Better).
func Better(metric, unit string) string { return result.Better(metric, unit) }

// MetricLabel names a metric with its unit and good direction:
// "instructions (count, fewer is better)".
func MetricLabel(metric, unit string) string {
	if unit == "" {
		if m, ok := result.LookupMetric(metric); ok {
			unit = m.Unit
		}
	}
	if metric == result.Status || unit == "pass/fail" {
		return metric + " (pass/fail)"
	}
	if unit == "" {
		return metric + " (" + Better(metric, unit) + ")"
	}
	return metric + " (" + unit + ", " + Better(metric, unit) + ")"
}

func (v *view) benchmark(c compare.Comparison) string {
	if v.multiSuite {
		return c.Suite + "/" + c.Benchmark
	}
	return c.Benchmark
}

func (v *view) unchangedCount() int { return v.counts[compare.Unchanged] }

func (v *view) infoCount() int { return len(v.r.Info) }

// findingTargets is the number of targets with findings.
func (v *view) findingTargets() int { return len(v.findings) }

// summary says what was found in a few words: "1 failure, 3 regressions on
// 2 targets" or "42 comparisons unchanged on 2 targets".
func (v *view) summary() string {
	var parts []string
	for _, p := range []struct {
		verdict        compare.Verdict
		single, plural string
	}{
		{compare.Failed, "failure", "failures"},
		{compare.Regression, "regression", "regressions"},
		{compare.Error, "error", "errors"},
		{compare.Improvement, "improvement", "improvements"},
		{compare.Fixed, "fixed", "fixed"},
	} {
		if n := v.counts[p.verdict]; n > 0 {
			parts = append(parts, plural(n, p.single, p.plural))
		}
	}
	var s string
	switch {
	case len(parts) > 0:
		s = strings.Join(parts, ", ") + " on " + plural(v.findingTargets(), "target", "targets")
	case len(v.r.Comparisons) > 0:
		s = plural(len(v.r.Comparisons), "comparison", "comparisons") + " unchanged on " + plural(len(v.targets), "target", "targets")
	default:
		s = "no comparisons"
	}
	if n := len(v.r.Errors); n > 0 {
		s += ", " + plural(n, "infrastructure error", "infrastructure errors")
	}
	return s
}

// failingBoth names the benchmarks on target t whose status is unchanged
// because they fail at base and head: counted as unchanged, but nothing
// was measured, and a reader must see it.
func (v *view) failingBoth(t string) []string {
	var names []string
	for _, c := range v.unchanged[t] {
		if c.Metric == result.Status && c.Base != nil && c.Head != nil && *c.Base == result.Fail && *c.Head == result.Fail {
			names = append(names, v.benchmark(c))
		}
	}
	return names
}

// unchangedText is "N unchanged", and which of them fail at both sides.
func (v *view) unchangedText(t string) string {
	s := fmt.Sprintf("%d unchanged", len(v.unchanged[t]))
	if names := v.failingBoth(t); len(names) > 0 {
		s += fmt.Sprintf(" (%s at base and head: %s)", plural(len(names), "benchmark fails", "benchmarks fail"), strings.Join(names, ", "))
	}
	return s
}

func plural(n int, single, many string) string {
	if n == 1 {
		return "1 " + single
	}
	return strconv.Itoa(n) + " " + many
}

// infoMetrics names the metrics of informational comparisons on a target.
func infoMetrics(cs []compare.Comparison) string {
	seen := make(map[string]bool)
	var ms []string
	for _, c := range cs {
		if !seen[c.Metric] {
			seen[c.Metric] = true
			ms = append(ms, c.Metric)
		}
	}
	sort.Strings(ms)
	return strings.Join(ms, ", ")
}

// shortSHA shortens a full hexadecimal commit name to 7 digits and leaves
// anything else (a tag, a branch) alone.
func shortSHA(s string) string {
	if len(s) <= 12 {
		return s
	}
	for _, r := range s {
		if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
			return s
		}
	}
	return s[:7]
}

// Number formatting. Values are exact where it matters: an instruction
// count or a size that moved by 0.1% is still readable to the last digit.

// formatValue formats a base or head value in its unit; "" when unknown.
func formatValue(unit string, p *float64) string {
	if p == nil {
		return ""
	}
	v := *p
	switch unit {
	case "pass/fail":
		switch v {
		case 1:
			return "pass"
		case 0:
			return "fail"
		}
		return sig3(v)
	case "count":
		return commas(v)
	case "bytes":
		return commas(v) + " B"
	case "":
		return sig3(v)
	}
	return sig3(v) + " " + unit
}

// commas rounds v to an integer and groups its digits: 123,456,789.
func commas(v float64) string {
	if math.Abs(v) >= 1e21 {
		return strconv.FormatFloat(v, 'g', 6, 64)
	}
	s := strconv.FormatFloat(math.Round(v), 'f', 0, 64)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, d := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(d)
	}
	return b.String()
}

// sig3 formats v with three significant digits (1.23, 0.0456, 12.0); from
// 100 on, as a grouped integer (1,235 rather than 1,230).
func sig3(v float64) string {
	if v == 0 {
		return "0"
	}
	if math.Abs(v) >= 99.95 {
		return commas(v)
	}
	r, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 3, 64), 64)
	a := math.Abs(r)
	switch {
	case a >= 100:
		return commas(r)
	case a >= 1e-4:
		return strconv.FormatFloat(r, 'f', 2-int(math.Floor(math.Log10(a))), 64)
	}
	return strconv.FormatFloat(r, 'g', 3, 64)
}

// formatDelta formats a percentage with its sign and 2 decimals; "" when
// unknown.
func formatDelta(p *float64) string {
	if p == nil {
		return ""
	}
	if *p == 0 {
		return "0.00%"
	}
	return fmt.Sprintf("%+.2f%%", *p)
}

// formatP formats how a comparison was decided: "exact" for a threshold,
// the p-value for a test, "" for neither (status, too few samples).
func formatP(c compare.Comparison) string {
	switch {
	case c.P != nil:
		if *c.P < 0.001 {
			return "<0.001"
		}
		return strconv.FormatFloat(*c.P, 'f', 3, 64)
	case c.Metric == result.Status:
		return ""
	case isCounted(c.Metric):
		// A median against a threshold, the samples not overlapping.
		return "counted"
	case c.Exact():
		return "exact"
	}
	return ""
}

// or returns s, or dash when s is empty.
func or(s, dash string) string {
	if s == "" {
		return dash
	}
	return s
}

// FormatValue renders a metric value as reports do (commas for counts,
// three significant digits otherwise, "-" for none).
func FormatValue(unit string, p *float64) string { return formatValue(unit, p) }

// FormatDelta renders a change in percent as reports do ("+1.23%").
func FormatDelta(p *float64) string { return formatDelta(p) }

func isCounted(metric string) bool {
	m, ok := result.LookupMetric(metric)
	return ok && m.Kind == result.Counted
}
