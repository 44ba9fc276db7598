package oe

import (
	"fmt"
	"sort"
	"strings"

	"github.com/tcbot/tcbot/bot/compare"
	"github.com/tcbot/tcbot/bot/report"
	"github.com/tcbot/tcbot/bot/result"
)

// Repo is the report's repository name for `tcbot oe-compare`.
const Repo = "oe"

// Compare compares the OpenEmbedded build in headDir against the one in
// baseDir and reports it as `tcbot oe-compare` does, with compare's
// default options: image-size and package-size are exact (0.1%
// threshold); build-cpu-time, one sample per build, is informational on
// every target, reported and never deciding.
//
// Two differences between builds that are not findings are left out:
// a recipe that ran no task at head (its output came from the sstate
// cache, or it was not needed) has nothing to compare, and a package the
// head image no longer installs is named in the note of the image's size
// rather than reported as missing data.
func Compare(baseDir, headDir string) (*report.Report, error) {
	base, err := read(baseDir)
	if err != nil {
		return nil, fmt.Errorf("base: %w", err)
	}
	head, err := read(headDir)
	if err != nil {
		return nil, fmt.Errorf("head: %w", err)
	}
	if base.machine != head.machine {
		return nil, fmt.Errorf("base %s is a build for MACHINE %s, head %s for %s: compare builds of one machine", baseDir, base.machine, headDir, head.machine)
	}
	opt := compare.DefaultOptions()
	opt.Informational = map[string][]string{head.machine: {BuildCPUTime}}
	out := compare.Compare(comparable(base, head), head.results, opt)
	notePackageChanges(&out, base, head)

	rep := report.New(Repo, baseDir, headDir, out)
	rep.Reproduce = strings.Join([]string{"tcbot", "oe-compare", "--base", shellQuote(baseDir), "--head", shellQuote(headDir)}, " ")
	return &rep, nil
}

// comparable returns base's results without those head has no
// counterpart of by design: recipes head did not build and packages no
// head image installs.
func comparable(base, head *build) []result.Result {
	inHead := make(map[string]bool)
	for _, r := range head.results {
		inHead[r.Benchmark] = true
	}
	installed := make(map[string]bool)
	for _, pkgs := range head.installed {
		for _, p := range pkgs {
			installed[p] = true
		}
	}
	var rs []result.Result
	for _, r := range base.results {
		switch {
		case strings.HasPrefix(r.Benchmark, recipePrefix) && !inHead[r.Benchmark]:
			continue
		case r.Metric == PackageSize && !installed[strings.TrimPrefix(r.Benchmark, packagePrefix)]:
			continue
		}
		rs = append(rs, r)
	}
	return rs
}

// notePackageChanges names, on each image's size comparison, the
// packages the head image installs that the base image did not and the
// other way round.
func notePackageChanges(out *compare.Outcome, base, head *build) {
	for _, cs := range [][]compare.Comparison{out.Comparisons, out.Info} {
		for i := range cs {
			c := &cs[i]
			if c.Metric != ImageSize {
				continue
			}
			bp, ok1 := base.installed[c.Benchmark]
			hp, ok2 := head.installed[c.Benchmark]
			if !ok1 || !ok2 {
				continue
			}
			var parts []string
			if added := minus(hp, bp); len(added) > 0 {
				parts = append(parts, "packages added: "+listNames(added))
			}
			if removed := minus(bp, hp); len(removed) > 0 {
				parts = append(parts, "packages removed: "+listNames(removed))
			}
			if len(parts) == 0 {
				continue
			}
			if c.Note != "" {
				parts = append([]string{c.Note}, parts...)
			}
			c.Note = strings.Join(parts, "; ")
		}
	}
}

// minus returns the names in a that are not in b, sorted.
func minus(a, b []string) []string {
	in := make(map[string]bool, len(b))
	for _, n := range b {
		in[n] = true
	}
	var out []string
	for _, n := range a {
		if !in[n] {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// listNames joins names, at most 20 of them.
func listNames(ns []string) string {
	const most = 20
	if len(ns) > most {
		return strings.Join(ns[:most], ", ") + fmt.Sprintf(" and %d more", len(ns)-most)
	}
	return strings.Join(ns, ", ")
}

// shellQuote quotes s for a POSIX shell, leaving plain words alone.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./:=,@+%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
