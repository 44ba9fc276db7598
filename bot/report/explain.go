package report

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
)

// Explanation says where the instructions of one benchmark went between
// base and head, per function of the binary (the QEMU plugin attributes
// every executed translation block to the function it starts in, so the
// per-function counts are exact, like the total), and shows the assembly
// that changed in the functions that moved most.
type Explanation struct {
	Target    string `json:"target"`
	Suite     string `json:"suite"`
	Benchmark string `json:"benchmark"`
	Metric    string `json:"metric"` // the metric explained: "instructions"
	// Moved is set when the benchmark's total is unchanged (its comparison
	// is not a regression or an improvement) but cost moved between
	// functions: the report says "moved", never "regression", for it.
	Moved bool `json:"moved,omitempty"`
	// Functions are the functions that moved most, by absolute change,
	// largest first (a few; the JSON of the measurement has all of them).
	Functions []FunctionDelta `json:"functions"`
	// Asm is the assembly diff of the top-moving functions whose code
	// differs between base and head.
	Asm []AsmDiff `json:"asm,omitempty"`
}

// FunctionDelta is one function's instruction count at base and head.
type FunctionDelta struct {
	Name string `json:"name"`
	Base uint64 `json:"base"`
	Head uint64 `json:"head"`
	// Delta is Head - Base.
	Delta int64 `json:"delta"`
	// DeltaPct is the change in percent of the function's base count; nil
	// when the function did not run at base.
	DeltaPct *float64 `json:"delta_pct"`
	// ShareOfTotalPct is Delta in percent of the benchmark's base total,
	// how much of the benchmark's change this function explains.
	ShareOfTotalPct float64 `json:"share_of_total_pct"`
}

// AsmDiff is `objdump -d` of one function in the base and head binaries,
// aligned: equal lines once, removed lines "-", added lines "+".
type AsmDiff struct {
	Function string `json:"function"`
	// Lines in order; addresses and encodings are dropped so that code
	// that only moved does not show as changed.
	Lines []AsmLine `json:"lines"`
	// Truncated is set when the diff was cut to keep reports small.
	Truncated bool `json:"truncated,omitempty"`
}

// AsmLine is one line of an assembly diff: Op is " " (in both), "-" (base
// only) or "+" (head only).
type AsmLine struct {
	Op   string `json:"op"`
	Text string `json:"text"`
}

// explanations returns r's explanations of one target.
func (v *view) explanations(target string) []Explanation {
	var out []Explanation
	for _, e := range v.r.Explanations {
		if e.Target == target {
			out = append(out, e)
		}
	}
	// In the order of the findings they explain (worst first); cost that
	// only moved comes last.
	order := map[string]int{}
	for i, c := range v.findings[target] {
		if c.Metric == e0metric {
			if _, ok := order[c.Benchmark]; !ok {
				order[c.Benchmark] = i
			}
		}
	}
	rank := func(e Explanation) int {
		if i, ok := order[e.Benchmark]; ok && !e.Moved {
			return i
		}
		return len(v.findings[target]) + 1
	}
	sort.SliceStable(out, func(i, j int) bool { return rank(out[i]) < rank(out[j]) })
	return out
}

// e0metric is the metric explanations explain.
const e0metric = "instructions"

// explainTitle says what an explanation is about, with the unit and the
// good direction of its numbers: "where the instructions went (count,
// fewer is better): sha256 on armv8-qemu", and "moved (total unchanged)"
// when the cost only moved between functions.
func explainTitle(e Explanation) string {
	s := "where the instructions went (count, " + Better(e0metric, "count") + "): " + e.Benchmark + " on " + e.Target
	if e.Moved {
		s += " — moved (total unchanged)"
	}
	return s
}

// maxFuncName caps a function's name in a table: a demangled C++ name can
// run to hundreds of characters.
const maxFuncName = 100

func funcName(s string) string {
	s = oneLine(s)
	if r := []rune(s); len(r) > maxFuncName {
		return string(r[:maxFuncName-1]) + "…"
	}
	return s
}

// fnRow formats a function's counts, its change and its share of the
// benchmark's change (its delta in percent of the benchmark's base total,
// so the shares add up to the benchmark's Δ%).
func fnRow(f FunctionDelta) (base, head, delta, pct, share string) {
	b, h := float64(f.Base), float64(f.Head)
	d := float64(f.Delta)
	delta = commas(d)
	if f.Delta > 0 {
		delta = "+" + delta
	}
	pct = or(formatDelta(f.DeltaPct), "new")
	share = fmt.Sprintf("%+.2f%%", f.ShareOfTotalPct)
	return commas(b), commas(h), delta, pct, share
}

