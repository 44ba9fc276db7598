package bisect

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/tcbot/tcbot/bot/compare"
	"github.com/tcbot/tcbot/bot/report"
)

// Render writes a result as text, markdown or json.
func Render(w io.Writer, r *Result, format string) error {
	switch format {
	case "text", "":
		return Text(w, r)
	case "markdown":
		return Markdown(w, r)
	case "json":
		e := json.NewEncoder(w)
		e.SetIndent("", "  ")
		return e.Encode(r)
	}
	return fmt.Errorf("format %q: want text, markdown or json", format)
}

// Headline is the result in one line, e.g. "culprit 1a2b3c4d5e6f
// \"subject\" (Author): armv8-qemu sha256 instructions +8.33%".
func (r *Result) Headline() string {
	switch r.Outcome {
	case Culprit:
		return fmt.Sprintf("culprit %s %q by %s: %s", short(r.Culprit.SHA), r.Culprit.Subject, r.Culprit.Author, describe(r.primaryVerified()))
	case Range:
		return fmt.Sprintf("the culprit is one of %d commits %s..%s (the others do not build or run): %s", len(r.Range), short(r.Parent.SHA), short(r.Range[len(r.Range)-1].SHA), describe(*r.Primary))
	case NotReproducible:
		return fmt.Sprintf("not reproducible: bisection ended on %s %q, which does not show %s against its parent", short(r.Culprit.SHA), r.Culprit.Subject, describe(*r.Primary))
	}
	return "nothing to bisect: " + r.Note
}

// primaryVerified is the culprit's own comparison of the primary key
// (the range's when it has none).
func (r *Result) primaryVerified() compare.Comparison {
	for _, c := range r.Verification {
		if c.Key() == r.Primary.Key() {
			return c
		}
	}
	return *r.Primary
}

func describe(c compare.Comparison) string {
	if c.Verdict == compare.Failed {
		return fmt.Sprintf("%s %s fails on %s", c.Benchmark, c.Metric, c.Target)
	}
	return fmt.Sprintf("%s %s %s on %s", c.Benchmark, c.Metric, report.FormatDelta(c.DeltaPct), c.Target)
}

