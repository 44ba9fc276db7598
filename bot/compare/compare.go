// Package compare decides what a change did to the benchmarks: it takes the
// results measured at a base and at a head revision and returns one verdict
// per (target, suite, benchmark, metric), an overall verdict and geometric
// means. It is pure: no I/O, no clock, no randomness; the same inputs always
// give the same Outcome, and it is safe for concurrent use.
//
// # Statistical assumptions
//
// Exact metrics (guest instruction counts under QEMU, code size) are
// assumed deterministic: the same binary run in the same fixed environment
// gives the same value every time, so no statistics are needed and a
// relative threshold decides. Samples of an exact metric that differ are a
// broken measurement (a leaking environment variable, a clock read), reported
// as an error rather than averaged away.
//
// Noisy metrics (wall or CPU time) are assumed to be independent draws from
// one distribution per side and nothing more: no normality, no equal
// variance. The summary is the median and the two sides are compared with
// the two-sided Mann-Whitney U test (benchmath.AssumeNothing), which is exact
// for small samples and handles ties. A test needs at least 2 samples per
// side; with n samples per side the smallest possible p is 2/C(2n, n)
// (0.008 at n = 5), so detection needs about 10 samples per side.
//
// One report makes many tests at once, and a per-test p < 0.05 raises a
// false alarm in most reports (DESIGN.md, "Statistics"). So all noisy,
// non-informational comparisons of one Outcome form one family and the
// Benjamini-Hochberg procedure controls its false discovery rate at
// Options.Q; informational comparisons form a second, separate family. BH
// assumes the tests are independent or positively dependent, which holds for
// separate benchmarks measured on the same hosts. A significant change is
// reported only if its medians also differ by at least Options.MinEffect
// percent: with many samples a real but tiny shift is significant and not
// worth anyone's time.
//
// Status (pass/fail) decides before any number: a benchmark that fails at
// either side has no meaningful measurements, so only its status is
// reported. Missing data is an infrastructure problem (verdict "error"),
// never a regression.
package compare

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"

	"golang.org/x/perf/benchmath"

	"github.com/tcbot/tcbot/bot/result"
)

// Verdict is the outcome of one comparison or of a whole report.
type Verdict string

// Verdicts (DESIGN.md, "Report").
const (
	Regression  Verdict = "regression"
	Improvement Verdict = "improvement"
	Unchanged   Verdict = "unchanged"
	Failed      Verdict = "failed" // works at base, broken at head
	Fixed       Verdict = "fixed"  // broken at base, works at head
	Error       Verdict = "error"  // infrastructure: no usable data
)

// Verdicts lists every valid verdict, most severe first.
var Verdicts = []Verdict{Failed, Regression, Error, Improvement, Fixed, Unchanged}

// Valid reports whether v is one of Verdicts.
func (v Verdict) Valid() bool {
	for _, w := range Verdicts {
		if v == w {
			return true
		}
	}
	return false
}

// ExitCode is the exit status of `tcbot run` and `tcbot compare` for an
// overall verdict: 0 when nothing got worse, 2 for a regression or a
// failure, 1 for an error (and for anything that is not a verdict).
func (v Verdict) ExitCode() int {
	switch v {
	case Unchanged, Improvement, Fixed:
		return 0
	case Regression, Failed:
		return 2
	default:
		return 1
	}
}

// Options tunes the decisions. A zero field takes its default (see
// DefaultOptions), so Options{} behaves like DefaultOptions().
type Options struct {
	// Thresholds is the largest |delta| in percent that an exact metric may
	// move and still be unchanged, by metric name. Metrics not in the map
	// take their default: instructions 0.2, code-size 0.1, any other 0.1.
	// An explicit 0 makes any change count.
	Thresholds map[string]float64
	// MinEffect is the smallest |delta| in percent of the medians for which
	// a significant change of a noisy metric is reported; default 2.
	MinEffect float64
	// Q is the false discovery rate for Benjamini-Hochberg over one
	// report's noisy comparisons; default 0.05.
	Q float64
	// Informational maps a target to metrics that are recorded there for
	// information only (e.g. "time" under qemu-user, where wall time is too
	// noisy to detect anything). Their comparisons go to Outcome.Info and
	// never affect the overall verdict.
	Informational map[string][]string
}

