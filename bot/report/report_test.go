package report

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tcbot/tcbot/bot/compare"
	"github.com/tcbot/tcbot/bot/result"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden with the current output")

const (
	baseSHA = "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d"
	headSHA = "5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f80"
	v7      = "armv7-qemu"
	v8      = "armv8-qemu"
)

func res(target, bench, metric string, samples ...float64) result.Result {
	m, ok := result.LookupMetric(metric)
	if !ok {
		m.Unit = "?"
	}
	return result.Result{Target: target, Suite: "bench", Benchmark: bench, Metric: metric, Unit: m.Unit, Samples: samples}
}

func status(target, bench string, pass bool, note string) result.Result {
	v := result.Fail
	if pass {
		v = result.Pass
	}
	r := res(target, bench, result.Status, v)
	r.Note = note
	return r
}

func scaled(xs []float64, f float64) []float64 {
	ys := make([]float64, len(xs))
	for i, x := range xs {
		ys[i] = x * f
	}
	return ys
}

// Fixed samples with about 1% noise, so p-values are the same on every
// run and machine.
var compileTime = []float64{1.212, 1.198, 1.205, 1.221, 1.190, 1.209, 1.201, 1.215, 1.194, 1.207}

var qemuOnly = compare.Options{Informational: map[string][]string{v7: {result.Time}, v8: {result.Time}}}

// regressionReport has failures, regressions and improvements on two
// targets, informational wall time and a few unchanged comparisons.
func regressionReport() Report {
	base := []result.Result{
		res(v7, "sha256", result.Instructions, 120_000_000),
		res(v7, "sha256", result.CodeSize, 4096),
		res(v7, "aes", result.Instructions, 5_000_000),
		res(v7, "crc32", result.CodeSize, 2048),
		status(v7, "dhrystone", true, ""),
		res(v7, "dhrystone", result.Instructions, 90_000_000),
		status(v7, "qsort", false, "crash"),
		res(v7, "sieve", result.Instructions, 1_000_000),
		res(v7, "sieve", result.Time, 0.51, 0.52, 0.50),
		res(v8, "sha256", result.Instructions, 110_000_000),
		res(v8, "sha256", result.CompileTime, compileTime...),
		res(v8, "sha256", result.Time, 0.31, 0.32, 0.30, 0.33),
		res(v8, "aes", result.Instructions, 4_000_000),
		res(v8, "aes", result.CodeSize, 3000),
	}
	head := []result.Result{
		res(v7, "sha256", result.Instructions, 130_000_000),
		res(v7, "sha256", result.CodeSize, 4096),
		res(v7, "aes", result.Instructions, 4_900_000),
		res(v7, "crc32", result.CodeSize, 2100),
		status(v7, "dhrystone", false, "wrong checksum"),
		res(v7, "dhrystone", result.Instructions, 10),
		status(v7, "qsort", true, ""),
		res(v7, "sieve", result.Instructions, 1_000_100),
		res(v7, "sieve", result.Time, 0.61, 0.62, 0.60),
		res(v8, "sha256", result.Instructions, 111_000_000),
		res(v8, "sha256", result.CompileTime, scaled(compileTime, 1.08)...),
		res(v8, "sha256", result.Time, 0.31, 0.32, 0.30, 0.34),
		res(v8, "aes", result.Instructions, 4_000_000),
		res(v8, "aes", result.CodeSize, 3000),
	}
	r := New("toolchain", baseSHA, headSHA, compare.Compare(base, head, qemuOnly))
	r.BaseSubject = "Merge branch 'release/14'"
	r.HeadSubject = "aarch64: prefer ldp/stp for *memcpy* | tune [cost] <model>"
	r.URL = "https://tcbot.example.org/changes/42"
	pct := func(v float64) *float64 { return &v }
	r.Explanations = []Explanation{
		{Target: v7, Suite: "bench", Benchmark: "sha256", Metric: result.Instructions,
			Functions: []FunctionDelta{
				{Name: "sha256_block", Base: 100_000_000, Head: 110_000_000, Delta: 10_000_000, DeltaPct: pct(10), ShareOfTotalPct: 8.33},
				{Name: "memcpy", Base: 0, Head: 5_000, Delta: 5_000, ShareOfTotalPct: 0.004},
				// A C++ name with a table's column separator in it.
				{Name: "operator|(Bits, Bits)", Base: 1_000, Head: 900, Delta: -100, DeltaPct: pct(-10), ShareOfTotalPct: -0.0001},
			},
			Asm: []AsmDiff{{Function: "sha256_block", Lines: []AsmLine{
				{" ", "ldp x2, x3, [x1]"}, {"-", "add w4, w4, w5"}, {"+", "add w4, w4, w5, ror #2"}, {"+", "eor w6, w6, w4"}, {" ", "b.ne <.L1>"},
				// Text that would close a ``` fence, and an op that is
				// none of " ", "-", "+".
				{"+", ".ascii \"```\""}, {"?", "ret"},
			}, Truncated: true}}},
		{Target: v8, Suite: "bench", Benchmark: "sha256", Metric: result.Instructions, Moved: true,
			Functions: []FunctionDelta{
				{Name: "round", Base: 60_000_000, Head: 70_000_000, Delta: 10_000_000, DeltaPct: pct(16.67), ShareOfTotalPct: 9.09},
				{Name: "schedule", Base: 40_000_000, Head: 31_000_000, Delta: -9_000_000, DeltaPct: pct(-22.5), ShareOfTotalPct: -8.18},
			}},
	}
	return r
}

