// Package report renders the outcome of a comparison for people and
// scripts: plain text for a terminal, Markdown for a pull request comment
// and JSON (DESIGN.md, "Report") for everything else. It is pure: a Report
// in, bytes out, and the same Report always renders to the same bytes, so
// a comment edited in place changes only when the findings do.
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/tcbot/tcbot/bot/compare"
)

// Report is what tcbot says about one change: the comparison of a head
// revision against its base, the infrastructure problems met on the way and
// the command that reproduces it.
type Report struct {
	Repo string `json:"repo"`
	// Base and Head are full commit SHAs.
	Base string `json:"base"`
	Head string `json:"head"`
	// BaseSubject and HeadSubject are the commits' subject lines.
	BaseSubject string `json:"base_subject,omitempty"`
	HeadSubject string `json:"head_subject,omitempty"`

	Verdict compare.Verdict `json:"verdict"`
	// Comparisons decide the verdict; JSON always holds an array.
	Comparisons []compare.Comparison `json:"comparisons"`
	// Info holds informational comparisons (not part of the verdict).
	Info     []compare.Comparison `json:"info,omitempty"`
	Geomeans []compare.Geomean    `json:"geomeans,omitempty"`
	// Errors are infrastructure problems met while measuring, e.g.
	// "armv8-qemu: qemu-aarch64 not found".
	Errors []string `json:"errors,omitempty"`
	// Notes explain the verdict where the comparisons cannot, e.g. why
	// nothing was measured ("the compiler is byte-identical to the
	// base's").
	Notes []string `json:"notes,omitempty"`
	// Reproduce is the one command that reproduces the report.
	Reproduce string `json:"reproduce"`
	// URL is the change's page on the dashboard (public_url), when known.
	URL string `json:"url,omitempty"`
	// Explanations say, for each instruction-count regression, improvement
	// or cost that moved between functions, which functions moved and how
	// their assembly changed.
	Explanations []Explanation `json:"explanations,omitempty"`
}

// New makes the report of comparing head against base in repo. Its
// Reproduce command runs the same targets; set Reproduce to add flags the
// caller knows, such as --config.
func New(repo, base, head string, o compare.Outcome) Report {
	r := Report{
		Repo:        repo,
		Base:        base,
		Head:        head,
		Verdict:     o.Verdict,
		Comparisons: o.Comparisons,
		Info:        o.Info,
		Geomeans:    o.Geomeans,
	}
	if r.Comparisons == nil {
		r.Comparisons = []compare.Comparison{}
	}
	if r.Verdict == "" {
		r.Verdict = compare.Unchanged
	}
	r.Reproduce = ReproduceCommand("", repo, base, head, targets(r))
	for _, t := range nothingMeasured(r.Comparisons) {
		r.AddError(t + ": every benchmark fails at base and head, so nothing was measured: the baseline or the setup is broken (the notes of the status comparisons say how)")
	}
	return r
}

// nothingMeasured names the targets where every benchmark failed at base
// and head: their comparisons are all "unchanged", but that is no
// verdict to trust.
func nothingMeasured(cs []compare.Comparison) []string {
	failed, other := map[string]int{}, map[string]int{}
	for _, c := range cs {
		if c.Metric == "status" && c.Base != nil && c.Head != nil && *c.Base == 0 && *c.Head == 0 {
			failed[c.Target]++
		} else {
			other[c.Target]++
		}
	}
	var out []string
	for t, n := range failed {
		if n > 0 && other[t] == 0 {
			out = append(out, t)
		}
	}
	sort.Strings(out)
	return out
}

// AddError records an infrastructure problem. Errors outrank improvements
// but never hide a failure or a regression, as in compare.Outcome.
func (r *Report) AddError(msg string) {
	r.Errors = append(r.Errors, msg)
	switch r.Verdict {
	case compare.Failed, compare.Regression, compare.Error:
	default:
		r.Verdict = compare.Error
	}
}

// ReproduceCommand is the `tcbot run` command line that measures head
// against base on targets; config is left out when empty. Arguments are
// quoted for a POSIX shell.
func ReproduceCommand(config, repo, base, head string, targets []string) string {
	args := []string{"tcbot", "run"}
	if config != "" {
		args = append(args, "--config", config)
	}
	args = append(args, "--repo", repo, "--rev", head)
	if base != "" {
		args = append(args, "--base", base)
	}
	if len(targets) > 0 {
		args = append(args, "--targets", strings.Join(targets, ","))
	}
	for i, a := range args {
		args[i] = shellQuote(a)
	}
	return strings.Join(args, " ")
}

// ReproduceRun is the `tcbot run` command line that measures head against
// base on anyone's machine, without the server's config: repo are the
// flags that say the repository (config.RunRepo's Flags: --repo-url and
// the recipe and toolchain when they are not the defaults), and the
// targets (the standard armv7-qemu and armv8-qemu are built in).
func ReproduceRun(repo []string, base, head string, targets []string) string {
	args := append([]string{"tcbot", "run"}, repo...)
	args = append(args, "--rev", head)
	if base != "" {
		args = append(args, "--base", base)
	}
	if len(targets) > 0 {
		args = append(args, "--targets", strings.Join(targets, ","))
	}
	for i, a := range args {
		args[i] = shellQuote(a)
	}
	return strings.Join(args, " ")
}

func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./:=,@+%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// targets returns the targets of r's comparisons, sorted.
func targets(r Report) []string {
	seen := make(map[string]bool)
	var ts []string
	for _, cs := range [][]compare.Comparison{r.Comparisons, r.Info} {
		for _, c := range cs {
			if !seen[c.Target] {
				seen[c.Target] = true
				ts = append(ts, c.Target)
			}
		}
	}
	sort.Strings(ts)
	return ts
}

// Formats are the names Render accepts.
var Formats = []string{"text", "markdown", "json"}

// Render writes r in the named format.
func Render(w io.Writer, r Report, format string) error {
	switch format {
	case "text":
		return Text(w, r)
	case "markdown":
		return Markdown(w, r)
	case "json":
		return JSON(w, r)
	}
	return fmt.Errorf("unknown report format %q (valid: %s)", format, strings.Join(Formats, ", "))
}

// JSON writes r as indented JSON with a trailing newline.
func JSON(w io.Writer, r Report) error {
	if r.Comparisons == nil {
		r.Comparisons = []compare.Comparison{}
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	b = append(b, '\n')
	_, err = w.Write(b)
	return err
}
