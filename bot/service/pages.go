package service

import (
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/tcbot/tcbot/bot/compare"
	"github.com/tcbot/tcbot/bot/report"
	"github.com/tcbot/tcbot/bot/result"
	"github.com/tcbot/tcbot/bot/store"
)

// pageStyle is shared by every page.
const pageStyle = `body{font-family:system-ui,sans-serif;margin:1.5em 2em;color:#222;max-width:1400px;line-height:1.4}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ddd}h3{font-size:1.05em;margin-top:1.4em}
table{border-collapse:collapse;margin:.4em 0}td,th{padding:.25em .7em;text-align:left;border-bottom:1px solid #eee;vertical-align:top}
th{background:#f4f4f4;white-space:nowrap}th.sort{cursor:pointer;user-select:none}th.sort:after{content:" ⇅";color:#aaa;font-weight:normal}
th.sort[data-dir=asc]:after{content:" ▲";color:#333}th.sort[data-dir=desc]:after{content:" ▼";color:#333}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}td.nowrap{white-space:nowrap}
.regression,.failed{color:#b00}.improvement,.fixed{color:#070}.error,.silent{color:#a60}.moved{color:#555}
code{font-size:.95em}.muted,.better{color:#777;font-size:.9em;font-weight:normal}
.links a{margin-right:.2em}.meta td:first-child{color:#777;padding-left:0}.meta td{border:0;padding-top:.1em;padding-bottom:.1em}
.charts{display:flex;flex-wrap:wrap;gap:1em}.chart{margin:0;border:1px solid #e4e4e4;border-radius:6px;padding:.5em .6em .2em}
.chart figcaption{font-weight:600;font-size:.95em;margin-bottom:.2em}
.chart svg .grid{stroke:#eee}.chart svg .zero{stroke:#bbb}.chart svg .axis{stroke:#ccc}
.chart svg .tick,.chart svg .xtick{font-size:11px;fill:#666;font-family:system-ui,sans-serif}.chart svg .xtick{font-family:monospace;font-size:10px}
.chart svg .line{fill:none;stroke:#3366aa;stroke-width:1.8}
.chart svg .guide{stroke-width:1;stroke-dasharray:3 3}.chart svg .guide.regression{stroke:#e99}.chart svg .guide.improvement{stroke:#8c8}.chart svg .guide.error{stroke:#db8}
.chart svg .pt{fill:#3366aa;stroke:#fff;stroke-width:1.2}.chart svg .pt.regression{fill:#c00}.chart svg .pt.improvement{fill:#080}.chart svg .pt.error{fill:#d80}.chart svg .pt.mixed{fill:#e07b00}.chart svg .guide.mixed{stroke:#eb8}
.chart svg a:hover .pt{stroke:#000;stroke-width:2}
.chart svg .accepted{fill:none;stroke:#080;stroke-width:2.2}.chart svg .culprit{fill:#111}
.chart.small svg .tick{font-size:10px}.legend span{margin-right:1.2em}.legend .pt-reg{color:#c00}.legend .pt-imp{color:#080}.empty{color:#999}
pre.diff{background:#f8f8f8;padding:.5em;overflow:auto;font-size:.85em;max-height:32em;margin:.3em 0}pre.diff span{display:block}pre.diff .add{background:#e6ffec}pre.diff .del{background:#ffebe9}
pre.cmd{background:#f4f4f4;padding:.6em;overflow:auto;white-space:pre-wrap;word-break:break-all}
.verdict{font-weight:600}
details{margin:.5em 0}summary{cursor:pointer}`

