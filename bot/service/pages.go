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
const pageStyle = `body{font-family:system-ui,sans-serif;margin:1.5em 2em;color:#222;max-width:1400px}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ddd}h3{font-size:1.05em}
table{border-collapse:collapse;margin:.4em 0}td,th{padding:.25em .7em;text-align:left;border-bottom:1px solid #eee}
th{background:#f4f4f4}th.sort{cursor:pointer;user-select:none}th.sort:after{content:" ⇅";color:#999}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.regression,.failed{color:#b00}.improvement,.fixed{color:#070}.error,.silent{color:#a60}.moved{color:#555}
code{font-size:.95em}.muted,.better{color:#777;font-size:.9em}
.charts{display:flex;flex-wrap:wrap;gap:1em}.chart{margin:0;border:1px solid #e4e4e4;border-radius:6px;padding:.4em}
.chart figcaption{font-weight:600;font-size:.95em;margin-bottom:.2em}
.chart svg .grid{stroke:#eee}.chart svg .tick{font-size:10px;fill:#777}.chart svg .line{fill:none;stroke:#3366aa;stroke-width:1.6}
.chart svg .pt{fill:#3366aa;stroke:#fff;stroke-width:1}.chart svg .pt.regression{fill:#c00}.chart svg .pt.improvement{fill:#080}.chart svg .pt.error{fill:#d80}
.chart svg .accepted{fill:none;stroke:#080;stroke-width:2}.chart svg .culprit{fill:#111}
.chart.small svg .tick{font-size:9px}.legend span{margin-right:1.2em}.empty{color:#999}
pre.diff{background:#f8f8f8;padding:.5em;overflow:auto;font-size:.85em}pre.diff span{display:block}pre.diff .add{background:#e6ffec}pre.diff .del{background:#ffebe9}
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
    if(xv!==undefined&&yv!==undefined){return dir*(parseFloat(xv)-parseFloat(yv));}
    return dir*x.textContent.localeCompare(y.textContent);
   });
   rows.forEach(function(r){body.appendChild(r);});
  });
 });
});`

// reportView is a report arranged for the change and compare pages.
type reportView struct {
	R        report.Report
	Targets  []targetView
	Geomeans []compare.Geomean
	Rest     []compare.Comparison // unchanged and informational
}

type targetView struct {
	Name         string
	Findings     []compare.Comparison
	Explanations []report.Explanation
}