func unchangedReport() Report {
	base := []result.Result{
		res(v7, "sha256", result.Instructions, 120_000_000),
		res(v7, "sha256", result.CodeSize, 4096),
		res(v8, "sha256", result.Instructions, 110_000_000),
		res(v8, "sha256", result.CodeSize, 3900),
		res(v8, "aes", result.Time, 0.2, 0.21, 0.19),
	}
	head := []result.Result{
		res(v7, "sha256", result.Instructions, 120_000_100),
		res(v7, "sha256", result.CodeSize, 4096),
		res(v8, "sha256", result.Instructions, 110_000_000),
		res(v8, "sha256", result.CodeSize, 3900),
		res(v8, "aes", result.Time, 0.2, 0.21, 0.19),
		res(v8, "lzma", result.Instructions, 70_000_000),
	}
	head[4].Identical = true
	return New("toolchain", baseSHA, headSHA, compare.Compare(base, head, compare.DefaultOptions()))
}

func errorReport() Report {
	base := []result.Result{
		res(v7, "sha256", result.Instructions, 120_000_000),
		res(v7, "aes", result.Instructions, 5_000_000),
		res(v8, "sha256", result.Instructions, 110_000_000),
	}
	head := []result.Result{
		res(v7, "sha256", result.Instructions, 120_000_000, 120_000_400, 120_000_000),
		res(v7, "aes", result.Instructions, 5_000_000),
	}
	r := New("toolchain", baseSHA, headSHA, compare.Compare(base, head, compare.DefaultOptions()))
	r.AddError("armv8-qemu: qemu-aarch64 not found")
	return r
}

var reports = []struct {
	name   string
	report func() Report
}{
	{"regression", regressionReport},
	{"unchanged", unchangedReport},
	{"error", errorReport},
}

func TestGolden(t *testing.T) {
	for _, rep := range reports {
		for _, format := range []string{"markdown", "text"} {
			t.Run(rep.name+"/"+format, func(t *testing.T) {
				var got bytes.Buffer
				if err := Render(&got, rep.report(), format); err != nil {
					t.Fatal(err)
				}
				golden := filepath.Join("testdata", rep.name+"."+format+".golden")
				if *update {
					if err := os.MkdirAll("testdata", 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run go test ./bot/report -update)", err)
				}
				if !bytes.Equal(got.Bytes(), want) {
					t.Errorf("%s differs from %s (run go test ./bot/report -update and review the diff):\n%s", format, golden, got.String())
				}
				// Deterministic: a second rendering is byte-identical.
				var again bytes.Buffer
				if err := Render(&again, rep.report(), format); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got.Bytes(), again.Bytes()) {
					t.Error("two renderings of the same report differ")
				}
			})
		}
	}
}

func TestVerdicts(t *testing.T) {
	for name, want := range map[string]compare.Verdict{
		"regression": compare.Failed,
		"unchanged":  compare.Unchanged,
		"error":      compare.Error,
	} {
		for _, rep := range reports {
			if rep.name == name {
				if got := rep.report().Verdict; got != want {
					t.Errorf("%s report: verdict %q, want %q", name, got, want)
				}
			}
		}
	}
}

func TestMarkdownFirstLine(t *testing.T) {
	tests := []struct {
		report func() Report
		want   string
	}{
		{regressionReport, "**tcbot**: :x: failed — 1 failure, 4 regressions, 1 improvement, 1 fixed on 2 targets (base `1a2b3c4` → head `5d6e7f8`)"},
		{unchangedReport, "**tcbot**: :white_check_mark: unchanged — 6 comparisons unchanged on 2 targets (base `1a2b3c4` → head `5d6e7f8`)"},
		{errorReport, "**tcbot**: :warning: error — 2 errors on 2 targets, 1 infrastructure error (base `1a2b3c4` → head `5d6e7f8`)"},
	}
	for _, tt := range tests {
		var b bytes.Buffer
		if err := Markdown(&b, tt.report()); err != nil {
			t.Fatal(err)
		}
		first, _, _ := strings.Cut(b.String(), "\n")
		if first != tt.want {
			t.Errorf("first line\n got %s\nwant %s", first, tt.want)
		}
	}
}