// Default option values.
const (
	DefaultThreshold = 0.1 // percent, exact metrics without their own default
	DefaultMinEffect = 2.0 // percent
	DefaultQ         = 0.05
)

// defaultThresholds are per-metric defaults for exact metrics, in percent.
var defaultThresholds = map[string]float64{
	result.Instructions: 0.2,
	// Whole-system counts per request move by well under 1% between
	// boots of the same kernel (measured: see the README).
	"instructions-per-request": 1.0,
	result.CodeSize:            0.1,
	// A whole system's count around one benchmark run: the benchmark is
	// exact, the kernel's work around it is not (measured: up to 1.07%
	// between runs of one binary in one boot; see the README).
	result.SystemInstructions: 1.0,
}

// DefaultOptions returns the defaults: thresholds instructions 0.2% and
// code-size 0.1% (0.1% for other exact metrics), MinEffect 2%, Q 0.05, no
// informational metrics.
func DefaultOptions() Options {
	th := make(map[string]float64, len(defaultThresholds))
	for k, v := range defaultThresholds {
		th[k] = v
	}
	return Options{Thresholds: th, MinEffect: DefaultMinEffect, Q: DefaultQ}
}

// Threshold returns the threshold in percent for an exact metric.
func (o Options) Threshold(metric string) float64 {
	if t, ok := o.Thresholds[metric]; ok {
		return t
	}
	if t, ok := defaultThresholds[metric]; ok {
		return t
	}
	return DefaultThreshold
}

// IsInformational reports whether metric is informational on target.
func (o Options) IsInformational(target, metric string) bool {
	for _, m := range o.Informational[target] {
		if m == metric {
			return true
		}
	}
	return false
}

func (o Options) withDefaults() Options {
	if o.MinEffect <= 0 || math.IsNaN(o.MinEffect) {
		o.MinEffect = DefaultMinEffect
	}
	if o.Q <= 0 || o.Q > 1 || math.IsNaN(o.Q) {
		o.Q = DefaultQ
	}
	return o
}

// Comparison is the verdict on one metric of one benchmark on one target.
// Base and Head are the exact values or the medians; DeltaPct is
// (head-base)/|base|*100; P is the Mann-Whitney p-value of a noisy metric.
// Each is nil when unknown (no data, base zero, not a statistical test), so
// the JSON holds null rather than a made-up number.
type Comparison struct {
	Target    string   `json:"target"`
	Suite     string   `json:"suite"`
	Benchmark string   `json:"benchmark"`
	Metric    string   `json:"metric"`
	Unit      string   `json:"unit"`
	Base      *float64 `json:"base"`
	Head      *float64 `json:"head"`
	DeltaPct  *float64 `json:"delta_pct"`
	P         *float64 `json:"p"`
	Verdict   Verdict  `json:"verdict"`
	// Note explains the verdict: "wrong checksum", "no baseline",
	// "too few samples (n=1)", "identical binary", ...
	Note  string `json:"note,omitempty"`
	BaseN int    `json:"base_n,omitempty"`
	HeadN int    `json:"head_n,omitempty"`
	// Better says which direction is good: "fewer is better", "lower is
	// better", "higher is better" or "pass is better".
	Better string `json:"better,omitempty"`
}

// Key returns the comparison's result key.
func (c Comparison) Key() result.Key {
	return result.Key{Target: c.Target, Suite: c.Suite, Benchmark: c.Benchmark, Metric: c.Metric}
}

