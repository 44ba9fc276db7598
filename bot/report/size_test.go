package report

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/tcbot/tcbot/bot/compare"
	"github.com/tcbot/tcbot/bot/result"
)

// bigReport is 16 benchmarks x 2 targets x every metric tcbot knows, every
// one a regression, each instruction regression with an explanation of 5
// functions and 3 long assembly diffs.
func bigReport() Report {
	var base, head []result.Result
	var expl []Explanation
	for _, target := range []string{"armv7-qemu", "armv8-qemu"} {
		for b := 0; b < 16; b++ {
			bench := fmt.Sprintf("benchmark-with-a-long-name-%02d", b)
			for _, m := range result.Metrics {
				bv, hv := 1_000_000.0, 1_100_000.0+float64(b*1000)
				if m.HigherIsBetter {
					hv = 800_000
				}
				switch m.Kind {
				case result.StatusKind:
					base = append(base, result.Result{Target: target, Suite: "bench", Benchmark: bench, Metric: m.Name, Unit: m.Unit, Samples: []float64{1}})
					// The first benchmark fails (its other metrics are then
					// not compared), the rest pass.
					if b == 0 {
						head = append(head, result.Result{Target: target, Suite: "bench", Benchmark: bench, Metric: m.Name, Unit: m.Unit, Samples: []float64{0}, Note: "wrong checksum"})
					} else {
						head = append(head, result.Result{Target: target, Suite: "bench", Benchmark: bench, Metric: m.Name, Unit: m.Unit, Samples: []float64{1}})
					}
				case result.Noisy:
					var bs, hs []float64
					for i := 0; i < 10; i++ {
						bs, hs = append(bs, bv+float64(i)), append(hs, hv+float64(i))
					}
					base = append(base, result.Result{Target: target, Suite: "bench", Benchmark: bench, Metric: m.Name, Unit: m.Unit, Samples: bs})
					head = append(head, result.Result{Target: target, Suite: "bench", Benchmark: bench, Metric: m.Name, Unit: m.Unit, Samples: hs})
				default:
					base = append(base, result.Result{Target: target, Suite: "bench", Benchmark: bench, Metric: m.Name, Unit: m.Unit, Samples: []float64{bv}})
					head = append(head, result.Result{Target: target, Suite: "bench", Benchmark: bench, Metric: m.Name, Unit: m.Unit, Samples: []float64{hv}})
				}
			}
			e := Explanation{Target: target, Suite: "bench", Benchmark: bench, Metric: result.Instructions}
			for f := 0; f < 5; f++ {
				p := 10.0
				e.Functions = append(e.Functions, FunctionDelta{Name: fmt.Sprintf("function_%d_%s", f, bench), Base: 200_000, Head: 220_000, Delta: 20_000, DeltaPct: &p, ShareOfTotalPct: 2})
			}
			for f := 0; f < 3; f++ {
				a := AsmDiff{Function: e.Functions[f].Name}
				for l := 0; l < 120; l++ {
					a.Lines = append(a.Lines, AsmLine{Op: []string{" ", "-", "+"}[l%3], Text: fmt.Sprintf("ldr x%d, [x%d, #%d]  ; a fairly long operand list", l%30, (l+1)%30, l*8)})
				}
				e.Asm = append(e.Asm, a)
			}
			expl = append(expl, e)
		}
	}
	r := New("toolchain", baseSHA, headSHA, compare.Compare(base, head, compare.DefaultOptions()))
	r.URL = "https://tcbot.example.org/changes/4242"
	r.Explanations = expl
	return r
}

// TestMarkdownStaysUnderGitHubsLimit: the worst report still fits in one
// comment, with its summary, link and reproduce line, and says what it
// left to the change page.
func TestMarkdownStaysUnderGitHubsLimit(t *testing.T) {
	r := bigReport()
	var b strings.Builder
	if err := Markdown(&b, r); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	diffs := strings.Count(md, "```diff")
	t.Logf("worst-case comment: %d characters (%d comparisons, %d explanations, %d assembly diffs of %d shown)",
		len(md), len(r.Comparisons), len(r.Explanations), diffs, asmCount(r.Explanations, -1))
	if len(md) > MaxComment {
		t.Fatalf("comment is %d characters, more than %d (GitHub's limit is 65,536)", len(md), MaxComment)
	}
	checkComment(t, md, r)
	if !strings.Contains(md, "Left out to fit a comment: ") || !strings.Contains(md, "see [the change page](https://tcbot.example.org/changes/4242)") {
		t.Error("the comment does not say what it left out, and where it is")
	}
	// Assembly goes first, then explanations; the comment counts what it
	// left out.
	shown := strings.Count(md, "<summary>where the instructions went")
	if shown == 0 {
		t.Error("no explanation left in the comment")
	}
	left := fmt.Sprintf("Left out to fit a comment: %d assembly diffs", asmCount(r.Explanations, -1)-diffs)
	if shown < len(r.Explanations) {
		left += fmt.Sprintf(", %d explanations", len(r.Explanations)-shown)
	}
	if !strings.Contains(md, left) {
		t.Errorf("comment lacks %q", left)
	}
	// The full text (no limit) has every explanation.
	b.Reset()
	if err := Text(&b, r); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(b.String(), "where the instructions went (count, fewer is better): "); n != 32 {
		t.Errorf("text has %d explanations, want 32", n)
	}
}

