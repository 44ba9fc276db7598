package service

import (
	"context"
	"encoding/json"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/tcbot/tcbot/bot/bisect"
	"github.com/tcbot/tcbot/bot/compare"
	"github.com/tcbot/tcbot/bot/report"
	"github.com/tcbot/tcbot/bot/result"
	"github.com/tcbot/tcbot/bot/store"
)

// History is what the dashboard charts of one branch show: its measured
// heads in order, and per target and metric the geomean of every
// benchmark's value relative to the first point, and each benchmark's
// own values. GET /api/history?repo=R&branch=B returns it as JSON.
type History struct {
	Repo   string         `json:"repo"`
	Branch string         `json:"branch"`
	Points []HistoryPoint `json:"points"`
	// Geomeans: per target and metric, the geomean over benchmarks of
	// value / value at the first point, in percent change (nil where a
	// point has no value).
	Geomeans []Series `json:"geomeans"`
	// Benchmarks: per target, metric and benchmark, the measured values.
	Benchmarks []Series `json:"benchmarks"`
}

// HistoryPoint is one measured revision of the branch.
type HistoryPoint struct {
	// Change is the change whose head (or, for the first point, whose
	// base) this revision is; its page explains the point.
	Change  int64     `json:"change"`
	SHA     string    `json:"sha"`
	Subject string    `json:"subject,omitempty"`
	At      time.Time `json:"at"`
	// Verdict of the change that measured this revision against the
	// previous one ("" for the first point, a base).
	Verdict string `json:"verdict,omitempty"`
	// Accepted: a maintainer accepted this regression (/tcbot accept),
	// who and why.
	Accepted    bool   `json:"accepted,omitempty"`
	AcceptedBy  string `json:"accepted_by,omitempty"`
	AcceptedWhy string `json:"accepted_why,omitempty"`
	// Culprit: a bisection (the newest that found it) found this commit
	// guilty of a regression.
	Culprit   bool  `json:"culprit,omitempty"`
	Bisection int64 `json:"bisection,omitempty"`
}

// Series is one line of a chart: a value per point.
type Series struct {
	Target    string     `json:"target"`
	Metric    string     `json:"metric"`
	Unit      string     `json:"unit"`
	Better    string     `json:"better"`
	Benchmark string     `json:"benchmark,omitempty"`
	Values    []*float64 `json:"values"`
	// Verdicts: per point, what its change found for this series
	// ("regression", "improvement", ...; "" where nothing moved or for
	// the first point). A geomean's is the worst of its benchmarks', or
	// "mixed" when some regressed, others improved, and the geomean went
	// the good way.
	Verdicts []string `json:"verdicts"`
}

// historyLimit bounds the points of a chart.
const historyLimit = 200

type seriesKey struct{ target, metric, bench string }

