package report

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/tcbot/tcbot/bot/compare"
)

// maxFolded caps the rows of a folded table: a GitHub comment holds at
// most 65,536 characters, and the JSON report has every row anyway.
const maxFolded = 250

// emoji marks a verdict in a summary line or a table row.
func emoji(v compare.Verdict) string {
	switch v {
	case compare.Failed, compare.Regression:
		return ":x:"
	case compare.Error:
		return ":warning:"
	case compare.Improvement, compare.Fixed, compare.Unchanged:
		return ":white_check_mark:"
	}
	return ":grey_question:"
}

// Markdown writes r as a pull request comment. Its first line is a
// one-line summary, so a notification or a collapsed view says it all;
// findings follow per target, then geomeans, errors, the unchanged and
// informational comparisons folded away, and the command that reproduces
// the report.
func Markdown(w io.Writer, r Report) error {
	// A comment holds at most 65,536 characters: without the assembly
	// diffs, then without the explanations when they do not fit (the
	// change page has them all).
	var b strings.Builder
	for _, level := range []mdLevel{mdFull, mdTopAsm, mdNoAsm, mdNoExplanations} {
		b.Reset()
		if err := markdown(&b, r, level); err != nil {
			return err
		}
		if b.Len() <= MaxComment {
			break
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// MaxComment is the size a Markdown report aims to stay under: GitHub
// refuses comments over 65,536 characters; the margin leaves room for
// the bot's marker.
const MaxComment = 65536 - 1024

type mdLevel int

const (
	mdFull mdLevel = iota
	// mdTopAsm: the assembly diff of the worst finding's benchmark only.
	mdTopAsm
	mdNoAsm
	mdNoExplanations
)

func markdown(w io.Writer, r Report, level mdLevel) error {
	v := newView(r)
	bw := bufio.NewWriter(w)

	fmt.Fprintf(bw, "**tcbot**: %s %s — %s (base %s → head %s)\n",
		emoji(r.Verdict), mdEscape(string(r.Verdict)), v.summary(), codeSpan(shortSHA(r.Base)), codeSpan(shortSHA(r.Head)))
	if r.BaseSubject != "" || r.HeadSubject != "" {
		fmt.Fprintln(bw)
		if r.BaseSubject != "" {
			fmt.Fprintf(bw, "- base %s %s\n", codeSpan(shortSHA(r.Base)), mdEscape(r.BaseSubject))
		}
		if r.HeadSubject != "" {
			fmt.Fprintf(bw, "- head %s %s\n", codeSpan(shortSHA(r.Head)), mdEscape(r.HeadSubject))
		}
	}
	if r.URL != "" {
		fmt.Fprintf(bw, "\n[Details: history, per-function counts and assembly](%s)\n", mdURL(r.URL))
	}

	dropped := 0
	for _, t := range v.targets {
		fs, es := v.findings[t], v.explanations(t)
		if len(fs) == 0 && len(es) == 0 {
			continue
		}
		fmt.Fprintf(bw, "\n### %s\n\n", mdEscape(t))
		if len(fs) > 0 {
			mdTable(bw, v, fs, false, true, false)
		}
		if level == mdNoExplanations {
			dropped += len(es)
			continue
		}
		asmFor := "*"
		switch {
		case level == mdNoAsm:
			asmFor = ""
		case level == mdTopAsm && len(fs) > 0:
			asmFor = fs[0].Benchmark
		case level == mdTopAsm:
			asmFor = ""
		}
		mdExplanations(bw, es, asmFor)
	}
	switch {
	case dropped > 0:
		fmt.Fprintf(bw, "\n%s too long for a comment: see the change page.\n", plural(dropped, "explanation (per-function counts, assembly) is", "explanations (per-function counts, assembly) are"))
	case level == mdNoAsm && len(r.Explanations) > 0:
		fmt.Fprintln(bw, "\nAssembly diffs are too long for a comment: see the change page.")
	case level == mdTopAsm && len(r.Explanations) > 0:
		fmt.Fprintln(bw, "\nAssembly diffs of the other benchmarks are on the change page (too long for a comment).")
	}

	if len(r.Geomeans) > 0 {
		fmt.Fprint(bw, "\n### Geomeans\n\n")
		fmt.Fprintln(bw, "| Target | Suite | Metric | Δ | N |")
		fmt.Fprintln(bw, "| :-- | :-- | :-- | --: | --: |")
		info := infoKeys(r)
		for _, g := range r.Geomeans {
			metric := mdEscape(MetricLabel(g.Metric, ""))
			if info[geoKey{g.Target, g.Suite, g.Metric}] {
				metric += " (informational)"
			}
			fmt.Fprintf(bw, "| %s | %s | %s | %s | %d |\n", mdEscape(g.Target), mdEscape(g.Suite), metric, formatDelta(&g.DeltaPct), g.N)
		}
	}

	if len(r.Notes) > 0 {
		fmt.Fprintln(bw)
		for _, n := range r.Notes {
			fmt.Fprintf(bw, "- %s\n", mdEscape(n))
		}
	}
	if len(r.Errors) > 0 {
		fmt.Fprintln(bw)
		for _, e := range r.Errors {
			fmt.Fprintf(bw, "- :warning: %s\n", mdEscape(e))
		}
	}

	if n := v.unchangedCount(); n > 0 {
		var cs []compare.Comparison
		for _, t := range v.targets {
			cs = append(cs, v.unchanged[t]...)
			if names := v.failingBoth(t); len(names) > 0 {
				fmt.Fprintf(bw, "\n:warning: %s: %s at base and head (nothing measured): %s\n", mdEscape(t), plural(len(names), "benchmark fails", "benchmarks fail"), mdEscape(strings.Join(names, ", ")))
			}
		}
		fmt.Fprintf(bw, "\n<details><summary>%s</summary>\n\n", plural(n, "unchanged comparison", "unchanged comparisons"))
		mdTable(bw, v, cs, true, false, false)
		fmt.Fprint(bw, "\n</details>\n")
	}

	if n := v.infoCount(); n > 0 {
		fmt.Fprintf(bw, "\n<details><summary>%s (%s; not part of the verdict)</summary>\n\n",
			plural(n, "informational comparison", "informational comparisons"), mdEscape(infoMetrics(r.Info)))
		mdTable(bw, v, r.Info, true, false, true)
		fmt.Fprint(bw, "\n</details>\n")
	}

	fmt.Fprintf(bw, "\nReproduce:\n\n```sh\n%s\n```\n", r.Reproduce)
	return bw.Flush()
}

// mdTable writes comparisons as a Markdown table: with a Target column when
// it spans targets, the verdict's emoji before the benchmark when marked, a
// Verdict column when asked, and a Note column when any row has a note.
func mdTable(w io.Writer, v *view, cs []compare.Comparison, withTarget, marked, withVerdict bool) {
	notes := false
	for _, c := range cs {
		notes = notes || c.Note != ""
	}
	var head, align []string
	if withTarget {
		head, align = append(head, "Target"), append(align, ":--")
	}
	head = append(head, "Benchmark", "Metric", "Base", "Head", "Δ", "p / exact")
	align = append(align, ":--", ":--", "--:", "--:", "--:", "--:")
	if withVerdict {
		head, align = append(head, "Verdict"), append(align, ":--")
	}
	if notes {
		head, align = append(head, "Note"), append(align, ":--")
	}
	fmt.Fprintf(w, "| %s |\n| %s |\n", strings.Join(head, " | "), strings.Join(align, " | "))

	for i, c := range cs {
		if i == maxFolded {
			fmt.Fprintf(w, "\n… and %d more in the JSON report (`--format json`).\n", len(cs)-maxFolded)
			return
		}
		var row []string
		if withTarget {
			row = append(row, mdEscape(c.Target))
		}
		bench := mdEscape(v.benchmark(c))
		if marked {
			bench = emoji(c.Verdict) + " " + bench
		}
		row = append(row, bench, mdEscape(MetricLabel(c.Metric, c.Unit)),
			or(mdEscape(formatValue(c.Unit, c.Base)), "—"), or(mdEscape(formatValue(c.Unit, c.Head)), "—"),
			or(formatDelta(c.DeltaPct), "—"), or(formatP(c), "—"))
		if withVerdict {
			row = append(row, string(c.Verdict))
		}
		if notes {
			row = append(row, mdEscape(c.Note))
		}
		fmt.Fprintf(w, "| %s |\n", strings.Join(row, " | "))
	}
}

type geoKey struct{ target, suite, metric string }

// infoKeys are the (target, suite, metric) of informational comparisons,
// so their geomeans can be marked as such.
func infoKeys(r Report) map[geoKey]bool {
	m := make(map[geoKey]bool)
	for _, c := range r.Info {
		m[geoKey{c.Target, c.Suite, c.Metric}] = true
	}
	return m
}

// mdEscape makes outside text (names, notes, subjects, errors) inert in
// Markdown and in a table cell: no emphasis, links, HTML or stray columns.
var mdReplacer = strings.NewReplacer(
	`\`, `\\`, "`", "\\`", "*", `\*`, "_", `\_`, "[", `\[`, "]", `\]`,
	"|", `\|`, "<", "&lt;", ">", "&gt;", "&", "&amp;", "#", `\#`,
	"\r", " ", "\n", " ",
)

func mdEscape(s string) string { return mdReplacer.Replace(s) }

// mdURL makes a URL safe inside a Markdown link's parentheses.
func mdURL(u string) string {
	return strings.NewReplacer("(", "%28", ")", "%29", " ", "%20", "\n", "", "<", "%3C", ">", "%3E").Replace(u)
}

// codeSpan wraps s in a code span that s cannot close early.
func codeSpan(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	longest, run := 0, 0
	for _, r := range s {
		if r == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	fence := strings.Repeat("`", longest+1)
	if longest > 0 {
		return fence + " " + s + " " + fence
	}
	return fence + s + fence
}