// Exact reports whether the comparison's metric is exact (or status): its
// verdict came from a threshold, not a statistical test.
func (c Comparison) Exact() bool {
	k := metricOf(c.Metric).Kind
	return k == result.Exact || k == result.StatusKind || k == result.Counted
}

// Geomean is the geometric mean of head/base over the comparisons of one
// metric of one suite on one target where both values are positive.
type Geomean struct {
	Target   string  `json:"target"`
	Suite    string  `json:"suite"`
	Metric   string  `json:"metric"`
	Ratio    float64 `json:"ratio"`
	DeltaPct float64 `json:"delta_pct"`
	N        int     `json:"n"`
	Better   string  `json:"better,omitempty"`
}

// Outcome is the result of Compare.
type Outcome struct {
	// Verdict is the overall verdict: failed if anything failed, else
	// regression, else error, else improvement (or fixed), else unchanged.
	Verdict Verdict
	// Comparisons decide the verdict, sorted by target, suite, benchmark,
	// metric.
	Comparisons []Comparison
	// Info holds informational comparisons, sorted the same way.
	Info []Comparison
	// Geomeans are sorted by target, suite, metric.
	Geomeans []Geomean
}

// metricOf describes a metric; an unknown metric is noisy and lower is
// better, the cautious choice for a number nobody described.
func metricOf(name string) result.Metric {
	if m, ok := result.LookupMetric(name); ok {
		return m
	}
	return result.Metric{Name: name, Kind: result.Noisy}
}

// side is all results of one key at one revision. Duplicates (a key
// measured by several runs, e.g. a confirmation run) are merged: their
// samples pooled.
type side struct {
	unit      string
	note      string
	samples   []float64
	identical bool
}

func index(rs []result.Result) map[result.Key]*side {
	m := make(map[result.Key]*side, len(rs))
	for _, r := range rs {
		k := r.Key()
		s, ok := m[k]
		if !ok {
			s = &side{identical: true}
			m[k] = s
		}
		if s.unit == "" {
			s.unit = r.Unit
		}
		if s.note == "" {
			s.note = r.Note
		}
		s.samples = append(s.samples, r.Samples...)
		s.identical = s.identical && r.Identical
	}
	return m
}

// benchKey identifies one benchmark on one target.
type benchKey struct{ target, suite, benchmark string }

func benchOf(k result.Key) benchKey { return benchKey{k.Target, k.Suite, k.Benchmark} }

// test is a noisy comparison that was tested, by its place in the Outcome.
type test struct {
	info   bool
	i      int
	p      float64
	higher bool
}

// pending is a noisy comparison waiting for Benjamini-Hochberg.
type pending struct {
	c      *Comparison
	p      float64
	higher bool // higher is better
}

// Compare compares head results against base results. See the package
// documentation for the rules.
func Compare(base, head []result.Result, opt Options) Outcome {
	opt = opt.withDefaults()
	bs, hs := index(base), index(head)

	keys := make([]result.Key, 0, len(bs)+len(hs))
	for k := range bs {
		keys = append(keys, k)
	}
	for k := range hs {
		if _, ok := bs[k]; !ok {
			keys = append(keys, k)
		}
	}
	sortKeys(keys)

	// Status first: a benchmark failing at either side has no other
	// comparisons.
	status := make(map[result.Key]*Comparison)
	suppressed := make(map[benchKey]bool)
	for _, k := range keys {
		if metricOf(k.Metric).Kind != result.StatusKind {
			continue
		}
		c, suppress := compareStatus(k, bs[k], hs[k])
		if c != nil {
			status[k] = c
		}
		if suppress {
			suppressed[benchOf(k)] = true
		}
	}

	var out Outcome
	// Tests are recorded by index: the slices still grow, so pointers into
	// them would go stale.
	var tests []test
	for _, k := range keys {
		m := metricOf(k.Metric)
		var c Comparison
		var p *float64
		if m.Kind == result.StatusKind {
			sc, ok := status[k]
			if !ok {
				continue
			}
			c = *sc
		} else {
			if suppressed[benchOf(k)] {
				continue
			}
			c, p = measure(k, m, bs[k], hs[k], opt)
		}
		t := test{info: opt.IsInformational(k.Target, k.Metric), higher: m.HigherIsBetter}
		if t.info {
			out.Info = append(out.Info, c)
			t.i = len(out.Info) - 1
		} else {
			out.Comparisons = append(out.Comparisons, c)
			t.i = len(out.Comparisons) - 1
		}
		if p != nil {
			t.p = *p
			tests = append(tests, t)
		}
	}
	var verdictFamily, infoFamily []pending
	for _, t := range tests {
		if t.info {
			infoFamily = append(infoFamily, pending{c: &out.Info[t.i], p: t.p, higher: t.higher})
		} else {
			verdictFamily = append(verdictFamily, pending{c: &out.Comparisons[t.i], p: t.p, higher: t.higher})
		}
	}
	decideNoisy(verdictFamily, opt)
	decideNoisy(infoFamily, opt)

	out.Geomeans = geomeans(out.Comparisons, out.Info)
	out.Verdict = overall(out.Comparisons)
	return out
}