// TestMarkdownKeepsTheWorstAssembly: when only some assembly diffs fit,
// they are those of each target's worst finding.
func TestMarkdownKeepsTheWorstAssembly(t *testing.T) {
	r := bigReport()
	var cs []compare.Comparison
	for _, c := range r.Comparisons {
		if c.Metric == result.Instructions {
			cs = append(cs, c)
		}
	}
	r.Comparisons, r.Info, r.Geomeans = cs, nil, nil
	var b strings.Builder
	if err := Markdown(&b, r); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	diffs := strings.Count(md, "```diff")
	t.Logf("%d characters, %d of %d assembly diffs", len(md), diffs, asmCount(r.Explanations, -1))
	if len(md) > MaxComment {
		t.Fatalf("comment is %d characters", len(md))
	}
	checkComment(t, md, r)
	if diffs == 0 || diffs == asmCount(r.Explanations, -1) {
		t.Fatalf("%d assembly diffs of %d: want some, not all", diffs, asmCount(r.Explanations, -1))
	}
	// The largest instruction regression is benchmark 15's on each target.
	for _, target := range []string{"armv7-qemu", "armv8-qemu"} {
		sec := md[strings.Index(md, "### "+target):]
		d := strings.Index(sec, "<details>")
		if d < 0 || !strings.HasPrefix(sec[d:], "<details><summary>where the instructions went (count, fewer is better): benchmark-with-a-long-name-15 on "+target) {
			t.Errorf("%s: the first explanation is not the worst finding's", target)
			continue
		}
		if e := strings.Index(sec[d:], "</details>"); !strings.Contains(sec[d:d+e], "```diff") {
			t.Errorf("%s: the worst finding's explanation has no assembly", target)
		}
	}
}

// checkComment checks what every comment has, however long the report:
// the summary first, the link, the reproduce line last, and closed
// <details> and code fences.
func checkComment(t *testing.T, md string, r Report) {
	t.Helper()
	first := strings.SplitN(md, "\n", 2)[0]
	if want := "**tcbot**: " + emoji(r.Verdict) + " " + string(r.Verdict) + " — " + newView(r).summary(); !strings.HasPrefix(first, want) {
		t.Errorf("first line %q, want the summary %q", first, want)
	}
	if r.URL != "" && !strings.Contains(md, "[Details: history, per-function counts and assembly diffs]("+r.URL+")") {
		t.Error("comment lacks the link to the change page")
	}
	if !strings.HasSuffix(md, "```sh\n"+r.Reproduce+"\n```\n") {
		t.Errorf("comment does not end with the reproduce line %q", r.Reproduce)
	}
	if o, c := strings.Count(md, "<details>"), strings.Count(md, "</details>"); o != c {
		t.Errorf("%d <details> and %d </details>", o, c)
	}
	// Every fence opened is closed by the same fence.
	var open string
	for _, line := range strings.Split(md, "\n") {
		switch {
		case open == "" && strings.HasPrefix(line, "```"):
			open = strings.TrimRight(line, "abcdefghijklmnopqrstuvwxyz")
		case open != "" && line == open:
			open = ""
		}
	}
	if open != "" {
		t.Errorf("fence %q never closed", open)
	}
}

