package report

import (
	"testing"

	"github.com/tcbot/tcbot/bot/compare"
)

func f(v float64) *float64 { return &v }

func noisy(target, bench string, p float64, verdict compare.Verdict) compare.Comparison {
	return compare.Comparison{Target: target, Suite: "bench", Benchmark: bench, Metric: "time", Unit: "s",
		Base: f(1.0), Head: f(1.10), DeltaPct: f(10), P: f(p), Verdict: verdict, BaseN: 10, HeadN: 10}
}

func TestMerge(t *testing.T) {
	// armv7's part alone: one noisy test at p = 0.03 is significant in a
	// family of one. In the joined report's family of four it is not.
	v7 := Report{Repo: "gcc", Base: "b", Head: "h", Verdict: compare.Regression,
		Comparisons: []compare.Comparison{noisy("armv7-qemu", "aes", 0.03, compare.Regression)}}
	v8 := Report{Repo: "gcc", Base: "b", Head: "h", Verdict: compare.Unchanged,
		Comparisons: []compare.Comparison{
			noisy("armv8-qemu", "zlib", 0.9, compare.Unchanged),
			noisy("armv8-qemu", "aes", 0.8, compare.Unchanged),
			{Target: "armv8-qemu", Suite: "bench", Benchmark: "crc32", Metric: "instructions", Unit: "count", Base: f(100), Head: f(100), DeltaPct: f(0), Verdict: compare.Unchanged},
			noisy("armv8-qemu", "fft", 0.7, compare.Unchanged),
		},
		Geomeans: []compare.Geomean{{Target: "armv8-qemu", Suite: "bench", Metric: "time", Ratio: 1.1, DeltaPct: 10, N: 3}}}
	got := Merge([]Report{v8, v7}, "", compare.Options{})
	if got.Verdict != compare.Unchanged {
		t.Errorf("verdict %s, want unchanged: p = 0.03 among four tests is not a discovery at q = 0.05", got.Verdict)
	}
	if len(got.Comparisons) != 5 || got.Comparisons[0].Target != "armv7-qemu" || got.Comparisons[1].Benchmark != "aes" || got.Comparisons[2].Benchmark != "crc32" {
		t.Errorf("comparisons not joined in key order: %+v", got.Comparisons)
	}
	if got.Comparisons[0].Verdict != compare.Unchanged {
		t.Errorf("armv7 aes keeps %s, want it decided again over the report", got.Comparisons[0].Verdict)
	}
	if len(got.Geomeans) != 1 || got.Repo != "gcc" || got.Base != "b" || got.Head != "h" || got.Reproduce == "" {
		t.Errorf("merged report lost its parts: %+v", got)
	}

	// A clear signal stays a regression; a target that could not be
	// measured is an error line that never hides it, and alone makes the
	// report an error.
	v7.Comparisons[0].P = f(0.0001)
	got = Merge([]Report{v8, v7}, "tcbot run ...", compare.Options{})
	got.AddError("armv8-a53: tcbot could not measure it")
	if got.Verdict != compare.Regression || got.Comparisons[0].Verdict != compare.Regression || got.Reproduce != "tcbot run ..." {
		t.Errorf("verdict %s (armv7 aes %s), want regression kept over the error", got.Verdict, got.Comparisons[0].Verdict)
	}
	withErr := v8
	withErr.Errors = []string{"armv7-qemu: board unreachable"}
	if got := Merge([]Report{withErr}, "", compare.Options{}); got.Verdict != compare.Error || len(got.Errors) != 1 {
		t.Errorf("an unchanged part with an infrastructure error merged to %s, want error", got.Verdict)
	}
}
