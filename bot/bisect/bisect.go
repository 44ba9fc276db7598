// Package bisect finds the commit that brought a regression: given a good
// and a bad revision of one repository, it measures commits of the
// first-parent range between them until one commit is bad and its parent
// good, then verifies that culprit against its parent.
//
// It knows nothing of how a commit is measured: Options.Measure compares a
// revision with a baseline and returns the report (`tcbot bisect` measures
// in-process; the service queues each probe as a change its workers
// measure). Measurements are stored by the measurer, so a bisection that
// is run again (after a crash, or on an overlapping range) reuses them.
//
// Guarantees:
//   - A commit is classified by the same comparison as a report: it is
//     bad when, compared with the good revision, it shows the regression
//     being bisected (the primary comparison) with the same verdict.
//   - A commit whose benchmark does not build or run is skipped and named,
//     like `git bisect skip`; when skipped commits hide the culprit the
//     result is the range, never a guess.
//   - An infrastructure error stops the bisection with an error: it never
//     makes a commit good or bad.
//   - With k probes per round (Options.Parallel), each round cuts the
//     interval into k+1 parts (Pinpoint's k-ary search).
//   - The culprit is compared with its parent; unless that comparison
//     shows the same regression (same benchmark, same direction, a size
//     between half and twice the whole range's), the result is "not
//     reproducible", not a commit.
//   - A culprit that is a merge is bisected into: the merged branch is
//     searched from its merge base.
package bisect

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"

	"github.com/tcbot/tcbot/bot/compare"
	"github.com/tcbot/tcbot/bot/report"
	"github.com/tcbot/tcbot/bot/result"
	"github.com/tcbot/tcbot/bot/source"
)

// Outcome is what a bisection concluded.
type Outcome string

const (
	// Culprit: one commit brought the regression, verified against its
	// parent.
	Culprit Outcome = "culprit"
	// Range: skipped commits (which do not build or run) hide the
	// culprit; it is one of Result.Range.
	Range Outcome = "range"
	// NotReproducible: the commit bisection ended on does not show the
	// regression against its parent (noise, or a regression made of
	// several commits).
	NotReproducible Outcome = "not-reproducible"
	// Nothing: the bad revision does not regress against the good one.
	Nothing Outcome = "nothing-to-bisect"
)

// State of a probed commit.
type State string

const (
	Good State = "good"
	Bad  State = "bad"
	Skip State = "skip"
)

// MeasureFunc measures rev against base (reusing stored measurements) and
// returns the report. An error is an infrastructure problem.
type MeasureFunc func(ctx context.Context, rev, base string) (*report.Report, error)

// Options describe one bisection.
type Options struct {
	Repo string
	// Good and Bad are revisions; Good must be a first-parent ancestor of
	// Bad.
	Good, Bad string
	// Target, Benchmark and Metric narrow the regression bisected (empty:
	// the largest regression between Good and Bad).
	Target, Benchmark, Metric string
	// Parallel is the number of commits measured at once per round
	// (default 1: plain binary search).
	Parallel int
	Mirror   *source.Mirror
	Measure  MeasureFunc
	// Reproduce makes the command that reproduces a comparison of head
	// against base on a user's machine.
	Reproduce func(base, head, target string) string
	// Progress, when set, is told of every finished round.
	Progress func(Progress)
	// Primary, when set, is the comparison to bisect (Target, Suite,
	// Benchmark, Metric); used when bisecting into a merge.
	Primary *result.Key
}

// Progress is where a bisection stands after a round.
type Progress struct {
	Round     int
	Remaining int // commits still between the last good and first bad
	Steps     []Step
}

// Step is one probed commit.
type Step struct {
	Round   int    `json:"round"`
	SHA     string `json:"sha"`
	Subject string `json:"subject"`
	State   State  `json:"state"`
	// Value and DeltaPct are the primary comparison's head value and its
	// change against the good revision.
	Value    *float64        `json:"value,omitempty"`
	DeltaPct *float64        `json:"delta_pct,omitempty"`
	Verdict  compare.Verdict `json:"verdict,omitempty"`
	// Why says why a commit was skipped.
	Why string `json:"why,omitempty"`
}