func sortKeys(keys []result.Key) {
	sort.Slice(keys, func(i, j int) bool { return keys[i].Less(keys[j]) })
}

func newComparison(k result.Key, m result.Metric, b, h *side) Comparison {
	c := Comparison{Target: k.Target, Suite: k.Suite, Benchmark: k.Benchmark, Metric: k.Metric, Verdict: Unchanged}
	switch {
	case h != nil && h.unit != "":
		c.Unit = h.unit
	case b != nil && b.unit != "":
		c.Unit = b.unit
	default:
		c.Unit = m.Unit
	}
	if b != nil {
		c.BaseN = len(b.samples)
	}
	if h != nil {
		c.HeadN = len(h.samples)
	}
	c.Better = result.Better(c.Metric, c.Unit)
	return c
}

// statusState is what one side's status samples say.
type statusState int

const (
	stMissing statusState = iota
	stEmpty
	stInvalid
	stPass
	stFail
)

func statusOf(s *side) (statusState, float64) {
	if s == nil {
		return stMissing, 0
	}
	if len(s.samples) == 0 {
		return stEmpty, 0
	}
	st := stPass
	for _, v := range s.samples {
		switch v {
		case result.Pass:
		case result.Fail:
			st = stFail
		default:
			return stInvalid, v
		}
	}
	return st, 0
}

// compareStatus returns the status comparison to emit (nil for none) and
// whether the benchmark's other metrics must be left out.
func compareStatus(k result.Key, b, h *side) (*Comparison, bool) {
	m := metricOf(k.Metric)
	c := newComparison(k, m, b, h)
	bst, bbad := statusOf(b)
	hst, hbad := statusOf(h)
	val := func(st statusState) *float64 {
		switch st {
		case stPass:
			return ptr(result.Pass)
		case stFail:
			return ptr(result.Fail)
		}
		return nil
	}
	c.Base, c.Head = val(bst), val(hst)
	headNote := func() string {
		if h.note != "" {
			return h.note
		}
		return "fails at head"
	}

	switch {
	case hst == stMissing:
		c.Verdict, c.Note = Error, "missing at head"
		return &c, false
	case bst == stEmpty || hst == stEmpty:
		c.Verdict, c.Note = Error, noSamples(bst == stEmpty, hst == stEmpty)
		return &c, false
	case bst == stInvalid:
		c.Verdict, c.Note = Error, fmt.Sprintf("invalid status sample %s at base (want 0 or 1)", num(bbad))
		return &c, false
	case hst == stInvalid:
		c.Verdict, c.Note = Error, fmt.Sprintf("invalid status sample %s at head (want 0 or 1)", num(hbad))
		return &c, false
	case bst == stMissing && hst == stPass:
		c.Verdict, c.Note = Unchanged, "no baseline"
		return &c, false
	case bst == stMissing && hst == stFail:
		// A new benchmark that is broken at head is still broken by the
		// head: hiding it as "no baseline" would let it merge unseen.
		c.Verdict, c.Note = Failed, "no baseline; "+headNote()
		return &c, true
	case bst == stPass && hst == stPass:
		return nil, false
	case bst == stPass && hst == stFail:
		c.Verdict, c.Note = Failed, headNote()
		return &c, true
	case bst == stFail && hst == stPass:
		c.Verdict = Fixed
		if b.note != "" {
			c.Note = "at base: " + b.note
		}
		return &c, true
	default: // fail, fail
		c.Verdict, c.Note = Unchanged, "fails at base and head"
		return &c, true
	}
}

