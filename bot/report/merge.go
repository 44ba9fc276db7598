package report

import (
	"sort"

	"github.com/tcbot/tcbot/bot/compare"
)

// Merge joins the reports of one change measured target by target (each
// target by its own job, perhaps on its own host) into one report. The
// reports must share repository, base and head. The noisy comparisons
// are decided again over the whole report (compare.Redecide with opt's
// false discovery rate and minimum effect), so the rate holds per report
// as when everything is compared at once; exact metrics do not depend on
// the family.
func Merge(parts []Report, reproduce string, opt compare.Options) Report {
	var out Report
	out.Comparisons = []compare.Comparison{}
	for i, p := range parts {
		if i == 0 {
			out.Repo, out.Base, out.Head = p.Repo, p.Base, p.Head
			out.BaseSubject, out.HeadSubject = p.BaseSubject, p.HeadSubject
		}
		out.Comparisons = append(out.Comparisons, p.Comparisons...)
		out.Info = append(out.Info, p.Info...)
		out.Geomeans = append(out.Geomeans, p.Geomeans...)
		out.Explanations = append(out.Explanations, p.Explanations...)
		for _, n := range p.Notes {
			if !contains(out.Notes, n) {
				out.Notes = append(out.Notes, n)
			}
		}
		out.Errors = append(out.Errors, p.Errors...) // added below, by AddError
	}
	less := func(cs []compare.Comparison) func(i, j int) bool {
		return func(i, j int) bool { return cs[i].Key().Less(cs[j].Key()) }
	}
	sort.SliceStable(out.Comparisons, less(out.Comparisons))
	sort.SliceStable(out.Info, less(out.Info))
	sort.SliceStable(out.Geomeans, func(i, j int) bool {
		a, b := out.Geomeans[i], out.Geomeans[j]
		if a.Target != b.Target {
			return a.Target < b.Target
		}
		if a.Suite != b.Suite {
			return a.Suite < b.Suite
		}
		return a.Metric < b.Metric
	})
	sort.SliceStable(out.Explanations, func(i, j int) bool {
		a, b := out.Explanations[i], out.Explanations[j]
		if a.Target != b.Target {
			return a.Target < b.Target
		}
		return a.Benchmark < b.Benchmark
	})
	out.Verdict = compare.Redecide(out.Comparisons, out.Info, opt)
	errs := out.Errors
	out.Errors = nil
	sort.Strings(errs)
	for _, e := range errs {
		out.AddError(e)
	}
	out.Reproduce = reproduce
	if out.Reproduce == "" {
		out.Reproduce = ReproduceCommand("", out.Repo, out.Base, out.Head, targets(out))
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