// Commit names a commit in a result.
type Commit struct {
	SHA     string `json:"sha"`
	Subject string `json:"subject"`
	Author  string `json:"author,omitempty"`
}

// Result is a finished bisection.
type Result struct {
	Repo    string  `json:"repo"`
	Good    Commit  `json:"good"`
	Bad     Commit  `json:"bad"`
	Outcome Outcome `json:"outcome"`
	// Primary is the comparison bisected: the largest regression between
	// Good and Bad (or the one the options named).
	Primary *compare.Comparison `json:"primary,omitempty"`
	// Regressed are every regression between Good and Bad.
	Regressed []compare.Comparison `json:"regressed,omitempty"`
	// Culprit and Parent: the commit that brought the regression and the
	// one it was verified against (also set, unverified, for
	// NotReproducible).
	Culprit *Commit `json:"culprit,omitempty"`
	Parent  *Commit `json:"parent,omitempty"`
	// Verification is the culprit's comparison with its parent: the
	// regressions it reproduces on each benchmark and target.
	Verification []compare.Comparison `json:"verification,omitempty"`
	// Range holds the candidates when skipped commits hide the culprit:
	// the skipped commits and the first bad one.
	Range []Commit `json:"range,omitempty"`
	// Skipped are the commits that did not build or run.
	Skipped []Step `json:"skipped,omitempty"`
	// Merge is the merge commit bisected into, when the culprit came from
	// a merged branch.
	Merge *Commit `json:"merge,omitempty"`
	Steps []Step  `json:"steps"`
	// Rounds of measurements, Commits in the range, Probed of them.
	Rounds  int `json:"rounds"`
	Commits int `json:"commits"`
	Probed  int `json:"probed"`
	// Note explains a Nothing or NotReproducible outcome.
	Note string `json:"note,omitempty"`
	// Reproduce is the command that reproduces the culprit's comparison.
	Reproduce string `json:"reproduce,omitempty"`
}

// errInfra marks infrastructure problems met while probing (Nothing is an
// outcome, not an error).
var errInfra = errors.New("infrastructure")