// sortScript makes every table.sortable sortable by clicking a header:
// numbers (data-v) numerically, text alphabetically; again reverses.
const sortScript = `document.querySelectorAll('table.sortable').forEach(function(t){
 t.querySelectorAll('th').forEach(function(th,i){
  th.classList.add('sort');
  th.addEventListener('click',function(){
   var body=t.tBodies[0], rows=Array.prototype.slice.call(body.rows);
   var dir=th.dataset.dir==='asc'?-1:1; th.dataset.dir=dir===1?'asc':'desc';
   rows.sort(function(a,b){
    var x=a.cells[i], y=b.cells[i];
    var xv=x.dataset.v, yv=y.dataset.v;
    if(xv!==undefined&&yv!==undefined){
     var xn=parseFloat(xv), yn=parseFloat(yv);
     if(isNaN(xn)||isNaN(yn)){return isNaN(xn)-isNaN(yn);}
     return dir*(xn-yn);
    }
    return dir*x.textContent.localeCompare(y.textContent);
   });
   rows.forEach(function(r){body.appendChild(r);});
  });
 });
});`

// reportView is a report arranged for the change and compare pages.
type reportView struct {
	R       report.Report
	Summary []summaryRow
	Targets []targetView
	Rest    []compare.Comparison // unchanged and informational
}

// summaryRow is one target's metric at a glance: the geomean of the
// change over its benchmarks and how many of them moved.
type summaryRow struct {
	Target, Metric, Label string
	DeltaPct              *float64
	N                     int
	Regressions           int // and failures
	Improvements          int // and fixes
	Worst                 compare.Verdict
}

type targetView struct {
	Name         string
	Metrics      []string // the findings' metrics with unit and direction
	Findings     []compare.Comparison
	Explanations []report.Explanation
}

func newReportView(r report.Report) reportView {
	v := reportView{R: r, Summary: summarize(r)}
	byT := map[string]*targetView{}
	var names []string
	get := func(t string) *targetView {
		if tv, ok := byT[t]; ok {
			return tv
		}
		byT[t] = &targetView{Name: t}
		names = append(names, t)
		return byT[t]
	}
	for _, c := range r.Comparisons {
		if c.Verdict == compare.Unchanged {
			v.Rest = append(v.Rest, c)
			continue
		}
		tv := get(c.Target)
		tv.Findings = append(tv.Findings, c)
		if l := report.MetricLabel(c.Metric, c.Unit); !contains(tv.Metrics, l) {
			tv.Metrics = append(tv.Metrics, l)
		}
	}
	v.Rest = append(v.Rest, r.Info...)
	for _, e := range r.Explanations {
		tv := get(e.Target)
		tv.Explanations = append(tv.Explanations, e)
	}
	sort.Strings(names)
	for _, n := range names {
		tv := byT[n]
		sort.SliceStable(tv.Findings, func(i, j int) bool {
			ri, rj := verdictRank(tv.Findings[i].Verdict), verdictRank(tv.Findings[j].Verdict)
			if ri != rj {
				return ri < rj
			}
			return absDelta(tv.Findings[i]) > absDelta(tv.Findings[j])
		})
		// Explanations in the order of the findings (worst first).
		order := map[string]int{}
		for i, c := range tv.Findings {
			if _, ok := order[c.Benchmark]; !ok && c.Metric == result.Instructions {
				order[c.Benchmark] = i
			}
		}
		rank := func(e report.Explanation) int {
			if i, ok := order[e.Benchmark]; ok && !e.Moved {
				return i
			}
			return len(tv.Findings)
		}
		sort.SliceStable(tv.Explanations, func(i, j int) bool { return rank(tv.Explanations[i]) < rank(tv.Explanations[j]) })
		v.Targets = append(v.Targets, *tv)
	}
	return v
}