func TestReproduceIsLast(t *testing.T) {
	r := regressionReport()
	want := "tcbot run --repo toolchain --rev " + headSHA + " --base " + baseSHA + " --targets armv7-qemu,armv8-qemu"
	if r.Reproduce != want {
		t.Errorf("Reproduce = %q, want %q", r.Reproduce, want)
	}
	var text, md bytes.Buffer
	if err := Text(&text, r); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(text.String(), "\nReproduce: "+want+"\n") {
		t.Errorf("text does not end with the reproduce command:\n%s", text.String())
	}
	if err := Markdown(&md, r); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(md.String(), "```sh\n"+want+"\n```\n") {
		t.Errorf("markdown does not end with the reproduce command:\n%s", md.String())
	}
}

// TestJSON decodes the report generically and checks DESIGN.md's keys.
func TestJSON(t *testing.T) {
	var b bytes.Buffer
	if err := Render(&b, regressionReport(), "json"); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(b.String(), "}\n") || !strings.Contains(b.String(), "\n  \"repo\"") {
		t.Errorf("want indented JSON with a trailing newline:\n%s", b.String())
	}
	var doc map[string]any
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]any{"repo": "toolchain", "base": baseSHA, "head": headSHA, "verdict": "failed"} {
		if doc[key] != want {
			t.Errorf("%s = %v, want %v", key, doc[key], want)
		}
	}
	if _, ok := doc["reproduce"].(string); !ok {
		t.Errorf("reproduce = %v, want a string", doc["reproduce"])
	}
	cs, ok := doc["comparisons"].([]any)
	if !ok || len(cs) == 0 {
		t.Fatalf("comparisons = %v, want a non-empty array", doc["comparisons"])
	}
	sawExact, sawNoisy := false, false
	for _, x := range cs {
		c := x.(map[string]any)
		for _, key := range []string{"target", "suite", "benchmark", "metric", "unit", "base", "head", "delta_pct", "p", "verdict"} {
			if _, ok := c[key]; !ok {
				t.Errorf("comparison %v has no %q", c, key)
			}
		}
		switch c["metric"] {
		case result.Instructions, result.CodeSize:
			sawExact = true
			if c["p"] != nil {
				t.Errorf("p = %v for exact metric in %v, want null", c["p"], c)
			}
		case result.CompileTime:
			sawNoisy = true
			if _, ok := c["p"].(float64); !ok {
				t.Errorf("p = %v for noisy metric in %v, want a number", c["p"], c)
			}
		}
		if c["benchmark"] == "sha256" && c["metric"] == result.Instructions && c["target"] == v7 {
			if c["base"] != 1.2e8 || c["head"] != 1.3e8 || c["verdict"] != "regression" || c["unit"] != "count" {
				t.Errorf("sha256 on armv7: %v", c)
			}
			if d, _ := c["delta_pct"].(float64); d < 8.333 || d > 8.334 {
				t.Errorf("delta_pct = %v, want 8.33", c["delta_pct"])
			}
		}
	}
	if !sawExact || !sawNoisy {
		t.Errorf("fixture lacks exact (%v) or noisy (%v) comparisons", sawExact, sawNoisy)
	}
	if _, ok := doc["info"].([]any); !ok {
		t.Errorf("info = %v, want an array", doc["info"])
	}
	if _, ok := doc["geomeans"].([]any); !ok {
		t.Errorf("geomeans = %v, want an array", doc["geomeans"])
	}
	if doc["base_subject"] != "Merge branch 'release/14'" {
		t.Errorf("base_subject = %v", doc["base_subject"])
	}
}

func TestJSONEmptyComparisonsIsArray(t *testing.T) {
	for name, r := range map[string]Report{
		"New":        New("toolchain", baseSHA, headSHA, compare.Outcome{}),
		"zero value": {},
	} {
		var b bytes.Buffer
		if err := JSON(&b, r); err != nil {
			t.Fatal(err)
		}
		var doc map[string]json.RawMessage
		if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
			t.Fatal(err)
		}
		if got := string(doc["comparisons"]); got != "[]" {
			t.Errorf("%s: comparisons = %s, want []", name, got)
		}
		for _, key := range []string{"info", "geomeans", "errors", "base_subject", "head_subject"} {
			if _, ok := doc[key]; ok {
				t.Errorf("%s: empty %q present", name, key)
			}
		}
	}
}