// history builds the History of a branch from its measured changes.
func (s *Service) history(ctx context.Context, repo, branch string) (*History, error) {
	cs, err := store.BranchHistory(ctx, s.store.Q(), repo, branch, historyLimit)
	if err != nil {
		return nil, err
	}
	h := &History{Repo: repo, Branch: branch, Points: []HistoryPoint{}, Geomeans: []Series{}, Benchmarks: []Series{}}
	accepted, culprits, err := s.marks(ctx, repo)
	if err != nil {
		return nil, err
	}
	var values []map[seriesKey]float64
	var verdicts []map[seriesKey]compare.Verdict
	units := map[seriesKey]string{}
	seen := map[string]int{} // sha -> point index
	add := func(p HistoryPoint, vals map[seriesKey]float64, verds map[seriesKey]compare.Verdict) {
		if a, ok := accepted[p.SHA]; ok {
			p.Accepted, p.AcceptedBy, p.AcceptedWhy = true, a.By, a.Why
		}
		if b, ok := culprits[p.SHA]; ok {
			p.Culprit, p.Bisection = true, b
		}
		if i, ok := seen[p.SHA]; ok {
			// Measured again (a rerun): the newest change tells.
			h.Points[i], values[i], verdicts[i] = p, vals, verds
			return
		}
		seen[p.SHA] = len(h.Points)
		h.Points = append(h.Points, p)
		values = append(values, vals)
		verdicts = append(verdicts, verds)
	}
	for _, c := range cs {
		var rep report.Report
		if json.Unmarshal([]byte(c.Report), &rep) != nil {
			continue
		}
		base, head := map[seriesKey]float64{}, map[seriesKey]float64{}
		verds := map[seriesKey]compare.Verdict{}
		status := map[[2]string]compare.Verdict{} // target, benchmark
		for _, list := range [][]compare.Comparison{rep.Comparisons, rep.Info} {
			for _, cmp := range list {
				if cmp.Metric == result.Status {
					if cmp.Verdict != compare.Unchanged {
						status[[2]string{cmp.Target, cmp.Benchmark}] = cmp.Verdict
					}
					continue
				}
				k := seriesKey{cmp.Target, cmp.Metric, cmp.Benchmark}
				if cmp.Verdict != compare.Unchanged {
					verds[k] = cmp.Verdict
				}
				units[k] = cmp.Unit
				if cmp.Base != nil {
					base[k] = *cmp.Base
				}
				if cmp.Head != nil {
					head[k] = *cmp.Head
				}
			}
		}
		// A benchmark that broke (or was fixed) did so in every metric.
		for k := range head {
			if v, ok := status[[2]string{k.target, k.bench}]; ok {
				verds[k] = worse(verds[k], v)
			}
		}
		if len(h.Points) == 0 {
			add(HistoryPoint{Change: c.ID, SHA: rep.Base, Subject: rep.BaseSubject, At: c.CreatedAt}, base, nil)
		}
		add(HistoryPoint{Change: c.ID, SHA: rep.Head, Subject: rep.HeadSubject, At: c.CreatedAt, Verdict: c.Verdict}, head, verds)
	}
	// Benchmark series, with the last value carried over a point that
	// did not measure it (a target added later stays empty before).
	var keys []seriesKey
	for k := range units {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if a.target != b.target {
			return a.target < b.target
		}
		if a.metric != b.metric {
			return metricOrder(a.metric) < metricOrder(b.metric)
		}
		return a.bench < b.bench
	})
	filled := map[seriesKey][]*float64{}
	for _, k := range keys {
		vs := make([]*float64, len(values))
		var last *float64
		for i, m := range values {
			if v, ok := m[k]; ok {
				v := v
				last = &v
			}
			vs[i] = last
		}
		filled[k] = vs
		vd := make([]string, len(values))
		for i := range verdicts {
			vd[i] = string(verdicts[i][k])
		}
		h.Benchmarks = append(h.Benchmarks, Series{Target: k.target, Metric: k.metric, Benchmark: k.bench, Unit: units[k], Better: result.Better(k.metric, units[k]), Values: vs, Verdicts: vd})
	}
	// Geomeans per target and metric, relative to each benchmark's first
	// value.
	type tm struct{ target, metric string }
	var tms []tm
	byTM := map[tm][]seriesKey{}
	for _, k := range keys {
		t := tm{k.target, k.metric}
		if _, ok := byTM[t]; !ok {
			tms = append(tms, t)
		}
		byTM[t] = append(byTM[t], k)
	}
	for _, t := range tms {
		vs := make([]*float64, len(values))
		vd := make([]string, len(values))
		for i := range values {
			sum, n := 0.0, 0
			var worst compare.Verdict
			nReg, nImp := 0, 0
			for _, k := range byTM[t] {
				v := verdicts[i][k]
				worst = worse(worst, v)
				switch v {
				case compare.Regression, compare.Failed:
					nReg++
				case compare.Improvement, compare.Fixed:
					nImp++
				}
				series := filled[k]
				var first *float64
				for _, v := range series {
					if v != nil {
						first = v
						break
					}
				}
				if first == nil || series[i] == nil || *first <= 0 || *series[i] <= 0 {
					continue
				}
				sum += math.Log(*series[i] / *first)
				n++
			}
			if n > 0 {
				g := (math.Exp(sum/float64(n)) - 1) * 100
				vs[i] = &g
			}
			vd[i] = string(worst)
			if nReg > 0 && nImp > 0 && i > 0 && vs[i] != nil && vs[i-1] != nil {
				// Some benchmarks regressed, others improved: when the
				// geomean still went the good way, the point is mixed.
				up := *vs[i] > *vs[i-1]
				if up == (result.Better(t.metric, units[byTM[t][0]]) == "higher is better") {
					vd[i] = Mixed
				}
			}
		}
		unit := units[byTM[t][0]]
		h.Geomeans = append(h.Geomeans, Series{Target: t.target, Metric: t.metric, Unit: "%", Better: result.Better(t.metric, unit), Values: vs, Verdicts: vd})
	}
	return h, nil
}

// Mixed is a geomean point where some benchmarks regressed and others
// improved, and the geomean went the good way.
const Mixed = "mixed"

// worse is the more severe of two verdicts ("" is none).
func worse(a, b compare.Verdict) compare.Verdict {
	if a == "" || (b != "" && verdictRank(b) < verdictRank(a)) {
		return b
	}
	return a
}

// filter keeps the series of one target and one metric ("": all).
func (h *History) filter(target, metric string) {
	keep := func(ss []Series) []Series {
		out := []Series{}
		for _, s := range ss {
			if (target == "" || s.Target == target) && (metric == "" || s.Metric == metric) {
				out = append(out, s)
			}
		}
		return out
	}
	h.Geomeans, h.Benchmarks = keep(h.Geomeans), keep(h.Benchmarks)
}

// metricOrder puts the verdict metrics first on the dashboard.
func metricOrder(m string) int {
	for i, n := range []string{result.Instructions, result.CodeSize, result.Time, result.CompileTime} {
		if m == n {
			return i
		}
	}
	return 10
}

// marks returns the accepted revisions of repo (the newest acceptance
// of each) and its bisected culprits (the newest bisection of each).
func (s *Service) marks(ctx context.Context, repo string) (accepted map[string]store.Acceptance, culprits map[string]int64, err error) {
	accepted, culprits = map[string]store.Acceptance{}, map[string]int64{}
	as, err := store.Acceptances(ctx, s.store.Q(), repo)
	if err != nil {
		return nil, nil, err
	}
	for _, a := range as {
		if _, ok := accepted[a.SHA]; !ok {
			accepted[a.SHA] = a
		}
	}
	bs, err := store.ListBisections(ctx, s.store.Q(), "repo = ?", 500, repo)
	if err != nil {
		return nil, nil, err
	}
	for _, b := range bs {
		if b.State != store.BisectDone {
			continue
		}
		var res bisect.Result
		if json.Unmarshal([]byte(b.Result), &res) == nil && res.Culprit != nil {
			if _, ok := culprits[res.Culprit.SHA]; !ok {
				culprits[res.Culprit.SHA] = b.ID
			}
		}
	}
	return accepted, culprits, nil
}

// shortRev shortens a full SHA for labels.
func shortRev(s string) string {
	if len(s) > 12 && strings.Trim(s, "0123456789abcdef") == "" {
		return s[:12]
	}
	return s
}
