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
// one-line summary, so a notification or a collapsed view says it all; a
// link to the change page and the findings per target follow, worst
// first, with where the instructions went, then geomeans, errors, the
// unchanged and informational comparisons folded away, and the command
// that reproduces the report.
//
// The comment always stays under MaxComment characters: when it does not
// fit, it leaves out, in this order, assembly diffs, explanations, the
// folded tables and table rows, and says where the rest is; at worst it
// is the summary, the link and the reproduce line.
func Markdown(w io.Writer, r Report) error {
	n, diffs := len(r.Explanations), asmCount(r.Explanations, -1)
	full := mdLimits{asm: diffs, expl: n, rows: maxFolded, folded: true}
	var b strings.Builder
	render := func(l mdLimits) bool {
		b.Reset()
		markdown(&b, r, l)
		return b.Len() <= MaxComment
	}
	switch {
	case render(full):
	case render(mdLimits{asm: 0, expl: n, rows: maxFolded, folded: true}):
		// As many assembly diffs as fit, the worst findings' first.
		k := largest(diffs, func(k int) bool { return render(mdLimits{asm: k, expl: n, rows: maxFolded, folded: true}) })
		render(mdLimits{asm: k, expl: n, rows: maxFolded, folded: true})
	case render(mdLimits{rows: maxFolded, folded: true}):
		k := largest(n, func(k int) bool { return render(mdLimits{expl: k, rows: maxFolded, folded: true}) })
		render(mdLimits{expl: k, rows: maxFolded, folded: true})
	default:
		for _, l := range []mdLimits{{rows: maxFolded}, {rows: 50}, {rows: 10}, {minimal: true}} {
			if render(l) {
				break
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// largest is the largest k in [0, n] for which fits holds, given that it
// holds for 0 and, once false, stays false.
func largest(n int, fits func(k int) bool) int {
	lo, hi := 0, n // fits(lo); the answer is in [lo, hi]
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if fits(mid) {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo
}

// MaxComment is the size a Markdown report stays under: GitHub refuses
// comments over 65,536 characters; the margin leaves room for the bot's
// marker and state line.
const MaxComment = 65536 - 1024

// mdLimits say how much of a report a comment shows.
type mdLimits struct {
	// asm is how many assembly diffs are shown, expl how many
	// explanations, in the order of explainOrder.
	asm, expl int
	// rows caps every table.
	rows int
	// folded: the unchanged and informational comparisons.
	folded bool
	// minimal: only the summary, the link and the reproduce line.
	minimal bool
}

// explainOrder ranks the explanations of all targets, and their assembly
// diffs, for a comment that cannot show them all: each target's worst
// first, then each target's second, and so on; diffs likewise, the top
// function's diff of every explanation before any second one. It returns,
// per target, the rank of each explanation and of each of its diffs.
func (v *view) explainOrder() (ranks map[string][]int, asmRanks map[string][][]int) {
	es := make(map[string][]Explanation)
	depth, diffs := 0, 0
	for _, t := range v.targets {
		es[t] = v.explanations(t)
		depth = max(depth, len(es[t]))
		for _, e := range es[t] {
			diffs = max(diffs, len(e.Asm))
		}
	}
	ranks = make(map[string][]int)
	var order [][2]int // target index, explanation index, in rank order
	for i := 0; i < depth; i++ {
		for ti, t := range v.targets {
			if i < len(es[t]) {
				ranks[t] = append(ranks[t], len(order))
				order = append(order, [2]int{ti, i})
			}
		}
	}
	asmRanks = make(map[string][][]int)
	for _, t := range v.targets {
		asmRanks[t] = make([][]int, len(es[t]))
		for i, e := range es[t] {
			asmRanks[t][i] = make([]int, len(e.Asm))
		}
	}
	next := 0
	for j := 0; j < diffs; j++ {
		for _, o := range order {
			t := v.targets[o[0]]
			if e := es[t][o[1]]; j < len(e.Asm) {
				asmRanks[t][o[1]][j] = next
				next++
			}
		}
	}
	return ranks, asmRanks
}

// maxLine caps one note, error or subject in a comment.
const maxLine = 1000

func capLine(s string) string {
	if r := []rune(s); len(r) > maxLine {
		return string(r[:maxLine-1]) + "…"
	}
	return s
}

// elsewhere is where a comment sends readers for what it left out.
func elsewhere(r Report) string {
	if r.URL != "" {
		return "[the change page](" + mdURL(r.URL) + ")"
	}
	return "the JSON report (`--format json`)"
}

func markdown(w io.Writer, r Report, l mdLimits) error {
	v := newView(r)
	bw := bufio.NewWriter(w)

	fmt.Fprintf(bw, "**tcbot**: %s %s — %s (base %s → head %s)\n",
		emoji(r.Verdict), mdEscape(string(r.Verdict)), v.summary(), codeSpan(shortSHA(r.Base)), codeSpan(shortSHA(r.Head)))
	if r.BaseSubject != "" || r.HeadSubject != "" {
		fmt.Fprintln(bw)
		if r.BaseSubject != "" {
			fmt.Fprintf(bw, "- base %s %s\n", codeSpan(shortSHA(r.Base)), mdEscape(capLine(r.BaseSubject)))
		}
		if r.HeadSubject != "" {
			fmt.Fprintf(bw, "- head %s %s\n", codeSpan(shortSHA(r.Head)), mdEscape(capLine(r.HeadSubject)))
		}
	}
	if r.URL != "" {
		fmt.Fprintf(bw, "\n[Details: history, per-function counts and assembly diffs](%s)\n", mdURL(r.URL))
	}
	if l.minimal {
		fmt.Fprintf(bw, "\nThis report is too long for a comment: see %s.\n", elsewhere(r))
		fmt.Fprintf(bw, "\nReproduce:\n\n```sh\n%s\n```\n", r.Reproduce)
		return bw.Flush()
	}

	droppedAsm, droppedExpl := 0, 0
	ranks, asmRanks := v.explainOrder()
	for _, t := range v.targets {
		fs, es := v.findings[t], v.explanations(t)
		if len(fs) == 0 && len(es) == 0 {
			continue
		}
		fmt.Fprintf(bw, "\n### %s\n\n", mdEscape(t))
		if len(fs) > 0 {
			mdTable(bw, v, fs, false, true, false, l.rows)
		}
		var shown []Explanation
		for i, e := range es {
			if ranks[t][i] >= l.expl {
				droppedExpl++
				droppedAsm += len(e.Asm)
				continue
			}
			// Only the diffs that fit.
			e.Asm = nil
			for j, a := range es[i].Asm {
				if asmRanks[t][i][j] < l.asm {
					e.Asm = append(e.Asm, a)
				} else {
					droppedAsm++
				}
			}
			shown = append(shown, e)
		}
		mdExplanations(bw, shown)
	}

	var left []string
	if droppedAsm > 0 {
		left = append(left, plural(droppedAsm, "assembly diff", "assembly diffs"))
	}
	if droppedExpl > 0 {
		left = append(left, plural(droppedExpl, "explanation", "explanations")+" (per-function counts)")
	}
	if !l.folded {
		if n := v.unchangedCount(); n > 0 {
			left = append(left, "the "+plural(n, "unchanged comparison", "unchanged comparisons"))
		}
		if n := v.infoCount(); n > 0 {
			left = append(left, "the "+plural(n, "informational comparison", "informational comparisons"))
		}
	}
	if len(left) > 0 {
		fmt.Fprintf(bw, "\nLeft out to fit a comment: %s; see %s.\n", strings.Join(left, ", "), elsewhere(r))
	}

	if len(r.Geomeans) > 0 {
		fmt.Fprint(bw, "\n### Geomeans\n\n")
		fmt.Fprintln(bw, "| Target | Suite | Metric | Δ | N |")
		fmt.Fprintln(bw, "| :-- | :-- | :-- | --: | --: |")
		info := infoKeys(r)
		for i, g := range r.Geomeans {
			if i == l.rows {
				fmt.Fprintf(bw, "\n… and %d more in %s.\n", len(r.Geomeans)-i, elsewhere(r))
				break
			}
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
			fmt.Fprintf(bw, "- %s\n", mdEscape(capLine(n)))
		}
	}
	if len(r.Errors) > 0 {
		fmt.Fprintln(bw)
		for _, e := range r.Errors {
			fmt.Fprintf(bw, "- :warning: %s\n", mdEscape(capLine(e)))
		}
	}

	if n := v.unchangedCount(); n > 0 {
		var cs []compare.Comparison
		for _, t := range v.targets {
			cs = append(cs, v.unchanged[t]...)
			if names := v.failingBoth(t); len(names) > 0 {
				fmt.Fprintf(bw, "\n:warning: %s: %s at base and head (nothing measured): %s\n", mdEscape(t), plural(len(names), "benchmark fails", "benchmarks fail"), mdEscape(capLine(strings.Join(names, ", "))))
			}
		}
		if l.folded {
			fmt.Fprintf(bw, "\n<details><summary>%s</summary>\n\n", plural(n, "unchanged comparison", "unchanged comparisons"))
			mdTable(bw, v, cs, true, false, false, l.rows)
			fmt.Fprint(bw, "\n</details>\n")
		}
	}

	if n := v.infoCount(); n > 0 && l.folded {
		fmt.Fprintf(bw, "\n<details><summary>%s (%s; not part of the verdict)</summary>\n\n",
			plural(n, "informational comparison", "informational comparisons"), mdEscape(infoMetrics(r.Info)))
		mdTable(bw, v, r.Info, true, false, true, l.rows)
		fmt.Fprint(bw, "\n</details>\n")
	}

	fmt.Fprintf(bw, "\nReproduce:\n\n```sh\n%s\n```\n", r.Reproduce)
	return bw.Flush()
}

// mdTable writes comparisons as a Markdown table: with a Target column when
// it spans targets, the verdict's emoji before the benchmark when marked, a
// Verdict column when asked, and a Note column when any row has a note.
func mdTable(w io.Writer, v *view, cs []compare.Comparison, withTarget, marked, withVerdict bool, rows int) {
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
		if i == rows {
			fmt.Fprintf(w, "\n… and %d more in %s.\n", len(cs)-rows, elsewhere(v.r))
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

// mdCode is a code span that is safe in a table cell too.
func mdCode(s string) string { return strings.ReplaceAll(codeSpan(s), "|", `\|`) }

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