// Run bisects.
func Run(ctx context.Context, o Options) (*Result, error) {
	if o.Measure == nil || o.Mirror == nil {
		return nil, fmt.Errorf("bisect: Measure and Mirror are required")
	}
	if o.Parallel < 1 {
		o.Parallel = 1
	}
	good, err := o.Mirror.Resolve(ctx, o.Good)
	if err != nil {
		return nil, fmt.Errorf("--good: %w", err)
	}
	bad, err := o.Mirror.Resolve(ctx, o.Bad)
	if err != nil {
		return nil, fmt.Errorf("--bad: %w", err)
	}
	if good.SHA == bad.SHA {
		return nil, fmt.Errorf("--good and --bad are the same commit %s: nothing to search", short(good.SHA))
	}
	chain, err := o.Mirror.FirstParents(good.SHA, bad.SHA, 0)
	if err != nil {
		return nil, err
	}
	res := &Result{Repo: o.Repo, Good: commitOf(good), Bad: commitOf(bad), Commits: len(chain)}
	b := &bisector{o: o, res: res, good: good.SHA}

	// Round 1: the whole range, which names the regression to bisect.
	b.round++
	rep, err := o.Measure(ctx, bad.SHA, good.SHA)
	if err != nil {
		return nil, fmt.Errorf("measuring %s against %s: %w", short(bad.SHA), short(good.SHA), err)
	}
	if rep.Verdict == compare.Error {
		return nil, fmt.Errorf("measuring %s against %s: %w: %s", short(bad.SHA), short(good.SHA), errInfra, strings.Join(rep.Errors, "; "))
	}
	res.Regressed = regressions(rep, o)
	if o.Primary != nil {
		if c, ok := find(rep, *o.Primary); ok && (c.Verdict == compare.Regression || c.Verdict == compare.Failed) {
			res.Primary = &c
		}
	} else if len(res.Regressed) > 0 {
		res.Primary = &res.Regressed[0]
	}
	res.Probed = 1
	res.Steps = append(res.Steps, b.step(chain[len(chain)-1], rep))
	b.progress(len(chain) - 1)
	if res.Primary == nil {
		res.Outcome = Nothing
		res.Note = fmt.Sprintf("%s does not regress against %s%s: nothing to bisect (verdict %s).", short(bad.SHA), short(good.SHA), o.narrowed(), rep.Verdict)
		res.Rounds = b.round
		return res, nil
	}
	res.Steps[0].State = Bad

	// The search: index 0 is good (the Good revision, before chain[0]),
	// index len(chain) is the bad revision.
	states := map[int]State{0: Good, len(chain): Bad}
	at := func(i int) source.Commit {
		if i == 0 {
			return good
		}
		return chain[i-1]
	}
	for {
		lo, hi := bounds(states, len(chain))
		var open []int
		for i := lo + 1; i < hi; i++ {
			if states[i] == "" {
				open = append(open, i)
			}
		}
		if len(open) == 0 {
			break
		}
		picks := spread(open, o.Parallel)
		b.round++
		steps := make([]Step, len(picks))
		errs := make([]error, len(picks))
		var wg sync.WaitGroup
		for j, i := range picks {
			wg.Add(1)
			go func(j int, c source.Commit) {
				defer wg.Done()
				rep, err := o.Measure(ctx, c.SHA, good.SHA)
				if err != nil {
					errs[j] = fmt.Errorf("measuring %s against %s: %w", short(c.SHA), short(good.SHA), err)
					return
				}
				if rep.Verdict == compare.Error && !b.brokenOnly(rep) {
					errs[j] = fmt.Errorf("measuring %s against %s: %w: %s", short(c.SHA), short(good.SHA), errInfra, strings.Join(rep.Errors, "; "))
					return
				}
				steps[j] = b.step(c, rep)
			}(j, at(i))
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return nil, err
		}
		for j, i := range picks {
			states[i] = steps[j].State
			res.Steps = append(res.Steps, steps[j])
			if steps[j].State == Skip {
				res.Skipped = append(res.Skipped, steps[j])
			}
		}
		res.Probed += len(picks)
		lo, hi = bounds(states, len(chain))
		b.progress(hi - lo - 1)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	res.Rounds = b.round
	lo, hi := bounds(states, len(chain))
	culprit, parent := at(hi), at(lo)
	if hi-lo > 1 {
		res.Outcome = Range
		for i := lo + 1; i <= hi; i++ {
			res.Range = append(res.Range, commitOf(at(i)))
		}
		res.Parent = ptr(commitOf(parent))
		res.Note = fmt.Sprintf("%d commit(s) before %s do not build or run, so the culprit is one of %d commits after %s.", hi-lo-1, short(culprit.SHA), hi-lo, short(parent.SHA))
		res.Reproduce = b.reproduce(parent.SHA, culprit.SHA)
		return res, nil
	}
	if err := b.verify(ctx, culprit, parent); err != nil {
		return nil, err
	}
	if res.Outcome == Culprit && len(culprit.Parents) > 1 {
		if err := b.intoMerge(ctx, culprit); err != nil {
			return nil, err
		}
	}
	return res, nil
}

type bisector struct {
	o     Options
	res   *Result
	good  string
	round int
}

func (b *bisector) progress(remaining int) {
	if b.o.Progress != nil {
		b.o.Progress(Progress{Round: b.round, Remaining: remaining, Steps: append([]Step(nil), b.res.Steps...)})
	}
}

func (o Options) narrowed() string {
	var f []string
	for _, kv := range [][2]string{{"target", o.Target}, {"benchmark", o.Benchmark}, {"metric", o.Metric}} {
		if kv[1] != "" {
			f = append(f, kv[0]+" "+kv[1])
		}
	}
	if len(f) == 0 {
		return ""
	}
	return " on " + strings.Join(f, ", ")
}

// brokenOnly: a report whose only problem is that the head does not build
// is a skip, not an infrastructure error.
func (b *bisector) brokenOnly(rep *report.Report) bool {
	p := b.res.Primary
	if p == nil {
		return false
	}
	c, ok := find(rep, p.Key())
	return ok && c.Verdict == compare.Failed
}

// step classifies a commit by the primary comparison of its report against
// the good revision.
func (b *bisector) step(c source.Commit, rep *report.Report) Step {
	s := Step{Round: b.round, SHA: c.SHA, Subject: c.Subject}
	p := b.res.Primary
	if p == nil {
		return s
	}
	cmp, ok := find(rep, p.Key())
	switch {
	case !ok && rep.Verdict == compare.Unchanged && len(rep.Comparisons) == 0:
		// Nothing was measured because nothing can differ (a compiler
		// byte-identical to the good revision's): as good as it.
		zero := 0.0
		s.State, s.DeltaPct, s.Verdict = Good, &zero, compare.Unchanged
		if len(rep.Notes) > 0 {
			s.Why = rep.Notes[0]
		}
		return s
	case !ok:
		s.State, s.Why = Skip, fmt.Sprintf("no %s %s result on %s", p.Benchmark, p.Metric, p.Target)
		return s
	}
	s.Value, s.DeltaPct, s.Verdict = cmp.Head, cmp.DeltaPct, cmp.Verdict
	switch {
	case cmp.Verdict == p.Verdict:
		s.State = Bad
	case cmp.Verdict == compare.Failed:
		// Broken while bisecting something else: it says nothing.
		s.State, s.Why = Skip, "does not build or run: "+firstNonEmpty(cmp.Note, "failed")
	default:
		s.State = Good
	}
	return s
}

// verify compares the culprit with its parent.
func (b *bisector) verify(ctx context.Context, culprit, parent source.Commit) error {
	res, p := b.res, b.res.Primary
	res.Culprit, res.Parent = ptr(commitOf(culprit)), ptr(commitOf(parent))
	res.Reproduce = b.reproduce(parent.SHA, culprit.SHA)
	rep, err := b.o.Measure(ctx, culprit.SHA, parent.SHA)
	if err != nil {
		return fmt.Errorf("verifying %s against its parent %s: %w", short(culprit.SHA), short(parent.SHA), err)
	}
	if rep.Verdict == compare.Error {
		return fmt.Errorf("verifying %s against its parent %s: %w: %s", short(culprit.SHA), short(parent.SHA), errInfra, strings.Join(rep.Errors, "; "))
	}
	for _, c := range rep.Comparisons {
		if c.Verdict == compare.Regression || c.Verdict == compare.Failed {
			res.Verification = append(res.Verification, c)
		}
	}
	sortBySize(res.Verification)
	c, ok := find(rep, p.Key())
	switch {
	case !ok:
		res.Outcome, res.Note = NotReproducible, fmt.Sprintf("%s has no %s %s result on %s against its parent.", short(culprit.SHA), p.Benchmark, p.Metric, p.Target)
	case c.Verdict != p.Verdict:
		res.Outcome, res.Note = NotReproducible, fmt.Sprintf("%s against its parent %s: %s %s on %s is %s%s, while the range regressed by %s: the regression is not reproducible (noise, or several commits together).", short(culprit.SHA), short(parent.SHA), p.Benchmark, p.Metric, p.Target, c.Verdict, pct(c.DeltaPct), pct(p.DeltaPct))
	case p.Verdict == compare.Regression && !similar(c.DeltaPct, p.DeltaPct):
		res.Outcome, res.Note = NotReproducible, fmt.Sprintf("%s against its parent %s: %s %s on %s moves by%s, while the whole range moved by%s: not the same regression (several commits contribute).", short(culprit.SHA), short(parent.SHA), p.Benchmark, p.Metric, p.Target, pct(c.DeltaPct), pct(p.DeltaPct))
	default:
		res.Outcome = Culprit
	}
	return nil
}

// intoMerge bisects the branch a culprit merge brought in: from the merge
// base of its parents to its second parent, with the same primary
// comparison. If that branch alone does not regress, the merge itself
// (the combination) stays the culprit.
func (b *bisector) intoMerge(ctx context.Context, merge source.Commit) error {
	mb, err := b.o.Mirror.MergeBase(merge.Parents[0], merge.Parents[1])
	if err != nil {
		return err
	}
	if mb == merge.Parents[1] {
		return nil
	}
	key := b.res.Primary.Key()
	o := b.o
	o.Good, o.Bad, o.Primary, o.Progress = mb, merge.Parents[1], &key, nil
	sub, err := Run(ctx, o)
	if err != nil {
		return fmt.Errorf("bisecting into merge %s: %w", short(merge.SHA), err)
	}
	b.res.Rounds += sub.Rounds
	b.res.Probed += sub.Probed
	b.res.Steps = append(b.res.Steps, sub.Steps...)
	b.res.Skipped = append(b.res.Skipped, sub.Skipped...)
	if sub.Outcome != Culprit && sub.Outcome != Range {
		b.res.Note = fmt.Sprintf("the branch merged by %s does not regress on its own (%s): the merge itself is the culprit.", short(merge.SHA), sub.Outcome)
		return nil
	}
	b.res.Merge = ptr(commitOf(merge))
	b.res.Outcome, b.res.Culprit, b.res.Parent, b.res.Range = sub.Outcome, sub.Culprit, sub.Parent, sub.Range
	b.res.Verification, b.res.Reproduce, b.res.Note = sub.Verification, sub.Reproduce, sub.Note
	return nil
}

func (b *bisector) reproduce(base, head string) string {
	if b.o.Reproduce == nil {
		return ""
	}
	return b.o.Reproduce(base, head, b.res.Primary.Target)
}

// bounds returns the last good index before the first bad one.
func bounds(states map[int]State, n int) (lo, hi int) {
	hi = n
	for i, s := range states {
		if s == Bad && i < hi {
			hi = i
		}
	}
	for i, s := range states {
		if s == Good && i < hi && i > lo {
			lo = i
		}
	}
	return lo, hi
}

// spread picks k indices of open evenly spaced, cutting it into k+1 parts.
func spread(open []int, k int) []int {
	if k >= len(open) {
		return append([]int(nil), open...)
	}
	var out []int
	seen := map[int]bool{}
	for j := 1; j <= k; j++ {
		i := int(math.Round(float64(j*(len(open)+1))/float64(k+1))) - 1
		i = max(0, min(len(open)-1, i))
		if !seen[i] {
			seen[i] = true
			out = append(out, open[i])
		}
	}
	return out
}

// regressions are the report's regressions (and failures) matching the
// options' filters, largest first.
func regressions(rep *report.Report, o Options) []compare.Comparison {
	var out []compare.Comparison
	for _, c := range rep.Comparisons {
		if c.Verdict != compare.Regression && c.Verdict != compare.Failed {
			continue
		}
		if (o.Target != "" && c.Target != o.Target) || (o.Benchmark != "" && c.Benchmark != o.Benchmark) || (o.Metric != "" && c.Metric != o.Metric) {
			continue
		}
		out = append(out, c)
	}
	sortBySize(out)
	return out
}

// sortBySize: failures first, then the largest regressions.
func sortBySize(cs []compare.Comparison) {
	size := func(c compare.Comparison) float64 {
		if c.Verdict == compare.Failed {
			return math.Inf(1)
		}
		if c.DeltaPct == nil {
			return 0
		}
		return math.Abs(*c.DeltaPct)
	}
	sort.SliceStable(cs, func(i, j int) bool {
		if si, sj := size(cs[i]), size(cs[j]); si != sj {
			return si > sj
		}
		return cs[i].Key().String() < cs[j].Key().String()
	})
}

func find(rep *report.Report, k result.Key) (compare.Comparison, bool) {
	for _, c := range rep.Comparisons {
		if c.Key() == k {
			return c, true
		}
	}
	return compare.Comparison{}, false
}

// similar: the same direction and between half and twice the size.
func similar(a, b *float64) bool {
	if a == nil || b == nil {
		return a == b
	}
	if *b == 0 {
		return *a == 0
	}
	r := *a / *b
	return r >= 0.5 && r <= 2
}

func pct(p *float64) string {
	if p == nil {
		return " (no number)"
	}
	return fmt.Sprintf(" %+.2f%%", *p)
}

func commitOf(c source.Commit) Commit {
	return Commit{SHA: c.SHA, Subject: c.Subject, Author: c.Author}
}

func ptr[T any](v T) *T { return &v }

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