// summarize is a report's geomeans per target and metric, with how many
// benchmarks regressed and improved, targets in order, verdict metrics
// first.
func summarize(r report.Report) []summaryRow {
	type key struct{ target, metric string }
	rows := map[key]*summaryRow{}
	var keys []key
	get := func(target, metric, unit string) *summaryRow {
		k := key{target, metric}
		if row, ok := rows[k]; ok {
			return row
		}
		rows[k] = &summaryRow{Target: target, Metric: metric, Label: report.MetricLabel(metric, unit)}
		keys = append(keys, k)
		return rows[k]
	}
	for _, g := range r.Geomeans {
		row := get(g.Target, g.Metric, "")
		d := g.DeltaPct
		row.DeltaPct, row.N = &d, g.N
	}
	for _, c := range r.Comparisons {
		switch c.Verdict {
		case compare.Regression, compare.Failed:
			get(c.Target, c.Metric, c.Unit).Regressions++
		case compare.Improvement, compare.Fixed:
			get(c.Target, c.Metric, c.Unit).Improvements++
		default:
			continue
		}
		row := rows[key{c.Target, c.Metric}]
		row.Worst = worse(row.Worst, c.Verdict)
	}
	sort.SliceStable(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if a.target != b.target {
			return a.target < b.target
		}
		return metricOrder(a.metric) < metricOrder(b.metric)
	})
	out := make([]summaryRow, len(keys))
	for i, k := range keys {
		out[i] = *rows[k]
	}
	return out
}

func verdictRank(v compare.Verdict) int {
	for i, w := range []compare.Verdict{compare.Failed, compare.Regression, compare.Error, compare.Improvement, compare.Fixed} {
		if v == w {
			return i
		}
	}
	return 9
}

func absDelta(c compare.Comparison) float64 {
	if c.DeltaPct == nil {
		return 0
	}
	if *c.DeltaPct < 0 {
		return -*c.DeltaPct
	}
	return *c.DeltaPct
}

var pageFuncs = template.FuncMap{
	"value": func(unit string, p *float64) string { return report.FormatValue(unit, p) },
	"delta": func(p *float64) string { return report.FormatDelta(p) },
	"pct":   func(v float64) string { return fmt.Sprintf("%+.2f%%", v) },
	"metric": func(m, unit string) string {
		return report.MetricLabel(m, unit)
	},
	"num": func(p *float64) string {
		if p == nil {
			return ""
		}
		return strconv.FormatFloat(*p, 'g', -1, 64)
	},
	"count": func(v uint64) string { f := float64(v); return report.FormatValue("count", &f) },
	"signed": func(v int64) string {
		f := float64(v)
		s := report.FormatValue("count", &f)
		if v > 0 {
			s = "+" + s
		}
		return s
	},
	"short": shortRev,
	"diffclass": func(op string) string {
		switch op {
		case "+":
			return "add"
		case "-":
			return "del"
		}
		return ""
	},
	"chart": func(c chart) (template.HTML, error) {
		var b strings.Builder
		err := chartTmpl.ExecuteTemplate(&b, "chart", c)
		return template.HTML(b.String()), err
	},
}