// textAsmLines caps the assembly a terminal report shows: the diff of
// the top function of the explanation of the target's largest finding
// (the JSON report and the change page have every diff).
const textAsmLines = 40

// textExplanations writes a target's explanations for a terminal, and the
// top assembly diff of the first one (they come worst first).
func textExplanations(w io.Writer, es []Explanation) {
	for i, e := range es {
		fmt.Fprintf(w, "  %s\n", explainTitle(e))
		// Names left, numbers right.
		width := len("FUNCTION")
		for _, f := range e.Functions {
			width = max(width, len([]rune(funcName(f.Name))))
		}
		pad := func(s string) string { return s + strings.Repeat(" ", width-len([]rune(s))) }
		var b strings.Builder
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "    %s\tBASE\tHEAD\tDELTA\tDELTA%%\tPART OF BENCHMARK'S DELTA%%\t\n", pad("FUNCTION"))
		for _, f := range e.Functions {
			base, head, delta, pct, share := fnRow(f)
			fmt.Fprintf(tw, "    %s\t%s\t%s\t%s\t%s\t%s\t\n", pad(funcName(f.Name)), base, head, delta, pct, share)
		}
		tw.Flush()
		for _, line := range strings.SplitAfter(b.String(), "\n") {
			io.WriteString(w, strings.TrimRight(line, " \n"))
			if strings.HasSuffix(line, "\n") {
				io.WriteString(w, "\n")
			}
		}
		if i > 0 || len(e.Asm) == 0 {
			continue
		}
		a := e.Asm[0]
		fmt.Fprintf(w, "    assembly of %s (- base, + head):\n", funcName(a.Function))
		for i, l := range a.Lines {
			if i == textAsmLines {
				fmt.Fprintf(w, "      … %d more lines (--format json, or the change page)\n", len(a.Lines)-i)
				break
			}
			fmt.Fprintf(w, "      %s %s\n", asmOp(l.Op), oneLine(l.Text))
		}
		if a.Truncated && len(a.Lines) <= textAsmLines {
			fmt.Fprintln(w, "      … (cut; the change page has it all)")
		}
	}
}

// asmOp is a diff line's prefix: "-", "+" or " ", whatever the input.
func asmOp(op string) string {
	if op == "-" || op == "+" {
		return op
	}
	return " "
}

// mdExplanations writes a target's explanations as folded sections, with
// their assembly diffs.
func mdExplanations(w io.Writer, es []Explanation) {
	for _, e := range es {
		fmt.Fprintf(w, "\n<details><summary>%s</summary>\n\n", mdEscape(explainTitle(e)))
		fmt.Fprintln(w, "| Function | Base | Head | Δ | Δ% | Part of the benchmark's Δ% |")
		fmt.Fprintln(w, "| :-- | --: | --: | --: | --: | --: |")
		for _, f := range e.Functions {
			base, head, delta, pct, share := fnRow(f)
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", mdCode(funcName(f.Name)), base, head, delta, pct, share)
		}
		for _, a := range e.Asm {
			mdAsm(w, a)
		}
		fmt.Fprint(w, "\n</details>\n")
	}
}

// mdAsm writes an assembly diff as a ```diff block no line of it can
// close early.
func mdAsm(w io.Writer, a AsmDiff) {
	fmt.Fprintf(w, "\nAssembly of %s (`-` base, `+` head):\n\n", mdCode(funcName(a.Function)))
	var body strings.Builder
	for _, l := range a.Lines {
		body.WriteString(asmOp(l.Op) + strings.NewReplacer("\r", " ", "\n", " ").Replace(l.Text) + "\n")
	}
	if a.Truncated {
		body.WriteString(" … (cut; the change page has it all)\n")
	}
	fence := "```"
	for strings.Contains(body.String(), fence) {
		fence += "`"
	}
	fmt.Fprintf(w, "%sdiff\n%s%s\n", fence, body.String(), fence)
}

// asmCount is the number of assembly diffs of the first n explanations
// (all when n < 0).
func asmCount(es []Explanation, n int) int {
	c := 0
	for i, e := range es {
		if n >= 0 && i >= n {
			break
		}
		c += len(e.Asm)
	}
	return c
}
