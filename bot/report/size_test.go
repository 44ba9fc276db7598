package report

import (
	"fmt"
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
	t.Logf("worst-case comment: %d characters (%d comparisons, %d explanations)", len(md), len(r.Comparisons), len(r.Explanations))
	if len(md) > 65536 {
		t.Fatalf("comment is %d characters, GitHub's limit is 65,536", len(md))
	}
	for _, want := range []string{"**tcbot**: :x: failed", "(https://tcbot.example.org/changes/4242)", "Reproduce:", "tcbot run", "see the change page"} {
		if !strings.Contains(md, want) {
			t.Errorf("comment lacks %q", want)
		}
	}
	if strings.Count(md, "```diff") > 0 && !strings.Contains(md, "change page") {
		t.Error("some assembly dropped without saying so")
	}
	// The full text (no limit) has every explanation.
	b.Reset()
	if err := Text(&b, r); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(b.String(), "where the instructions of"); n != 32 {
		t.Errorf("text has %d explanations, want 32", n)
	}
}

// TestFindingsWorstFirst: within a verdict, the largest change heads the
// table, in text and Markdown.
func TestFindingsWorstFirst(t *testing.T) {
	res := func(bench string, v float64) result.Result {
		return result.Result{Target: "armv8-qemu", Suite: "bench", Benchmark: bench, Metric: result.Instructions, Unit: "count", Samples: []float64{v}}
	}
	base := []result.Result{res("aaa", 100), res("bbb", 100), res("ccc", 100), res("ddd", 100)}
	head := []result.Result{res("aaa", 101), res("bbb", 150), res("ccc", 120), res("ddd", 90)}
	r := New("tc", baseSHA, headSHA, compare.Compare(base, head, compare.DefaultOptions()))
	for _, format := range []string{"text", "markdown"} {
		var b strings.Builder
		if err := Render(&b, r, format); err != nil {
			t.Fatal(err)
		}
		s := b.String()
		i, j, k, l := strings.Index(s, "bbb"), strings.Index(s, "ccc"), strings.Index(s, "aaa"), strings.Index(s, "ddd")
		if !(i < j && j < k && k < l) {
			t.Errorf("%s: order bbb %d, ccc %d, aaa %d, ddd %d: want +50%%, +20%%, +1%% regressions, then the improvement\n%s", format, i, j, k, l, s)
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