const reportTmplText = `{{define "report"}}{{$r := .R}}
{{with .Summary}}<h2>Summary</h2><p class="muted">Per target and metric: the geomean of head/base over the benchmarks, and how many of them regressed or improved.</p>
<table class="sortable summary"><thead><tr><th>target</th><th>metric</th><th class="num">geomean Δ</th><th class="num">regressed</th><th class="num">improved</th><th class="num">benchmarks</th></tr></thead><tbody>
{{range .}}<tr><td><a href="#t-{{.Target}}">{{.Target}}</a></td><td>{{.Label}}</td><td class="num {{.Worst}}" data-v="{{num .DeltaPct}}">{{with .DeltaPct}}{{delta .}}{{end}}</td><td class="num{{if .Regressions}} regression{{end}}" data-v="{{.Regressions}}">{{.Regressions}}</td><td class="num{{if .Improvements}} improvement{{end}}" data-v="{{.Improvements}}">{{.Improvements}}</td><td class="num" data-v="{{.N}}">{{if .N}}{{.N}}{{end}}</td></tr>
{{end}}</tbody></table>{{end}}
{{with $r.Notes}}<ul>{{range .}}<li>{{.}}</li>{{end}}</ul>{{end}}
{{with $r.Errors}}<h2>Infrastructure errors</h2><ul>{{range .}}<li class="error">{{.}}</li>{{end}}</ul>{{end}}
{{range .Targets}}<h2 id="t-{{.Name}}">{{.Name}}</h2>
{{if .Findings}}<p class="muted">{{len .Findings}} findings, worst first; click a header to sort. {{range $i, $m := .Metrics}}{{if $i}}; {{end}}{{$m}}{{end}}.</p>
<table class="sortable findings"><thead><tr><th>verdict</th><th>benchmark</th><th>metric</th><th class="num">base</th><th class="num">head</th><th class="num">Δ</th><th class="num">p</th><th>note</th></tr></thead><tbody>
{{range .Findings}}<tr><td class="{{.Verdict}}">{{.Verdict}}</td><td>{{.Benchmark}}</td><td class="nowrap" title="{{metric .Metric .Unit}}">{{.Metric}}</td><td class="num" data-v="{{num .Base}}">{{value .Unit .Base}}</td><td class="num" data-v="{{num .Head}}">{{value .Unit .Head}}</td><td class="num {{.Verdict}}" data-v="{{num .DeltaPct}}">{{delta .DeltaPct}}</td><td class="num" data-v="{{if .P}}{{num .P}}{{else}}0{{end}}">{{if .P}}{{printf "%.3f" .P}}{{else}}exact{{end}}</td><td>{{.Note}}</td></tr>
{{end}}</tbody></table>{{end}}
{{range $i, $e := .Explanations}}{{with $e}}<h3 class="{{if .Moved}}moved{{end}}">{{if .Moved}}Cost moved between functions of {{.Benchmark}} (total unchanged){{else}}Where the instructions of {{.Benchmark}} went{{end}}</h3>
<table class="sortable functions"><thead><tr><th>function</th><th class="num">base</th><th class="num">head</th><th class="num">Δ instructions</th><th class="num">Δ</th><th class="num">of the benchmark</th></tr></thead><tbody>
{{range .Functions}}<tr><td><code>{{.Name}}</code></td><td class="num" data-v="{{.Base}}">{{count .Base}}</td><td class="num" data-v="{{.Head}}">{{count .Head}}</td><td class="num {{if gt .Delta 0}}regression{{else if lt .Delta 0}}improvement{{end}}" data-v="{{.Delta}}">{{signed .Delta}}</td><td class="num" data-v="{{num .DeltaPct}}">{{with .DeltaPct}}{{delta .}}{{else}}new{{end}}</td><td class="num" data-v="{{.ShareOfTotalPct}}">{{pct .ShareOfTotalPct}}</td></tr>
{{end}}</tbody></table>
{{range .Asm}}<details class="asm"{{if eq $i 0}} open{{end}}><summary>assembly of <code>{{.Function}}</code> (− base, + head){{if .Truncated}}, cut{{end}}</summary><pre class="diff">{{range .Lines}}<span class="{{diffclass .Op}}">{{.Op}} {{.Text}}</span>{{end}}</pre></details>
{{end}}{{end}}{{end}}{{end}}
{{with .Rest}}<details><summary>{{len .}} unchanged and informational comparisons</summary><table class="sortable rest"><thead><tr><th>target</th><th>benchmark</th><th>metric</th><th class="num">base</th><th class="num">head</th><th class="num">Δ</th><th>verdict</th><th>note</th></tr></thead><tbody>
{{range .}}<tr><td>{{.Target}}</td><td>{{.Benchmark}}</td><td class="nowrap" title="{{metric .Metric .Unit}}">{{.Metric}}</td><td class="num" data-v="{{num .Base}}">{{value .Unit .Base}}</td><td class="num" data-v="{{num .Head}}">{{value .Unit .Head}}</td><td class="num" data-v="{{num .DeltaPct}}">{{delta .DeltaPct}}</td><td>{{.Verdict}}</td><td>{{.Note}}</td></tr>
{{end}}</tbody></table></details>{{end}}
<h2>Reproduce</h2><p class="muted">On your own machine, from a tcbot checkout:</p><pre class="cmd">{{$r.Reproduce}}</pre>{{end}}`

