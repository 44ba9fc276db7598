package report

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/tcbot/tcbot/bot/compare"
)

// Text writes r for a terminal: a headline, per target the findings as an
// aligned table and a count of the rest, geomeans, errors and, last, the
// command that reproduces the report.
func Text(w io.Writer, r Report) error {
	v := newView(r)
	bw := bufio.NewWriter(w)

	fmt.Fprintf(bw, "tcbot: %s in %s %s..%s\n", strings.ToUpper(string(r.Verdict)), r.Repo, shortSHA(r.Base), shortSHA(r.Head))
	if r.BaseSubject != "" {
		fmt.Fprintf(bw, "base %s %s\n", shortSHA(r.Base), oneLine(r.BaseSubject))
	}
	if r.HeadSubject != "" {
		fmt.Fprintf(bw, "head %s %s\n", shortSHA(r.Head), oneLine(r.HeadSubject))
	}
	fmt.Fprintln(bw, v.summary())
	if r.URL != "" {
		fmt.Fprintf(bw, "details: %s\n", r.URL)
	}

	for _, t := range v.targets {
		fs, info := v.findings[t], v.info[t]
		var infoFindings []compare.Comparison
		for _, c := range info {
			if c.Verdict != compare.Unchanged {
				infoFindings = append(infoFindings, c)
			}
		}
		rest := v.unchangedText(t)
		if len(info) > 0 {
			rest += fmt.Sprintf("; %s informational (%s, not part of the verdict)", plural(len(info), "comparison", "comparisons"), infoMetrics(info))
		}
		fmt.Fprintln(bw)
		es := v.explanations(t)
		if len(fs) == 0 && len(infoFindings) == 0 && len(es) == 0 {
			fmt.Fprintf(bw, "%s: %s\n", t, rest)
			continue
		}
		fmt.Fprintln(bw, t)
		if len(fs) > 0 {
			textTable(bw, v, fs)
		}
		textExplanations(bw, es)
		fmt.Fprintf(bw, "  %s\n", rest)
		if len(infoFindings) > 0 {
			fmt.Fprintln(bw, "  informational:")
			textTable(bw, v, infoFindings)
		}
	}

	if len(r.Geomeans) > 0 {
		fmt.Fprintln(bw)
		fmt.Fprintln(bw, "Geomeans")
		tw := tabwriter.NewWriter(bw, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  TARGET\tSUITE\tMETRIC\tDELTA\tN")
		info := infoKeys(r)
		for _, g := range r.Geomeans {
			metric := g.Metric
			if info[geoKey{g.Target, g.Suite, g.Metric}] {
				metric += " (informational)"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%d\n", g.Target, g.Suite, MetricLabel(g.Metric, "")+strings.TrimPrefix(metric, g.Metric), formatDelta(&g.DeltaPct), g.N)
		}
		tw.Flush()
	}

	if len(r.Notes) > 0 {
		fmt.Fprintln(bw)
		for _, n := range r.Notes {
			fmt.Fprintf(bw, "Note: %s\n", oneLine(n))
		}
	}
	if len(r.Errors) > 0 {
		fmt.Fprintln(bw)
		fmt.Fprintln(bw, "Errors")
		for _, e := range r.Errors {
			fmt.Fprintf(bw, "  %s\n", oneLine(e))
		}
	}

	fmt.Fprintln(bw)
	fmt.Fprintf(bw, "Reproduce: %s\n", r.Reproduce)
	return bw.Flush()
}

func textTable(w io.Writer, v *view, cs []compare.Comparison) {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  VERDICT\tBENCHMARK\tMETRIC\tBASE\tHEAD\tDELTA\tP\tNOTE")
	for _, c := range cs {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			c.Verdict, oneLine(v.benchmark(c)), MetricLabel(c.Metric, c.Unit),
			or(formatValue(c.Unit, c.Base), "-"), or(formatValue(c.Unit, c.Head), "-"),
			or(formatDelta(c.DeltaPct), "-"), or(formatP(c), "-"), oneLine(c.Note))
	}
	tw.Flush()
	// An empty last column leaves padding behind.
	for _, line := range strings.SplitAfter(b.String(), "\n") {
		io.WriteString(w, strings.TrimRight(line, " \n"))
		if strings.HasSuffix(line, "\n") {
			io.WriteString(w, "\n")
		}
	}
}

// oneLine keeps outside text (notes, subjects, errors) from breaking the
// layout.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
