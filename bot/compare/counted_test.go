package compare

import (
	"testing"

	"github.com/tcbot/tcbot/bot/result"
)

// Counted metrics (whole-system instructions per request): the median
// decides against the threshold, and only when the sides' samples do not
// overlap, so the spread between boots of the same kernel is never a
// regression.
func TestCountedMetrics(t *testing.T) {
	const ipr = "instructions-per-request"
	if m, ok := result.LookupMetric(ipr); !ok || m.Kind != result.Counted {
		t.Fatalf("%s is not a Counted metric: %+v", ipr, m)
	}
	tests := []struct {
		name       string
		base, head []float64
		verdict    Verdict
		note       string
	}{
		{"the same counts", []float64{1000, 1000, 1000}, []float64{1000, 1000, 1000}, Unchanged, ""},
		{"a spread like the write page's, overlapping", []float64{1087, 1054, 1083, 1113, 1068}, []float64{1026, 1068, 1140, 1090, 1060}, Unchanged, "within the spread of the samples"},
		{"medians 3% apart but overlapping", []float64{1000, 1010, 1090}, []float64{1030, 1040, 1005}, Unchanged, "within the spread of the samples"},
		{"separated but within the threshold", []float64{1000, 1001, 1002}, []float64{1005, 1006, 1007}, Unchanged, ""},
		{"separated and beyond the threshold", []float64{1000, 1001, 1002}, []float64{1040, 1041, 1039}, Regression, ""},
		{"fewer instructions, separated", []float64{1000, 1001, 1002}, []float64{900, 901, 899}, Improvement, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := []result.Result{res("lamp-read", ipr, tc.base...)}
			h := []result.Result{res("lamp-read", ipr, tc.head...)}
			out := Compare(b, h, Options{})
			if len(out.Comparisons) != 1 {
				t.Fatalf("comparisons:\n%s", dump(out.Comparisons))
			}
			c := out.Comparisons[0]
			if c.Verdict != tc.verdict || c.Note != tc.note {
				t.Errorf("verdict %s (note %q), want %s (%q):\n%s", c.Verdict, c.Note, tc.verdict, tc.note, dump(out.Comparisons))
			}
			if !c.Exact() || c.P != nil {
				t.Errorf("a counted metric is decided by a threshold, not a test: exact %v, p %v", c.Exact(), c.P)
			}
		})
	}
}