// TestMarkdownAlwaysFits: however many targets, findings, notes and
// errors, the comment stays under the limit and keeps its summary, link
// and reproduce line; the fewer it shows, the more it says it left out.
func TestMarkdownAlwaysFits(t *testing.T) {
	res := func(target, bench string, v float64) result.Result {
		return result.Result{Target: target, Suite: "bench", Benchmark: bench, Metric: result.Instructions, Unit: "count", Samples: []float64{v}}
	}
	for _, tc := range []struct {
		name              string
		targets, benches  int
		errors, errorSize int
		url               string
		want              string
	}{
		{"many findings on many targets", 12, 300, 0, 0, "https://tcbot.example.org/changes/1", "more in [the change page](https://tcbot.example.org/changes/1)"},
		{"many findings, no dashboard", 12, 300, 0, 0, "", "more in the JSON report (`--format json`)"},
		{"a flood of long errors", 2, 10, 400, 5000, "https://tcbot.example.org/changes/2", "This report is too long for a comment: see [the change page](https://tcbot.example.org/changes/2)."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var base, head []result.Result
			for i := 0; i < tc.targets; i++ {
				target := fmt.Sprintf("target-%02d", i)
				for j := 0; j < tc.benches; j++ {
					bench := fmt.Sprintf("benchmark-%03d", j)
					base = append(base, res(target, bench, 1000))
					head = append(head, res(target, bench, 1100+float64(j)))
				}
			}
			r := New("toolchain", baseSHA, headSHA, compare.Compare(base, head, compare.DefaultOptions()))
			r.URL = tc.url
			for i := 0; i < tc.errors; i++ {
				r.AddError(fmt.Sprintf("target-%02d: ", i%tc.targets) + strings.Repeat("x", tc.errorSize))
			}
			var b strings.Builder
			if err := Markdown(&b, r); err != nil {
				t.Fatal(err)
			}
			md := b.String()
			t.Logf("%d characters", len(md))
			if len(md) > MaxComment {
				t.Fatalf("comment is %d characters, more than %d", len(md), MaxComment)
			}
			checkComment(t, md, r)
			if !strings.Contains(md, tc.want) {
				t.Errorf("comment lacks %q", tc.want)
			}
		})
	}
}

// TestFindingsWorstFirst: within a target, failures first, then
// regressions by size, errors, improvements by size and fixed, in text
// and Markdown, whatever order they came in.
func TestFindingsWorstFirst(t *testing.T) {
	pct := func(v float64) *float64 { return &v }
	c := func(bench string, v compare.Verdict, d *float64) compare.Comparison {
		metric, unit := result.Instructions, "count"
		if v == compare.Failed || v == compare.Fixed {
			metric, unit = result.Status, "pass/fail"
		}
		return compare.Comparison{Target: "armv8-qemu", Suite: "bench", Benchmark: bench, Metric: metric, Unit: unit, DeltaPct: d, Verdict: v}
	}
	// Sorted by name, as compare.Compare sorts them.
	in := []compare.Comparison{
		c("a-small-improvement", compare.Improvement, pct(-1)),
		c("b-small-regression", compare.Regression, pct(1)),
		c("c-fixed", compare.Fixed, nil),
		c("d-error", compare.Error, nil),
		c("e-big-improvement", compare.Improvement, pct(-30)),
		c("f-big-regression", compare.Regression, pct(50)),
		c("g-failed", compare.Failed, nil),
		c("h-medium-regression", compare.Regression, pct(-20)), // higher is better: a drop
		c("i-unchanged", compare.Unchanged, pct(0)),
	}
	want := []string{"g-failed", "f-big-regression", "h-medium-regression", "b-small-regression", "d-error", "e-big-improvement", "a-small-improvement", "c-fixed"}
	r := Report{Repo: "tc", Base: baseSHA, Head: headSHA, Verdict: compare.Failed, Comparisons: in}
	for _, format := range []string{"text", "markdown"} {
		var b strings.Builder
		if err := Render(&b, r, format); err != nil {
			t.Fatal(err)
		}
		s := b.String()
		var got []string
		for _, line := range strings.Split(s, "\n") {
			for _, name := range want {
				if strings.Contains(line, name) {
					got = append(got, name)
				}
			}
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("%s: findings in the order\n  %s\nwant\n  %s\n%s", format, strings.Join(got, " "), strings.Join(want, " "), s)
		}
	}
}