var changePageTmpl = template.Must(template.New("change").Funcs(pageFuncs).Parse(reportTmplText + `<!doctype html>
<html><head><meta charset="utf-8"><title>tcbot: change {{.C.ID}} {{.C.Verdict}}</title><style>` + pageStyle + `</style></head>
<body><p><a href="../">← dashboard</a></p>
<h1>Change {{.C.ID}}: {{.C.Repo}} <code>{{short .C.Head}}</code>{{with .C.Verdict}} <span class="{{.}}">{{.}}</span>{{end}}</h1>
<table class="meta">
<tr><td>head</td><td><code>{{.C.Head}}</code>{{with .Rep}}{{with .R.HeadSubject}} {{.}}{{end}}{{end}}</td></tr>
{{with .Rep}}<tr><td>base</td><td><code>{{.R.Base}}</code>{{with .R.BaseSubject}} {{.}}{{end}}</td></tr>{{end}}
<tr><td>from</td><td>{{.C.Origin}}{{with .C.Branch}}, branch <a href="../history?repo={{$.C.Repo}}&amp;branch={{.}}">{{.}}</a>{{end}}{{if .C.PR}}, pull request #{{.C.PR}}{{end}}{{with .C.Note}}; {{.}}{{end}}; queued {{.C.CreatedAt.Format "2006-01-02 15:04:05 MST"}}; {{.C.State}}</td></tr>
</table>
{{with .Targets}}<table><tr><th>target</th><th>state</th><th>measured by</th><th>note</th></tr>
{{range .}}<tr><td>{{.Target}}</td><td>{{.State}}</td><td>{{.Worker}}</td><td>{{.Note}}</td></tr>
{{end}}</table>{{end}}
{{with .Rep}}<p class="links"><a href="../compare?repo={{$.C.Repo}}&amp;base={{.R.Base}}&amp;head={{.R.Head}}">compare base → head</a> (from the stored measurements) · <a href="{{$.C.ID}}?format=json">JSON report</a> · <a href="../api/changes/{{$.C.ID}}">API</a></p>
{{template "report" .}}{{else}}<p>Not measured yet.</p>{{end}}
<script>` + sortScript + `</script></body></html>`))

var comparePageTmpl = template.Must(template.New("compare").Funcs(pageFuncs).Parse(reportTmplText + `<!doctype html>
<html><head><meta charset="utf-8"><title>tcbot: compare {{short .Rep.R.Base}}..{{short .Rep.R.Head}}</title><style>` + pageStyle + `</style></head>
<body><p><a href="./">← dashboard</a></p>
<h1>{{.Rep.R.Repo}}: <code>{{short .Rep.R.Base}}</code> → <code>{{short .Rep.R.Head}}</code> <span class="{{.Rep.R.Verdict}}">{{.Rep.R.Verdict}}</span></h1>
<table class="meta">
<tr><td>head</td><td><code>{{.Rep.R.Head}}</code>{{with .Rep.R.HeadSubject}} {{.}}{{end}}</td></tr>
<tr><td>base</td><td><code>{{.Rep.R.Base}}</code>{{with .Rep.R.BaseSubject}} {{.}}{{end}}</td></tr>
</table>
<p class="links">From the stored measurements of both revisions. <a href="compare?repo={{.Rep.R.Repo}}&amp;base={{.Rep.R.Head}}&amp;head={{.Rep.R.Base}}">swap base and head</a> · <a href="api/compare?repo={{.Rep.R.Repo}}&amp;base={{.Rep.R.Base}}&amp;head={{.Rep.R.Head}}">JSON</a></p>
{{template "report" .Rep}}
<script>` + sortScript + `</script></body></html>`))

