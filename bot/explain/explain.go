// Package explain says where the instructions of a changed benchmark
// went: per function of its binary (exact counts from the QEMU plugin,
// stored with each measurement) and, for the functions that moved most,
// the assembly that changed between base and head.
package explain

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/tcbot/tcbot/bot/compare"
	"github.com/tcbot/tcbot/bot/profile"
	"github.com/tcbot/tcbot/bot/report"
	"github.com/tcbot/tcbot/bot/result"
	"github.com/tcbot/tcbot/bot/store"
)

// TopFunctions is how many functions an explanation lists.
const TopFunctions = 5

// AsmFunctions is how many of them get an assembly diff.
const AsmFunctions = 3

// Options say how to find what an explanation needs.
type Options struct {
	// Compare gives the thresholds of exact metrics: cost that moved
	// between functions by more than the instruction threshold (of the
	// benchmark's total) while the total stayed within it is "moved".
	Compare compare.Options
	// Binary returns the path of a benchmark's binary of a measurement on
	// this host, or "" when it is not here (then no assembly diff).
	Binary func(m *store.Measurement, benchmark string) string
	// Disassemble returns the normalized assembly of one function of a
	// binary (see Disassembler); nil: no assembly diffs.
	Disassemble func(ctx context.Context, target, binary, function string) ([]string, error)
}

// Explain returns the explanations of the instruction comparisons in cs,
// ordered by target and benchmark: for each regression or improvement,
// the functions that moved most; for an unchanged total whose functions
// moved (cost shifted from one to another), an explanation marked Moved,
// and a note on its comparison saying so. base and head are the
// measurements by target. notes say why assembly is missing where it
// should have been there (no objdump for an arch on this host, objdump
// failing on a binary); a binary that is not on this host is skipped
// quietly, as the per-function table says enough.
func Explain(ctx context.Context, cs []compare.Comparison, base, head map[string]*store.Measurement, o Options) (out []report.Explanation, notes []string) {
	noted := map[string]bool{}
	note := func(n string) {
		if !noted[n] {
			noted[n] = true
			notes = append(notes, n)
		}
	}
	for i := range cs {
		c := &cs[i]
		if c.Metric != result.Instructions {
			continue
		}
		b, h := base[c.Target], head[c.Target]
		if b == nil || h == nil {
			continue
		}
		bp, hp := b.Binaries[c.Benchmark].Profile, h.Binaries[c.Benchmark].Profile
		if len(bp) == 0 || len(hp) == 0 || b.Binaries[c.Benchmark].SHA256 == h.Binaries[c.Benchmark].SHA256 {
			continue
		}
		deltas := Deltas(bp, hp)
		if len(deltas) == 0 {
			continue
		}
		e := report.Explanation{Target: c.Target, Suite: c.Suite, Benchmark: c.Benchmark, Metric: c.Metric}
		switch c.Verdict {
		case compare.Regression, compare.Improvement:
		case compare.Unchanged:
			if !moved(deltas, total(bp), o.Compare.Threshold(result.Instructions)) {
				continue
			}
			e.Moved = true
			note := "cost moved between functions (total unchanged): " + movedText(deltas)
			if c.Note != "" {
				c.Note += "; "
			}
			c.Note += note
		default:
			continue
		}
		if len(deltas) > TopFunctions {
			deltas = deltas[:TopFunctions]
		}
		e.Functions = deltas
		if o.Disassemble != nil && o.Binary != nil {
			var err error
			e.Asm, err = asmDiffs(ctx, o, c.Target, b, h, c.Benchmark, deltas)
			switch {
			case errors.Is(err, ErrNoObjdump):
				note(fmt.Sprintf("%s: explanations without assembly: %v", c.Target, err))
			case err != nil:
				note(fmt.Sprintf("%s: no assembly of %s: %v", c.Target, c.Benchmark, err))
			}
		}
		out = append(out, e)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Target != out[j].Target {
			return out[i].Target < out[j].Target
		}
		return out[i].Benchmark < out[j].Benchmark
	})
	return out, notes
}