func TestRenderUnknownFormat(t *testing.T) {
	var b bytes.Buffer
	err := Render(&b, unchangedReport(), "html")
	if err == nil {
		t.Fatal("Render with format html: no error")
	}
	for _, f := range []string{"html", "text", "markdown", "json"} {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("error %q does not name %q", err, f)
		}
	}
	if b.Len() != 0 {
		t.Errorf("wrote %q for an unknown format", b.String())
	}
}

func TestAddError(t *testing.T) {
	for _, tt := range []struct{ before, after compare.Verdict }{
		{compare.Unchanged, compare.Error},
		{compare.Improvement, compare.Error},
		{compare.Regression, compare.Regression},
		{compare.Failed, compare.Failed},
	} {
		r := Report{Verdict: tt.before}
		r.AddError("armv7-qemu: boom")
		if r.Verdict != tt.after || len(r.Errors) != 1 {
			t.Errorf("AddError on %s: verdict %s errors %q, want %s", tt.before, r.Verdict, r.Errors, tt.after)
		}
	}
}

func TestFormatting(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	tests := []struct {
		name, got, want string
	}{
		{"instruction count", formatValue("count", f(123456789)), "123,456,789"},
		{"small count", formatValue("count", f(999)), "999"},
		{"negative count", formatValue("count", f(-1234567)), "-1,234,567"},
		{"bytes", formatValue("bytes", f(4096)), "4,096 B"},
		{"seconds", formatValue("s", f(1.2)), "1.20 s"},
		{"milliseconds", formatValue("s", f(0.012345)), "0.0123 s"},
		{"seconds rounding up", formatValue("s", f(9.9996)), "10.0 s"},
		{"many seconds", formatValue("s", f(1234.5)), "1,235 s"},
		{"throughput", formatValue("req/s", f(15321.7)), "15,322 req/s"},
		{"pass", formatValue("pass/fail", f(1)), "pass"},
		{"fail", formatValue("pass/fail", f(0)), "fail"},
		{"unknown value", formatValue("count", nil), ""},
		{"delta up", formatDelta(f(8.333333)), "+8.33%"},
		{"delta down", formatDelta(f(-2)), "-2.00%"},
		{"delta zero", formatDelta(f(0)), "0.00%"},
		{"full sha", shortSHA(headSHA), "5d6e7f8"},
		{"branch name", shortSHA("release/gcc-14-branch"), "release/gcc-14-branch"},
		{"markdown escape", mdEscape("a|b *c* <d> [e](f) `g`"), `a\|b \*c\* &lt;d&gt; \[e\](f) \` + "`g\\`"},
		{"code span with backtick", codeSpan("a`b"), "`` a`b ``"},
		{"shell quote", ReproduceCommand("my config.yaml", "tool'chain", "", "main", nil), `tcbot run --config 'my config.yaml' --repo 'tool'\''chain' --rev main`},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, tt.got, tt.want)
		}
	}
}

// TestFailingAtBothSidesIsShown: a benchmark that fails at base and head
// is "unchanged" (the change did not break it), but nothing was measured:
// the text and markdown reports name it instead of counting it silently.
func TestFailingAtBothSidesIsShown(t *testing.T) {
	fail := func(target, bench string) result.Result {
		r := res(target, bench, result.Status, result.Fail)
		r.Note = "run failed (killed by KILL)"
		return r
	}
	base := []result.Result{
		res(v7, "sha256", result.Instructions, 120_000_000), res(v7, "sha256", result.Status, result.Pass),
		fail(v7, "crc32"), fail(v7, "aes"),
		res(v8, "sha256", result.Instructions, 110_000_000),
	}
	head := []result.Result{
		res(v7, "sha256", result.Instructions, 120_000_000), res(v7, "sha256", result.Status, result.Pass),
		fail(v7, "crc32"), fail(v7, "aes"),
		res(v8, "sha256", result.Instructions, 110_000_000),
	}
	r := New("toolchain", baseSHA, headSHA, compare.Compare(base, head, compare.DefaultOptions()))
	if r.Verdict != compare.Unchanged {
		t.Fatalf("verdict %s", r.Verdict)
	}
	var text, md bytes.Buffer
	Text(&text, r)
	if err := Markdown(&md, r); err != nil {
		t.Fatal(err)
	}
	if want := "2 benchmarks fail at base and head: aes, crc32"; !strings.Contains(text.String(), v7+": 3 unchanged ("+want+")") {
		t.Errorf("text report does not say %q on %s:\n%s", want, v7, text.String())
	}
	if strings.Contains(text.String(), v8+": 1 unchanged (") {
		t.Errorf("text report names failures on %s, which has none:\n%s", v8, text.String())
	}
	if want := ":warning: " + v7 + ": 2 benchmarks fail at base and head (nothing measured): aes, crc32"; !strings.Contains(md.String(), want) {
		t.Errorf("markdown report does not say %q:\n%s", want, md.String())
	}
}