// changePage shows one change's report as tables (the commit statuses
// and comments link here); ?format=json gives the JSON report.
func (s *Service) changePage(w http.ResponseWriter, r *http.Request) {
	c, ok := s.changeOf(w, r)
	if !ok {
		return
	}
	if r.URL.Query().Get("format") == "json" {
		if c.Report == "" {
			http.Error(w, "not measured yet", http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(c.Report))
		return
	}
	var rep *reportView
	if c.Report != "" {
		var rr report.Report
		if err := json.Unmarshal([]byte(c.Report), &rr); err == nil {
			v := newReportView(rr)
			rep = &v
		}
	}
	targets, err := store.ChangeTargets(r.Context(), s.store.Q(), c.ID)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := changePageTmpl.Execute(w, struct {
		C       *store.Change
		Rep     *reportView
		Targets []store.ChangeTarget
	}{c, rep, targets}); err != nil {
		s.log.WithError(err).Warn("change page")
	}
}

func (s *Service) changeOf(w http.ResponseWriter, r *http.Request) (*store.Change, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		http.Error(w, "change id: want a number", http.StatusBadRequest)
		return nil, false
	}
	c, err := store.GetChange(r.Context(), s.store.Q(), id)
	if err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return nil, false
	}
	return c, true
}

// apiChange is GET /api/changes/{id}: the change and its report.
func (s *Service) apiChange(w http.ResponseWriter, r *http.Request) {
	c, ok := s.changeOf(w, r)
	if !ok {
		return
	}
	out := map[string]any{"id": c.ID, "repo": c.Repo, "head": c.Head, "base": c.Base, "origin": c.Origin, "branch": c.Branch,
		"pr": c.PR, "state": c.State, "verdict": c.Verdict, "note": c.Note, "created_at": c.CreatedAt}
	if c.Report != "" {
		out["report"] = json.RawMessage(c.Report)
	}
	writeJSON(w, out)
}

// compareReport compares two measured revisions of a repository from the
// store (query parameters repo, base, head).
func (s *Service) compareReport(w http.ResponseWriter, r *http.Request) (*report.Report, bool) {
	q := r.URL.Query()
	repo, base, head := q.Get("repo"), q.Get("base"), q.Get("head")
	for _, p := range [][2]string{{"repo", repo}, {"base", base}, {"head", head}} {
		if p[1] == "" {
			http.Error(w, fmt.Sprintf("compare: parameter %s is missing: want /compare?repo=R&base=REV&head=REV", p[0]), http.StatusBadRequest)
			return nil, false
		}
	}
	if _, err := s.cfg.Repo(repo); err != nil {
		http.Error(w, "compare: parameter repo: "+err.Error(), http.StatusNotFound)
		return nil, false
	}
	if s.meas == nil {
		http.Error(w, "compare: this process does not measure (no measurer)", http.StatusServiceUnavailable)
		return nil, false
	}
	// SHAs, short or full, are looked up among the measured revisions;
	// anything else (a branch, a tag) is resolved in the mirror and must
	// have been measured too.
	for _, p := range []struct {
		name string
		rev  *string
	}{{"base", &base}, {"head", &head}} {
		got, err := store.MeasuredRevisions(r.Context(), s.store.Q(), repo, strings.ToLower(*p.rev), 6)
		if err != nil {
			http.Error(w, "compare: "+err.Error(), http.StatusInternalServerError)
			return nil, false
		}
		switch {
		case len(got) == 1:
			*p.rev = got[0]
		case len(got) > 1:
			http.Error(w, fmt.Sprintf("compare: parameter %s: %s is ambiguous among the measured revisions of %s (%s...): give more digits", p.name, *p.rev, repo, strings.Join(got, ", ")), http.StatusBadRequest)
			return nil, false
		}
	}
	rep, err := s.meas.CompareStored(r.Context(), repo, base, head, nil)
	if err != nil {
		http.Error(w, "compare: "+err.Error(), http.StatusNotFound)
		return nil, false
	}
	for _, p := range [][3]string{{"base", base, rep.Base}, {"head", head, rep.Head}} {
		if got, err := store.MeasuredRevisions(r.Context(), s.store.Q(), repo, p[2], 1); err != nil || len(got) == 0 {
			http.Error(w, fmt.Sprintf("compare: parameter %s: %s (%s) of %s has no stored measurements: measure it first (tcbot run --repo %s --rev %s)", p[0], p[1], shortRev(p[2]), repo, repo, p[2]), http.StatusNotFound)
			return nil, false
		}
	}
	return rep, true
}