// TestEveryMetricSaysItsUnitAndDirection in text, Markdown and JSON.
func TestEveryMetricSaysItsUnitAndDirection(t *testing.T) {
	for _, m := range result.Metrics {
		label := MetricLabel(m.Name, m.Unit)
		want := "lower is better"
		switch {
		case m.Kind == result.StatusKind:
			want = "pass/fail"
		case m.HigherIsBetter:
			want = "higher is better"
		case m.Unit == "count":
			want = "fewer is better"
		}
		if !strings.Contains(label, want) || (m.Kind != result.StatusKind && !strings.Contains(label, m.Unit)) {
			t.Errorf("%s: label %q, want its unit %q and %q", m.Name, label, m.Unit, want)
		}
	}
	r := bigReport()
	var text, md, js strings.Builder
	Text(&text, r)
	Markdown(&md, r)
	JSON(&js, r)
	for _, m := range result.Metrics {
		label := MetricLabel(m.Name, m.Unit)
		if !strings.Contains(text.String(), label) {
			t.Errorf("text never says %q", label)
		}
		if !strings.Contains(md.String(), mdEscape(label)) {
			t.Errorf("markdown never says %q", label)
		}
	}
	// Every row says it: each comparison's row and each geomean's.
	for _, c := range r.Comparisons {
		label := MetricLabel(c.Metric, c.Unit)
		if row := c.Benchmark + " | " + mdEscape(label) + " | "; !strings.Contains(md.String(), row) {
			t.Errorf("markdown has no row %q", row)
		}
		if !regexp.MustCompile(`(?m)^  \S+ +` + regexp.QuoteMeta(c.Benchmark) + ` +` + regexp.QuoteMeta(label) + `  `).MatchString(text.String()) {
			t.Errorf("text has no row of %s with %q", c.Benchmark, label)
		}
	}
	for _, g := range r.Geomeans {
		label := MetricLabel(g.Metric, "")
		if row := "| " + g.Target + " | " + g.Suite + " | " + mdEscape(label) + " |"; !strings.Contains(md.String(), row) {
			t.Errorf("markdown has no geomean row %q", row)
		}
		if !regexp.MustCompile(`(?m)^  ` + regexp.QuoteMeta(g.Target) + ` +` + regexp.QuoteMeta(g.Suite) + ` +` + regexp.QuoteMeta(label) + ` `).MatchString(text.String()) {
			t.Errorf("text has no geomean row of %s %s with %q", g.Target, g.Suite, label)
		}
	}
	// JSON: every comparison and geomean says which direction is better.
	var parsed struct {
		Comparisons []map[string]any `json:"comparisons"`
		Geomeans    []map[string]any `json:"geomeans"`
	}
	if err := json.Unmarshal([]byte(js.String()), &parsed); err != nil {
		t.Fatal(err)
	}
	if len(parsed.Geomeans) == 0 {
		t.Fatal("no geomeans to check")
	}
	for _, m := range append(parsed.Comparisons, parsed.Geomeans...) {
		if b, _ := m["better"].(string); !strings.HasSuffix(b, " is better") {
			t.Errorf("JSON %v %v %v: better = %q", m["target"], m["benchmark"], m["metric"], b)
		}
	}
	for _, want := range []string{`"better": "fewer is better"`, `"better": "higher is better"`, `"better": "lower is better"`} {
		if !strings.Contains(js.String(), want) {
			t.Errorf("JSON lacks %s", want)
		}
	}
}

// TestEveryBenchmarkFailingIsNoVerdict: a target on which every benchmark
// fails at base and head measured nothing; the report says so as an
// error instead of "unchanged".
func TestEveryBenchmarkFailingIsNoVerdict(t *testing.T) {
	st := func(target, bench string, v float64) result.Result {
		return result.Result{Target: target, Suite: "bench", Benchmark: bench, Metric: result.Status, Unit: "pass/fail", Samples: []float64{v}}
	}
	base := []result.Result{st("armv7-qemu", "a", 0), st("armv7-qemu", "b", 0), st("armv8-qemu", "a", 0),
		{Target: "armv8-qemu", Suite: "bench", Benchmark: "b", Metric: result.Instructions, Unit: "count", Samples: []float64{100}}}
	head := []result.Result{st("armv7-qemu", "a", 0), st("armv7-qemu", "b", 0), st("armv8-qemu", "a", 0),
		{Target: "armv8-qemu", Suite: "bench", Benchmark: "b", Metric: result.Instructions, Unit: "count", Samples: []float64{100}}}
	r := New("tc", baseSHA, headSHA, compare.Compare(base, head, compare.DefaultOptions()))
	if r.Verdict != compare.Error || len(r.Errors) != 1 || !strings.HasPrefix(r.Errors[0], "armv7-qemu: every benchmark fails at base and head") {
		t.Errorf("verdict %s, errors %q; want one error for armv7-qemu only", r.Verdict, r.Errors)
	}
}