func newReportView(r report.Report) reportView {
	v := reportView{R: r, Geomeans: r.Geomeans}
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
{{range .Targets}}<h2 id="t-{{.Name}}">{{.Name}}</h2>
{{if .Findings}}<table class="sortable findings"><thead><tr><th>verdict</th><th>benchmark</th><th>metric</th><th class="num">base</th><th class="num">head</th><th class="num">Δ</th><th class="num">p / exact</th><th>note</th></tr></thead><tbody>
{{range .Findings}}<tr><td class="{{.Verdict}}">{{.Verdict}}</td><td>{{.Benchmark}}</td><td>{{metric .Metric .Unit}}</td><td class="num" data-v="{{num .Base}}">{{value .Unit .Base}}</td><td class="num" data-v="{{num .Head}}">{{value .Unit .Head}}</td><td class="num {{.Verdict}}" data-v="{{num .DeltaPct}}">{{delta .DeltaPct}}</td><td class="num">{{if .P}}{{printf "%.3f" .P}}{{else}}exact{{end}}</td><td>{{.Note}}</td></tr>
{{end}}</tbody></table>{{end}}
{{range .Explanations}}<h3 class="{{if .Moved}}moved{{end}}">{{if .Moved}}Cost moved between functions of {{.Benchmark}} (total unchanged){{else}}Where the instructions of {{.Benchmark}} went{{end}}</h3>
<table class="sortable functions"><thead><tr><th>function</th><th class="num">base</th><th class="num">head</th><th class="num">Δ instructions</th><th class="num">Δ</th><th class="num">of the benchmark</th></tr></thead><tbody>
{{range .Functions}}<tr><td><code>{{.Name}}</code></td><td class="num" data-v="{{.Base}}">{{count .Base}}</td><td class="num" data-v="{{.Head}}">{{count .Head}}</td><td class="num" data-v="{{.Delta}}">{{signed .Delta}}</td><td class="num" data-v="{{num .DeltaPct}}">{{with .DeltaPct}}{{delta .}}{{else}}new{{end}}</td><td class="num" data-v="{{.ShareOfTotalPct}}">{{pct .ShareOfTotalPct}}</td></tr>
{{end}}</tbody></table>
{{range .Asm}}<details open><summary>assembly of <code>{{.Function}}</code> (− base, + head){{if .Truncated}}, cut{{end}}</summary><pre class="diff">{{range .Lines}}<span class="{{diffclass .Op}}">{{.Op}} {{.Text}}</span>{{end}}</pre></details>
{{end}}{{end}}{{end}}
{{with .Geomeans}}<h2>Geomeans</h2><table class="sortable"><thead><tr><th>target</th><th>suite</th><th>metric</th><th class="num">Δ</th><th class="num">benchmarks</th></tr></thead><tbody>
{{range .}}<tr><td>{{.Target}}</td><td>{{.Suite}}</td><td>{{metric .Metric ""}}</td><td class="num" data-v="{{.DeltaPct}}">{{pct .DeltaPct}}</td><td class="num" data-v="{{.N}}">{{.N}}</td></tr>
{{end}}</tbody></table>{{end}}
{{with $r.Notes}}<ul>{{range .}}<li>{{.}}</li>{{end}}</ul>{{end}}
{{with $r.Errors}}<h2>Infrastructure errors</h2><ul>{{range .}}<li class="error">{{.}}</li>{{end}}</ul>{{end}}
{{with .Rest}}<details><summary>{{len .}} unchanged and informational comparisons</summary><table class="sortable rest"><thead><tr><th>target</th><th>benchmark</th><th>metric</th><th class="num">base</th><th class="num">head</th><th class="num">Δ</th><th>verdict</th><th>note</th></tr></thead><tbody>
{{range .}}<tr><td>{{.Target}}</td><td>{{.Benchmark}}</td><td>{{metric .Metric .Unit}}</td><td class="num" data-v="{{num .Base}}">{{value .Unit .Base}}</td><td class="num" data-v="{{num .Head}}">{{value .Unit .Head}}</td><td class="num" data-v="{{num .DeltaPct}}">{{delta .DeltaPct}}</td><td>{{.Verdict}}</td><td>{{.Note}}</td></tr>
{{end}}</tbody></table></details>{{end}}
<h2>Reproduce</h2><pre>{{$r.Reproduce}}</pre>{{end}}`

var changePageTmpl = template.Must(template.New("change").Funcs(pageFuncs).Parse(reportTmplText + `<!doctype html>
<html><head><meta charset="utf-8"><title>tcbot: change {{.C.ID}}</title><style>` + pageStyle + `</style></head>
<body><p><a href="../">dashboard</a></p>
<h1>Change {{.C.ID}}: {{.C.Repo}} <code>{{short .C.Head}}</code>{{with .C.Verdict}} <span class="{{.}}">{{.}}</span>{{end}}</h1>
<p>{{with .Rep}}{{with .R.HeadSubject}}head <code>{{short $.C.Head}}</code> {{.}}<br>{{end}}{{with .R.BaseSubject}}base <code>{{short $.Rep.R.Base}}</code> {{.}}<br>{{end}}{{end}}
origin {{.C.Origin}}{{with .C.Branch}}, branch {{.}}{{end}}{{if .C.PR}}, pull request #{{.C.PR}}{{end}}; state {{.C.State}}{{with .C.Note}}; {{.}}{{end}}</p>
{{with .Targets}}<table><tr><th>target</th><th>state</th><th>measured by</th><th>note</th></tr>
{{range .}}<tr><td>{{.Target}}</td><td>{{.State}}</td><td>{{.Worker}}</td><td>{{.Note}}</td></tr>
{{end}}</table>{{end}}
{{with .Rep}}<p><a href="../compare?repo={{$.C.Repo}}&amp;base={{.R.Base}}&amp;head={{.R.Head}}">compare page</a> · <a href="{{$.C.ID}}?format=json">JSON</a> · <a href="../api/changes/{{$.C.ID}}">API</a></p>
{{template "report" .}}{{else}}<p>Not measured yet.</p>{{end}}
<script>` + sortScript + `</script></body></html>`))

var comparePageTmpl = template.Must(template.New("compare").Funcs(pageFuncs).Parse(reportTmplText + `<!doctype html>
<html><head><meta charset="utf-8"><title>tcbot: compare {{short .Rep.R.Base}}..{{short .Rep.R.Head}}</title><style>` + pageStyle + `</style></head>
<body><p><a href="./">dashboard</a></p>
<h1>{{.Rep.R.Repo}}: <code>{{short .Rep.R.Base}}</code> → <code>{{short .Rep.R.Head}}</code> <span class="{{.Rep.R.Verdict}}">{{.Rep.R.Verdict}}</span></h1>
<p>{{with .Rep.R.BaseSubject}}base {{.}}<br>{{end}}{{with .Rep.R.HeadSubject}}head {{.}}{{end}}</p>
<p>From the stored measurements of both revisions. <a href="api/compare?repo={{.Rep.R.Repo}}&amp;base={{.Rep.R.Base}}&amp;head={{.Rep.R.Head}}">JSON</a></p>
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
	rep, err := s.meas.CompareStored(r.Context(), repo, base, head, nil)
	if err != nil {
		http.Error(w, "compare: "+err.Error(), http.StatusNotFound)
		return nil, false
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

// apiHistory is GET /api/history?repo=R&branch=B.
func (s *Service) apiHistory(w http.ResponseWriter, r *http.Request) {
	repo, branch := r.URL.Query().Get("repo"), r.URL.Query().Get("branch")
	if repo == "" || branch == "" {
		http.Error(w, "history: parameters repo and branch are required: /api/history?repo=R&branch=B (GET /api/branches lists them)", http.StatusBadRequest)
		return
	}
	h, err := s.history(r.Context(), repo, branch)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeJSON(w, h)
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

// branchCharts are the charts of one branch on the dashboard.
type branchCharts struct {
	Repo, Branch string
	Geomeans     []chart
	Points       int
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
		for _, g := range h.Geomeans {
			if g.Metric != result.Instructions && g.Metric != result.CodeSize {
				continue
			}
			bc.Geomeans = append(bc.Geomeans, newChart(h, g, fmt.Sprintf("%s: %s geomean vs the first point", g.Target, g.Metric), 520, 190, ""))
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
<p class="legend"><span style="color:#c00">● regression</span><span style="color:#080">● improvement</span><span style="color:#080">◯ accepted</span><span>◆ bisected culprit</span></p>
{{range .Targets}}<h2>{{.Name}}</h2><div class="charts">{{range .Charts}}{{chart .}}{{end}}</div>{{end}}
</body></html>`))

// historyPage is GET /history?repo=R&branch=B&metric=M: one chart per
// benchmark and target.
func (s *Service) historyPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	repo, branch, metric := q.Get("repo"), q.Get("branch"), q.Get("metric")
	if repo == "" || branch == "" {
		http.Error(w, "history: parameters repo and branch are required: /history?repo=R&branch=B[&metric=instructions]", http.StatusBadRequest)
		return
	}
	if metric == "" {
		metric = result.Instructions
	}
	h, err := s.history(r.Context(), repo, branch)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
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
		c := newChart(h, b, b.Benchmark, 330, 150, "")
		c.Class = "small"
		ts[len(ts)-1].Charts = append(ts[len(ts)-1].Charts, c)
	}
	if !seen[metric] {
		http.Error(w, fmt.Sprintf("history: %s %s has no %s measurements (it has: %s)", repo, branch, metric, strings.Join(metrics, ", ")), http.StatusNotFound)
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