func (s *Service) comparePage(w http.ResponseWriter, r *http.Request) {
	rep, ok := s.compareReport(w, r)
	if !ok {
		return
	}
	v := newReportView(*rep)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := comparePageTmpl.Execute(w, struct{ Rep reportView }{v}); err != nil {
		s.log.WithError(err).Warn("compare page")
	}
}

func (s *Service) apiCompare(w http.ResponseWriter, r *http.Request) {
	if rep, ok := s.compareReport(w, r); ok {
		writeJSON(w, rep)
	}
}

// apiHistory is GET /api/history?repo=R&branch=B[&target=T][&metric=M].
func (s *Service) apiHistory(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	h, ok := s.historyOf(w, r, "/api/history?repo=R&branch=B[&target=T][&metric=M]")
	if !ok {
		return
	}
	target, metric := q.Get("target"), q.Get("metric")
	for _, p := range []struct{ name, v, field string }{{"target", target, "target"}, {"metric", metric, "metric"}} {
		if p.v == "" {
			continue
		}
		var have []string
		seen := map[string]bool{}
		for _, b := range h.Benchmarks {
			v := b.Target
			if p.field == "metric" {
				v = b.Metric
			}
			if !seen[v] {
				seen[v] = true
				have = append(have, v)
			}
		}
		if !seen[p.v] {
			http.Error(w, fmt.Sprintf("history: parameter %s: %s %s has no %s %q (it has: %s)", p.name, h.Repo, h.Branch, p.name, p.v, strings.Join(have, ", ")), http.StatusNotFound)
			return
		}
	}
	h.filter(target, metric)
	writeJSON(w, h)
}

// historyOf is the history of the branch a request names (parameters
// repo and branch), or false after a 400 or 404 that says what to give.
func (s *Service) historyOf(w http.ResponseWriter, r *http.Request, usage string) (*History, bool) {
	q := r.URL.Query()
	repo, branch := q.Get("repo"), q.Get("branch")
	for _, p := range [][2]string{{"repo", repo}, {"branch", branch}} {
		if p[1] == "" {
			http.Error(w, fmt.Sprintf("history: parameter %s is missing: want %s (GET /api/branches lists the branches)", p[0], usage), http.StatusBadRequest)
			return nil, false
		}
	}
	h, err := s.history(r.Context(), repo, branch)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return nil, false
	}
	if len(h.Points) == 0 {
		http.Error(w, fmt.Sprintf("history: parameters repo and branch: %s %s has no measured changes (GET /api/branches lists the branches that have)", repo, branch), http.StatusNotFound)
		return nil, false
	}
	return h, true
}