func noSamples(base, head bool) string {
	switch {
	case base && head:
		return "no samples at base and head"
	case base:
		return "no samples at base"
	default:
		return "no samples at head"
	}
}

// summarize returns the value that stands for one side's samples: the
// exact value or the median. A non-empty problem means there is none.
func summarize(kind result.Kind, samples []float64) (v float64, problem string) {
	for _, x := range samples {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return 0, "non-finite sample " + num(x)
		}
	}
	if kind == result.Exact {
		lo, hi := samples[0], samples[0]
		for _, x := range samples[1:] {
			lo, hi = math.Min(lo, x), math.Max(hi, x)
		}
		if lo != hi {
			return 0, fmt.Sprintf("exact metric varied between runs: %s..%s", num(lo), num(hi))
		}
		return lo, ""
	}
	return median(samples), ""
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	// Halve first so two huge values cannot overflow.
	return s[n/2-1]/2 + s[n/2]/2
}

// measure compares an exact or noisy metric. For a noisy metric that was
// tested it also returns the p-value; the verdict is then decided later,
// over the whole family.
func measure(k result.Key, m result.Metric, b, h *side, opt Options) (Comparison, *float64) {
	c := newComparison(k, m, b, h)

	var bv float64
	var bok bool
	var bproblem string
	if b != nil && len(b.samples) > 0 {
		bv, bproblem = summarize(m.Kind, b.samples)
		bok = bproblem == ""
		if bok {
			c.Base = ptr(bv)
		}
	}

	if h == nil {
		c.Verdict, c.Note = Error, "missing at head"
		return c, nil
	}
	if b != nil && len(b.samples) == 0 {
		c.Verdict, c.Note = Error, noSamples(true, len(h.samples) == 0)
		return c, nil
	}
	if bproblem != "" {
		c.Verdict, c.Note = Error, bproblem+" at base"
		return c, nil
	}

	if b != nil && h.identical {
		// The head binary is byte-identical to the base's, so its run
		// metrics were copied rather than measured: nothing can differ.
		hv := bv
		if len(h.samples) > 0 {
			var problem string
			if hv, problem = summarize(m.Kind, h.samples); problem != "" {
				c.Verdict, c.Note = Error, problem+" at head"
				return c, nil
			}
		}
		c.Head = ptr(hv)
		c.DeltaPct = deltaPct(bv, hv)
		c.Verdict, c.Note = Unchanged, "identical binary"
		return c, nil
	}

	if len(h.samples) == 0 {
		c.Verdict, c.Note = Error, noSamples(false, true)
		return c, nil
	}
	hv, problem := summarize(m.Kind, h.samples)
	if problem != "" {
		c.Verdict, c.Note = Error, problem+" at head"
		return c, nil
	}
	c.Head = ptr(hv)

	if b == nil {
		c.Verdict, c.Note = Unchanged, "no baseline"
		return c, nil
	}
	c.DeltaPct = deltaPct(bv, hv)

	if m.Kind == result.Exact {
		c.Verdict = decideExact(bv, hv, c.DeltaPct, opt.Threshold(k.Metric), m.HigherIsBetter)
		return c, nil
	}
	if m.Kind == result.Counted {
		c.Verdict = decideExact(bv, hv, c.DeltaPct, opt.Threshold(k.Metric), m.HigherIsBetter)
		if c.Verdict != Unchanged && overlap(b.samples, h.samples) {
			c.Verdict = Unchanged
			c.Note = "within the spread of the samples"
		}
		return c, nil
	}

	if n := min(len(b.samples), len(h.samples)); n < 2 {
		c.Verdict, c.Note = Unchanged, fmt.Sprintf("too few samples (n=%d)", n)
		return c, nil
	}
	p := uTest(b.samples, h.samples)
	c.P = ptr(p)
	return c, &p
}