func total(p []result.FunctionCount) uint64 {
	var t uint64
	for _, f := range p {
		t += f.Count
	}
	return t
}

// Deltas compares two profiles: every function that ran on either side,
// by absolute change, largest first (then by name); functions that did
// not change are left out.
func Deltas(base, head []result.FunctionCount) []report.FunctionDelta {
	bt := total(base)
	b := make(map[string]uint64, len(base))
	for _, f := range base {
		b[f.Name] += f.Count
	}
	h := make(map[string]uint64, len(head))
	for _, f := range head {
		h[f.Name] += f.Count
	}
	var out []report.FunctionDelta
	add := func(name string) {
		bv, hv := b[name], h[name]
		if bv == hv {
			return
		}
		d := report.FunctionDelta{Name: name, Base: bv, Head: hv, Delta: int64(hv) - int64(bv)}
		if bv > 0 {
			p := (float64(hv) - float64(bv)) / float64(bv) * 100
			d.DeltaPct = &p
		}
		if bt > 0 {
			d.ShareOfTotalPct = float64(d.Delta) / float64(bt) * 100
		}
		out = append(out, d)
	}
	for name := range b {
		add(name)
	}
	for name := range h {
		if _, ok := b[name]; !ok {
			add(name)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		ai, aj := abs(out[i].Delta), abs(out[j].Delta)
		if ai != aj {
			return ai > aj
		}
		return out[i].Name < out[j].Name
	})
	return out
}

func abs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

// moved reports whether some function gained and another lost more than
// thresholdPct of the benchmark's base total.
func moved(deltas []report.FunctionDelta, baseTotal uint64, thresholdPct float64) bool {
	if baseTotal == 0 {
		return false
	}
	limit := float64(baseTotal) * math.Max(thresholdPct, 0) / 100
	up, down := false, false
	for _, d := range deltas {
		switch {
		case float64(d.Delta) > limit:
			up = true
		case float64(-d.Delta) > limit:
			down = true
		}
	}
	return up && down
}

// movedText names the two functions that moved most each way:
// "foo +12,000, bar −11,990".
func movedText(deltas []report.FunctionDelta) string {
	var up, down *report.FunctionDelta
	for i := range deltas {
		d := &deltas[i]
		if d.Delta > 0 && up == nil {
			up = d
		}
		if d.Delta < 0 && down == nil {
			down = d
		}
	}
	var parts []string
	for _, d := range []*report.FunctionDelta{up, down} {
		if d != nil {
			parts = append(parts, fmt.Sprintf("%s %s", d.Name, signed(d.Delta)))
		}
	}
	return strings.Join(parts, ", ")
}

// signed formats a count change with its sign and grouped digits.
func signed(v int64) string {
	s := fmt.Sprint(abs(v))
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if v < 0 {
		return "−" + b.String()
	}
	return "+" + b.String()
}

// asmDiffs diffs the assembly of the top functions whose code differs.
// It stops at the first failure to disassemble: the binaries come from
// revisions under test, and one that makes objdump fail or hang once
// is not given more tries.
func asmDiffs(ctx context.Context, o Options, target string, b, h *store.Measurement, bench string, deltas []report.FunctionDelta) ([]report.AsmDiff, error) {
	bb, hb := o.Binary(b, bench), o.Binary(h, bench)
	if bb == "" || hb == "" {
		return nil, nil
	}
	var out []report.AsmDiff
	for _, d := range deltas {
		if len(out) == AsmFunctions {
			break
		}
		if d.Name == profile.Unknown {
			continue
		}
		var bl, hl []string
		var err error
		if d.Base > 0 {
			if bl, err = o.Disassemble(ctx, target, bb, d.Name); err != nil {
				return out, err
			}
		}
		if d.Head > 0 {
			if hl, err = o.Disassemble(ctx, target, hb, d.Name); err != nil {
				return out, err
			}
		}
		if diff, changed := Diff(bl, hl, MaxAsmLines); changed {
			diff.Function = d.Name
			out = append(out, diff)
		}
	}
	return out, nil
}