// Text writes the result for a terminal.
func Text(w io.Writer, r *Result) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "tcbot bisect: %s\n", strings.ToUpper(string(r.Outcome)))
	fmt.Fprintf(bw, "%s: good %s %s, bad %s %s, %d commits\n", r.Repo, short(r.Good.SHA), r.Good.Subject, short(r.Bad.SHA), r.Bad.Subject, r.Commits)
	fmt.Fprintln(bw, r.Headline())
	if r.Note != "" && r.Outcome != Nothing {
		fmt.Fprintln(bw, r.Note)
	}
	if r.Merge != nil {
		fmt.Fprintf(bw, "brought in by merge %s %s\n", short(r.Merge.SHA), r.Merge.Subject)
	}
	if len(r.Verification) > 0 {
		fmt.Fprintf(bw, "\n%s against its parent %s:\n", short(r.Culprit.SHA), short(r.Parent.SHA))
		tw := tabwriter.NewWriter(bw, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  target\tbenchmark\tmetric\tparent\tculprit\tdelta\t")
		for _, c := range r.Verification {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t\n", c.Target, c.Benchmark, c.Metric, report.FormatValue(c.Unit, c.Base), report.FormatValue(c.Unit, c.Head), deltaOrVerdict(c))
		}
		tw.Flush()
	}
	if len(r.Skipped) > 0 {
		fmt.Fprintln(bw, "\nskipped (do not build or run):")
		for _, s := range r.Skipped {
			fmt.Fprintf(bw, "  %s %s: %s\n", short(s.SHA), s.Subject, s.Why)
		}
	}
	if len(r.Range) > 0 {
		fmt.Fprintln(bw, "\ncandidates:")
		for _, c := range r.Range {
			fmt.Fprintf(bw, "  %s %s (%s)\n", short(c.SHA), c.Subject, c.Author)
		}
	}
	if len(r.Steps) > 0 {
		fmt.Fprintf(bw, "\nsteps (%d rounds, %d of %d commits measured", r.Rounds, r.Probed, r.Commits)
		if r.Primary != nil {
			fmt.Fprintf(bw, "; %s %s on %s against %s", r.Primary.Benchmark, r.Primary.Metric, r.Primary.Target, short(r.Good.SHA))
		}
		fmt.Fprintln(bw, "):")
		tw := tabwriter.NewWriter(bw, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  round\tcommit\tstate\tvalue\tdelta\tsubject\t")
		for _, s := range r.Steps {
			fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\t%s\t%s\t\n", s.Round, short(s.SHA), s.State, r.value(s), report.FormatDelta(s.DeltaPct), s.Subject)
		}
		tw.Flush()
	}
	if r.Reproduce != "" {
		fmt.Fprintf(bw, "\nreproduce: %s\n", r.Reproduce)
	}
	return bw.Flush()
}

// Markdown writes the result for a pull request comment or an issue.
func Markdown(w io.Writer, r *Result) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "### tcbot bisect: %s\n\n", r.Outcome)
	switch r.Outcome {
	case Culprit:
		fmt.Fprintf(bw, "**Culprit: `%s` %s** by %s: %s.\n\n", short(r.Culprit.SHA), md(r.Culprit.Subject), md(r.Culprit.Author), md(describe(r.primaryVerified())))
	default:
		fmt.Fprintf(bw, "%s\n\n", md(r.Headline()))
	}
	if r.Note != "" && r.Outcome != Nothing {
		fmt.Fprintf(bw, "%s\n\n", md(r.Note))
	}
	if r.Merge != nil {
		fmt.Fprintf(bw, "Brought in by merge `%s` %s.\n\n", short(r.Merge.SHA), md(r.Merge.Subject))
	}
	fmt.Fprintf(bw, "Range `%s`..`%s` of %s: %d commits, %d measured in %d rounds.\n\n", short(r.Good.SHA), short(r.Bad.SHA), md(r.Repo), r.Commits, r.Probed, r.Rounds)
	if len(r.Verification) > 0 {
		fmt.Fprintf(bw, "| target | benchmark | metric | parent `%s` | culprit `%s` | delta |\n| --- | --- | --- | ---: | ---: | ---: |\n", short(r.Parent.SHA), short(r.Culprit.SHA))
		for _, c := range r.Verification {
			fmt.Fprintf(bw, "| %s | %s | %s | %s | %s | %s |\n", md(c.Target), md(c.Benchmark), md(c.Metric), report.FormatValue(c.Unit, c.Base), report.FormatValue(c.Unit, c.Head), deltaOrVerdict(c))
		}
		fmt.Fprintln(bw)
	}
	if len(r.Skipped) > 0 {
		fmt.Fprintln(bw, "Skipped (do not build or run):")
		for _, s := range r.Skipped {
			fmt.Fprintf(bw, "- `%s` %s: %s\n", short(s.SHA), md(s.Subject), md(s.Why))
		}
		fmt.Fprintln(bw)
	}
	if len(r.Range) > 0 {
		fmt.Fprintln(bw, "Candidates:")
		for _, c := range r.Range {
			fmt.Fprintf(bw, "- `%s` %s (%s)\n", short(c.SHA), md(c.Subject), md(c.Author))
		}
		fmt.Fprintln(bw)
	}
	if len(r.Steps) > 0 {
		fmt.Fprintf(bw, "<details><summary>%d steps</summary>\n\n| round | commit | state | value | delta | subject |\n| ---: | --- | --- | ---: | ---: | --- |\n", len(r.Steps))
		for _, s := range r.Steps {
			fmt.Fprintf(bw, "| %d | `%s` | %s | %s | %s | %s |\n", s.Round, short(s.SHA), s.State, r.value(s), report.FormatDelta(s.DeltaPct), md(s.Subject))
		}
		fmt.Fprintln(bw, "\n</details>")
		fmt.Fprintln(bw)
	}
	if r.Reproduce != "" {
		fmt.Fprintf(bw, "Reproduce:\n```\n%s\n```\n", r.Reproduce)
	}
	return bw.Flush()
}

func (r *Result) value(s Step) string {
	if s.State == Skip {
		return "-"
	}
	if s.Value == nil && s.State == Good {
		return "identical" // nothing measured: the good revision's compiler
	}
	unit := ""
	if r.Primary != nil {
		unit = r.Primary.Unit
	}
	return report.FormatValue(unit, s.Value)
}

func deltaOrVerdict(c compare.Comparison) string {
	if c.Verdict == compare.Failed {
		return "failed"
	}
	return report.FormatDelta(c.DeltaPct)
}

var mdReplacer = strings.NewReplacer("|", "\\|", "<", "&lt;", ">", "&gt;", "*", "\\*", "_", "\\_", "`", "'")

func md(s string) string { return mdReplacer.Replace(s) }