// deltaPct is (h-b)/|b| in percent: 0 when both are 0, nil when b is 0
// alone or the result is not a finite number.
func deltaPct(b, h float64) *float64 {
	if b == 0 {
		if h == 0 {
			return ptr(0)
		}
		return nil
	}
	d := (h - b) / math.Abs(b) * 100
	if math.IsNaN(d) || math.IsInf(d, 0) {
		return nil
	}
	return &d
}

// direction is the verdict for a change from b to h that matters.
func direction(b, h float64, higherIsBetter bool) Verdict {
	if (h > b) == higherIsBetter {
		return Improvement
	}
	return Regression
}

// overlap reports whether the ranges of two sets of samples overlap.
func overlap(a, b []float64) bool {
	alo, ahi := slices.Min(a), slices.Max(a)
	blo, bhi := slices.Min(b), slices.Max(b)
	return alo <= bhi && blo <= ahi
}

func decideExact(b, h float64, delta *float64, threshold float64, higherIsBetter bool) Verdict {
	if b == h {
		return Unchanged
	}
	if delta != nil && math.Abs(*delta) <= threshold {
		return Unchanged
	}
	return direction(b, h, higherIsBetter)
}

// uTest is the two-sided Mann-Whitney U p-value. benchmath returns p = 1
// when the test cannot run (all values equal); anything outside [0, 1] is
// clamped so a rounding slip cannot leak out.
func uTest(b, h []float64) float64 {
	// NewSample sorts in place: copy so the caller's results stay as they
	// were.
	s1 := benchmath.NewSample(append([]float64(nil), b...), &benchmath.DefaultThresholds)
	s2 := benchmath.NewSample(append([]float64(nil), h...), &benchmath.DefaultThresholds)
	p := benchmath.AssumeNothing.Compare(s1, s2).P
	switch {
	case math.IsNaN(p) || p > 1:
		return 1
	case p < 0:
		return 0
	}
	return p
}

// decideNoisy applies Benjamini-Hochberg over one family of tests and sets
// each verdict.
func decideNoisy(family []pending, opt Options) {
	ps := make([]float64, len(family))
	for i, t := range family {
		ps[i] = t.p
	}
	sig := BenjaminiHochberg(ps, opt.Q)
	for i, t := range family {
		c := t.c
		c.Verdict = Unchanged
		if !sig[i] {
			continue
		}
		b, h := *c.Base, *c.Head
		if b == h {
			continue
		}
		if c.DeltaPct != nil && math.Abs(*c.DeltaPct) < opt.MinEffect {
			continue
		}
		c.Verdict = direction(b, h, t.higher)
	}
}

// BenjaminiHochberg reports which of the p-values are rejected (significant)
// when the false discovery rate of the whole family is held at q: sort
// ascending, find the largest rank k with p(k) <= k/m*q, reject ranks 1..k.
func BenjaminiHochberg(ps []float64, q float64) []bool {
	m := len(ps)
	order := make([]int, m)
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(i, j int) bool { return ps[order[i]] < ps[order[j]] })
	k := -1
	for r := m - 1; r >= 0; r-- {
		if ps[order[r]] <= float64(r+1)/float64(m)*q {
			k = r
			break
		}
	}
	rejected := make([]bool, m)
	for r := 0; r <= k; r++ {
		rejected[order[r]] = true
	}
	return rejected
}