// apiBranches is GET /api/branches: the branches with a history.
func (s *Service) apiBranches(w http.ResponseWriter, r *http.Request) {
	bs, err := store.Branches(r.Context(), s.store.Q())
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	type branch struct {
		Repo    string `json:"repo"`
		Branch  string `json:"branch"`
		Changes int    `json:"changes"`
	}
	out := []branch{}
	for _, b := range bs {
		out = append(out, branch{b.Repo, b.Branch, b.Changes})
	}
	writeJSON(w, out)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// legend explains the marks of the charts.
const legend = `<span class="pt-reg">● regression</span><span class="pt-imp">● improvement</span><span style="color:#e07b00" title="the geomean went the good way, but some benchmarks regressed">● mixed</span><span style="color:#3366aa">● no change</span><span class="pt-imp">◯ accepted</span><span>◆ bisected culprit</span><span class="muted">hover a point for its commit, click it for its change</span>`

// branchCharts are the charts of one branch on the dashboard.
type branchCharts struct {
	Repo, Branch string
	Geomeans     []chart
	Points       int
	// Marked are the points accepted or found guilty, newest first.
	Marked []HistoryPoint
}

// dashboardCharts draws, per branch, each target's geomean of the
// verdict metrics (instructions, code size).
func (s *Service) dashboardCharts(r *http.Request) ([]branchCharts, error) {
	bs, err := store.Branches(r.Context(), s.store.Q())
	if err != nil {
		return nil, err
	}
	var out []branchCharts
	for _, b := range bs {
		h, err := s.history(r.Context(), b.Repo, b.Branch)
		if err != nil {
			return nil, err
		}
		bc := branchCharts{Repo: b.Repo, Branch: b.Branch, Points: len(h.Points)}
		for i := len(h.Points) - 1; i >= 0; i-- {
			if p := h.Points[i]; p.Accepted || p.Culprit {
				bc.Marked = append(bc.Marked, p)
			}
		}
		for _, g := range h.Geomeans {
			if g.Metric != result.Instructions && g.Metric != result.CodeSize {
				continue
			}
			c := newChart(h, g, g.Target+": "+g.Metric, 560, 220, "")
			c.Sub = "geomean of the benchmarks, change since the first commit"
			bc.Geomeans = append(bc.Geomeans, c)
		}
		out = append(out, bc)
	}
	return out, nil
}

var historyPageTmpl = template.Must(template.New("history").Funcs(pageFuncs).Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>tcbot: {{.H.Repo}} {{.H.Branch}} {{.Metric}}</title><style>` + pageStyle + `</style></head>
<body><p><a href="./">dashboard</a></p>
<h1>{{.H.Repo}} {{.H.Branch}}: {{metric .Metric ""}} per benchmark</h1>
<p class="muted">{{len .H.Points}} measured revisions, oldest on the left; click a point for its change. Metrics: {{range .Metrics}}<a href="history?repo={{$.H.Repo}}&amp;branch={{$.H.Branch}}&amp;metric={{.}}">{{.}}</a> {{end}} · <a href="api/history?repo={{.H.Repo}}&amp;branch={{.H.Branch}}">JSON</a></p>
<p class="legend">` + legend + `</p>
{{range .Targets}}<h2>{{.Name}}</h2><div class="charts">{{range .Charts}}{{chart .}}{{end}}</div>{{end}}
</body></html>`))

// historyPage is GET /history?repo=R&branch=B&metric=M: one chart per
// benchmark and target.
func (s *Service) historyPage(w http.ResponseWriter, r *http.Request) {
	metric := r.URL.Query().Get("metric")
	if metric == "" {
		metric = result.Instructions
	}
	h, ok := s.historyOf(w, r, "/history?repo=R&branch=B[&metric=instructions]")
	if !ok {
		return
	}
	repo, branch := h.Repo, h.Branch
	type targetCharts struct {
		Name   string
		Charts []chart
	}
	var ts []targetCharts
	seen := map[string]bool{}
	var metrics []string
	for _, b := range h.Benchmarks {
		if !seen[b.Metric] {
			seen[b.Metric] = true
			metrics = append(metrics, b.Metric)
		}
		if b.Metric != metric {
			continue
		}
		if len(ts) == 0 || ts[len(ts)-1].Name != b.Target {
			ts = append(ts, targetCharts{Name: b.Target})
		}
		c := newChart(h, b, b.Benchmark, 370, 170, "")
		c.Class = "small"
		ts[len(ts)-1].Charts = append(ts[len(ts)-1].Charts, c)
	}
	if !seen[metric] {
		http.Error(w, fmt.Sprintf("history: parameter metric: %s %s has no %s measurements (it has: %s)", repo, branch, metric, strings.Join(metrics, ", ")), http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := historyPageTmpl.Execute(w, struct {
		H       *History
		Metric  string
		Metrics []string
		Targets []targetCharts
	}{h, metric, metrics, ts}); err != nil {
		s.log.WithError(err).Warn("history page")
	}
}
