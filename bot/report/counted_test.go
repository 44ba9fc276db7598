package report

import (
	"testing"

	"github.com/tcbot/tcbot/bot/compare"
	"github.com/tcbot/tcbot/bot/result"
)

// A counted metric's P column says how it was decided: "counted", not
// "exact" (its samples vary a little) and not a p-value.
func TestCountedMetricSaysCounted(t *testing.T) {
	for _, tc := range []struct{ metric, want string }{
		{"instructions-per-request", "counted"},
		{result.Instructions, "exact"},
		{result.Status, ""},
	} {
		if got := formatP(compare.Comparison{Metric: tc.metric}); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.metric, got, tc.want)
		}
	}
}