type geoKey struct{ target, suite, metric string }

func geomeans(lists ...[]Comparison) []Geomean {
	type acc struct {
		sum float64
		n   int
	}
	sums := make(map[geoKey]*acc)
	for _, cs := range lists {
		for _, c := range cs {
			if metricOf(c.Metric).Kind == result.StatusKind || c.Verdict == Error {
				continue
			}
			if c.Base == nil || c.Head == nil || *c.Base <= 0 || *c.Head <= 0 {
				continue
			}
			k := geoKey{c.Target, c.Suite, c.Metric}
			a, ok := sums[k]
			if !ok {
				a = &acc{}
				sums[k] = a
			}
			// log(h) - log(b), not log(h/b): the ratio of two finite
			// numbers can overflow, their logs cannot.
			a.sum += math.Log(*c.Head) - math.Log(*c.Base)
			a.n++
		}
	}
	var gs []Geomean
	for k, a := range sums {
		r := math.Exp(a.sum / float64(a.n))
		if math.IsInf(r, 0) || math.IsNaN(r) || r == 0 {
			continue
		}
		gs = append(gs, Geomean{Target: k.target, Suite: k.suite, Metric: k.metric, Ratio: r, DeltaPct: (r - 1) * 100, N: a.n, Better: result.Better(k.metric, metricUnit(k.metric))})
	}
	sort.Slice(gs, func(i, j int) bool {
		a, b := gs[i], gs[j]
		if a.Target != b.Target {
			return a.Target < b.Target
		}
		if a.Suite != b.Suite {
			return a.Suite < b.Suite
		}
		return a.Metric < b.Metric
	})
	return gs
}

// overall folds comparison verdicts into one, most severe first: a failure
// outranks a regression, and both outrank an infrastructure error so that
// a real finding is never hidden behind a flaky worker.
func overall(cs []Comparison) Verdict {
	seen := make(map[Verdict]bool)
	for _, c := range cs {
		seen[c.Verdict] = true
	}
	switch {
	case seen[Failed]:
		return Failed
	case seen[Regression]:
		return Regression
	case seen[Error]:
		return Error
	case seen[Improvement] || seen[Fixed]:
		return Improvement
	}
	return Unchanged
}

func ptr(v float64) *float64 { return &v }

// num formats a sample for a note: in full, without an exponent, so two
// instruction counts that differ by a few read as different.
func num(v float64) string {
	if a := math.Abs(v); a >= 1e-6 && a < 1e21 {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// Redecide decides the noisy comparisons of cs (and, as their own family,
// of info) again with Benjamini-Hochberg over all of them, as Compare does
// over one report. It is for comparisons made in parts — each target by
// its own job, perhaps on its own host — and joined into one report: the
// false discovery rate then holds per report again, not per part. Exact
// and status comparisons, and noisy ones without a p-value (too few
// samples, identical binaries, errors), keep their verdicts. It returns
// the overall verdict of cs.
func Redecide(cs, info []Comparison, opt Options) Verdict {
	opt = opt.withDefaults()
	for _, list := range [][]Comparison{cs, info} {
		var family []pending
		for i := range list {
			c := &list[i]
			m := metricOf(c.Metric)
			if c.P == nil || m.Kind == result.Exact || m.Kind == result.StatusKind || c.Base == nil || c.Head == nil {
				continue
			}
			family = append(family, pending{c: c, p: *c.P, higher: m.HigherIsBetter})
		}
		decideNoisy(family, opt)
	}
	return overall(cs)
}

// metricUnit is the unit of a known metric, "" otherwise.
func metricUnit(name string) string {
	m, _ := result.LookupMetric(name)
	return m.Unit
}
