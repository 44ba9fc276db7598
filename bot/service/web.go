package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/tcbot/tcbot/bot/bisect"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/sirupsen/logrus"

	"github.com/tcbot/tcbot/bot/report"
	"github.com/tcbot/tcbot/bot/store"
	"github.com/tcbot/tcbot/bot/webhook"
)

// Accept implements webhook.Sink: the delivery is recorded and its work
// queued in one transaction; the handler replies as soon as it commits.
// A delivery route ignores (webhook.Ignore) is still recorded, so its
// redelivery is a duplicate; the ignore is returned once that committed.
func (s *Service) Accept(ctx context.Context, ev webhook.Event) (duplicate bool, err error) {
	var ignored error
	err = s.store.Tx(ctx, func(tx store.Tx) error {
		dup, err := store.RecordDelivery(ctx, tx, ev.Delivery, ev.Kind, ev.Action)
		if err != nil || dup {
			duplicate = dup
			return err
		}
		err = s.route(ctx, tx, ev)
		if _, ok := errors.AsType[*webhook.IgnoredError](err); ok {
			ignored, err = err, nil
		}
		return err
	})
	if err == nil && ignored != nil {
		return false, ignored
	}
	return duplicate, err
}

// route queues the work a delivery asks for (inside Accept's transaction).
func (s *Service) route(ctx context.Context, tx store.Tx, ev webhook.Event) error {
	repo := s.repoByGitHub(ev.Repo)
	log := s.log.WithFields(logrus.Fields{"delivery": ev.Delivery, "event": ev.Kind, "action": ev.Action, "repo": ev.Repo})
	if repo == nil {
		log.Info("delivery for a repository tcbot does not watch")
		return webhook.Ignore("repository not watched")
	}
	switch {
	case ev.Push != nil:
		branch, ok := strings.CutPrefix(ev.Push.Ref, "refs/heads/")
		if !ok || !watched(repo, branch) {
			return nil
		}
		head := ev.Push.After
		if ev.Push.Deleted {
			head = ""
		}
		// Within Accept's transaction: branchMoved opens none of its own.
		return s.branchMovedTx(ctx, tx, repo.Name, branch, head, "push", ev.Push.Forced, false, log)
	case ev.PullRequest != nil:
		pr := ev.PullRequest
		p := store.Pull{Repo: repo.Name, Number: pr.Number, Head: pr.HeadSHA, BaseRef: pr.BaseRef, Author: pr.Author, Draft: pr.Draft, Open: ev.Action != "closed"}
		if err := store.UpsertPull(ctx, tx, p); err != nil {
			return err
		}
		switch ev.Action {
		case "closed":
			_, err := s.river.InsertTx(ctx, tx, CancelArgs{Repo: repo.Name, PR: pr.Number, Why: "pull request closed"}, nil)
			return err
		case "opened", "synchronize", "reopened", "ready_for_review":
			if pr.Draft {
				log.WithField("pr", pr.Number).Info("draft pull request waits until it is ready for review")
				return nil
			}
			_, err := s.river.InsertTx(ctx, tx, PullArgs{Repo: repo.Name, Number: pr.Number, Head: pr.HeadSHA}, nil)
			return err
		}
	case ev.Comment != nil:
		c := ev.Comment
		if !c.OnPullRequest {
			// /tcbot accept on an issue (the webhook passes nothing else
			// from plain issues).
			_, err := s.river.InsertTx(ctx, tx, CommandArgs{Repo: repo.Name, Issue: c.IssueNumber, CommentID: c.ID, Author: c.Author, Body: c.Body}, nil)
			return err
		}
		// The head the commenter saw: the one tcbot knows now, before any
		// later push is accepted.
		head := ""
		if p, ok, err := store.GetPull(ctx, tx, repo.Name, c.IssueNumber); err != nil {
			return err
		} else if ok {
			head = p.Head
		}
		_, err := s.river.InsertTx(ctx, tx, CommandArgs{Repo: repo.Name, PR: c.IssueNumber, CommentID: c.ID, Author: c.Author, Body: c.Body, Head: head}, nil)
		return err
	case ev.Rerequest != nil:
		_, err := s.river.InsertTx(ctx, tx, RerequestArgs{Repo: repo.Name, HeadSHA: ev.Rerequest.HeadSHA}, nil)
		return err
	}
	return nil
}

// branchMovedTx records a branch's new head and queues its measurement
// against the previous head tcbot took of it (or the new head's first
// parent). A poller's first sight of a branch only sets the baseline; a
// deleted branch is forgotten.
func (s *Service) branchMovedTx(ctx context.Context, tx store.Tx, repo, branch, head, origin string, forced, firstIsBaseline bool, log logrus.FieldLogger) error {
	prev, err := store.BranchHead(ctx, tx, repo, branch)
	if err != nil {
		return err
	}
	switch {
	case head == prev:
		return nil
	case head == "":
		log.WithField("branch", branch).Warn("watched branch deleted; forgetting its head")
		return store.SetBranchHead(ctx, tx, repo, branch, "")
	case prev == "" && firstIsBaseline:
		log.WithFields(logrus.Fields{"branch": branch, "head": short(head)}).Info("watching branch; its head is the baseline")
		return store.SetBranchHead(ctx, tx, repo, branch, head)
	}
	log.WithFields(logrus.Fields{"branch": branch, "from": short(prev), "to": short(head)}).Info("branch moved")
	if err := store.SetBranchHead(ctx, tx, repo, branch, head); err != nil {
		return err
	}
	base := prev
	if forced {
		// After a force-push the previous head may not be an ancestor:
		// measure against the new head's parent instead.
		log.WithField("branch", branch).Warn("force-push: measuring against the new head's parent")
		base = ""
	}
	return s.startChange(ctx, tx, &store.Change{Repo: repo, Head: head, Base: base, Origin: origin, Branch: branch, Note: "branch " + branch})
}

// WorkerHandler serves a worker's /healthz and /metrics.
func (s *Service) WorkerHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}))
	return mux
}

func (s *Service) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		http.Error(w, "database: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintf(w, "ok: %s up %s, targets %s\n", s.id, time.Since(s.started).Round(time.Second), strings.Join(s.targets, ","))
}

func (s *Service) handler() (http.Handler, error) {
	mux := http.NewServeMux()
	if s.gh != nil {
		wh, err := webhook.NewHandler(webhook.Options{Secret: s.secret, Sink: s, Log: s.log, Registerer: s.reg})
		if err != nil {
			return nil, err
		}
		mux.Handle("/webhook", wh)
	}
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /{$}", s.dashboard)
	mux.HandleFunc("GET /changes/{id}", s.changePage)
	mux.HandleFunc("GET /history", s.historyPage)
	mux.HandleFunc("GET /compare", s.comparePage)
	mux.HandleFunc("GET /api/branches", s.apiBranches)
	mux.HandleFunc("GET /api/history", s.apiHistory)
	mux.HandleFunc("GET /api/changes/{id}", s.apiChange)
	mux.HandleFunc("GET /api/compare", s.apiCompare)
	mux.HandleFunc("GET /bisections/{id}", s.bisectionPage)
	return mux, nil
}

var dashboardTmpl = template.Must(template.New("d").Funcs(pageFuncs).Funcs(template.FuncMap{"ago": ago}).Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>tcbot</title>
<style>` + pageStyle + `</style></head>
<body><h1>tcbot</h1>
{{range .Charts}}<h2>{{.Repo}}, branch {{.Branch}}</h2>
<p class="muted">{{.Points}} measured commits, oldest on the left. <a href="history?repo={{.Repo}}&amp;branch={{.Branch}}">Every benchmark</a> · <a href="api/history?repo={{.Repo}}&amp;branch={{.Branch}}">JSON</a></p>
<p class="legend">` + legend + `</p>
<div class="charts">{{range .Geomeans}}{{chart .}}{{end}}</div>
{{with .Marked}}<table class="marks"><thead><tr><th>commit</th><th>subject</th><th>marked</th></tr></thead><tbody>
{{range .}}<tr><td><a href="changes/{{.Change}}"><code>{{short .SHA}}</code></a></td><td>{{.Subject}}</td><td>{{if .Culprit}}◆ culprit found by <a href="bisections/{{.Bisection}}">bisection {{.Bisection}}</a>{{end}}{{if and .Culprit .Accepted}}; {{end}}{{if .Accepted}}<span class="improvement">◯</span> accepted by {{.AcceptedBy}}{{with .AcceptedWhy}}: “{{.}}”{{end}}{{end}}</td></tr>
{{end}}</tbody></table>{{end}}
{{else}}<p class="muted">No measured branch yet: pushes, sweeps and the demo put their measured changes here; <code>tcbot run</code>'s are under recent changes.</p>
{{end}}
<h2>Recent changes</h2><p class="muted">Newest first.</p>
<table class="sortable changes"><thead><tr><th>#</th><th>repo</th><th>head</th><th>base</th><th>origin</th><th>PR</th><th>state</th><th>verdict</th><th>note</th><th>queued</th></tr></thead><tbody>
{{range .Changes}}<tr><td><a href="changes/{{.ID}}">{{.ID}}</a></td><td>{{.Repo}}</td><td><code>{{printf "%.12s" .Head}}</code></td><td><code>{{printf "%.12s" .Base}}</code></td><td>{{.Origin}}</td><td>{{if .PR}}#{{.PR}}{{end}}</td><td>{{.State}}</td><td class="{{.Verdict}}">{{.Verdict}}</td><td>{{.Note}}</td><td>{{.CreatedAt.Format "2006-01-02 15:04:05"}}</td></tr>
{{end}}</tbody></table>
{{with .Drift}}<h2>Drift since the pinned baselines</h2><p>Each swept branch head against each baseline its repository pins: the geomean of head/baseline per target and metric.</p>
<table><tr><th>repo</th><th>sweep, branch</th><th>baseline</th><th>head</th><th>target</th><th>metric</th><th>geomean</th><th>benchmarks</th></tr>
{{range .}}<tr><td>{{.Repo}}</td><td>{{.Sweep}}</td><td>{{.Baseline}} <code>{{printf "%.12s" .Base}}</code></td><td><a href="changes/{{.Change}}"><code>{{printf "%.12s" .Head}}</code></a></td><td>{{.Target}}</td><td>{{.Metric}}</td><td>{{printf "%+.2f%%" .DeltaPct}}</td><td>{{.N}}</td></tr>
{{end}}</table>{{end}}
{{with .Bisections}}<h2>Bisections</h2><p>Searches for the commit that brought a regression, newest first.</p>
<table><tr><th>#</th><th>repo</th><th>good</th><th>bad</th><th>origin</th><th>PR</th><th>state</th><th>progress or result</th></tr>
{{range .}}<tr><td><a href="bisections/{{.B.ID}}">{{.B.ID}}</a></td><td>{{.B.Repo}}</td><td><code>{{printf "%.12s" .B.Good}}</code></td><td><code>{{printf "%.12s" .B.Bad}}</code></td><td>{{.B.Origin}}</td><td>{{if .B.PR}}#{{.B.PR}}{{end}}</td><td>{{.B.State}}</td><td>{{.Summary}}</td></tr>
{{end}}</table>{{end}}
<h2>Workers</h2><p>Processes taking jobs, with the targets whose measurements they run.</p>
<table><tr><th>worker</th><th>host</th><th>targets</th><th>last heartbeat</th><th>doing</th></tr>
{{range .Workers}}<tr><td>{{.ID}}</td><td>{{.Host}}</td><td>{{range $i, $t := .Targets}}{{if $i}}, {{end}}{{$t}}{{else}}none{{end}}</td><td class="{{if gt (ago .Heartbeat) $.DeadAfter}}silent{{end}}">{{printf "%.0f" (ago .Heartbeat)}} s ago</td><td><code>{{.Activity}}</code></td></tr>
{{else}}<tr><td colspan="5" class="muted">no worker process has reported yet</td></tr>
{{end}}</table><script>` + sortScript + `</script></body></html>
`))

// ago is the age of t in seconds.
func ago(t time.Time) float64 { return time.Since(t).Seconds() }

func (s *Service) dashboard(w http.ResponseWriter, r *http.Request) {
	changes, err := store.ListChanges(r.Context(), s.store.Q(), "", 100)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	workers, err := store.Workers(r.Context(), s.store.Q())
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	bs, err := store.ListBisections(r.Context(), s.store.Q(), "", 20)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	type bisectionRow struct {
		B       *store.Bisection
		Summary string
	}
	var rows []bisectionRow
	for _, b := range bs {
		rows = append(rows, bisectionRow{b, bisectionSummary(b)})
	}
	drift, err := s.driftRows(r.Context())
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	charts, err := s.dashboardCharts(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = dashboardTmpl.Execute(w, struct {
		Charts     []branchCharts
		Changes    []*store.Change
		Drift      []driftRow
		Bisections []bisectionRow
		Workers    []store.Worker
		DeadAfter  float64
	}{charts, changes, drift, rows, workers, s.deadAfter.Seconds()})
}

// bisectionSummary is a bisection in one line: its result's headline, or
// where it stands.
func bisectionSummary(b *store.Bisection) string {
	if b.State == store.BisectDone {
		var res bisect.Result
		if json.Unmarshal([]byte(b.Result), &res) == nil {
			return res.Headline()
		}
	}
	return firstNonEmpty(b.Note+" "+b.Progress, b.State)
}

var bisectionTmpl = template.Must(template.New("b").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>tcbot: bisection {{.B.ID}}</title>
<style>body{font-family:sans-serif;margin:2em}pre{background:#f6f6f6;padding:1em;overflow:auto}</style></head>
<body><p><a href="../">dashboard</a></p><h1>Bisection {{.B.ID}}: {{.B.Repo}} <code>{{printf "%.12s" .B.Good}}</code>..<code>{{printf "%.12s" .B.Bad}}</code></h1>
<p>origin {{.B.Origin}}{{if .B.PR}}, pull request #{{.B.PR}}{{end}}; state {{.B.State}}{{with .B.Progress}}; {{.}}{{end}}{{with .B.Note}}; {{.}}{{end}}</p>
{{if .Text}}<pre>{{.Text}}</pre><p><a href="{{.B.ID}}?format=json">JSON</a></p>{{end}}
</body></html>
`))

// bisectionPage shows one bisection: its progress, or its result as text
// (?format=json: the result as JSON).
func (s *Service) bisectionPage(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		http.Error(w, "bisection id: want a number", http.StatusBadRequest)
		return
	}
	b, err := store.GetBisection(r.Context(), s.store.Q(), id)
	if err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	var text string
	if b.State == store.BisectDone {
		var res bisect.Result
		if err := json.Unmarshal([]byte(b.Result), &res); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		if r.URL.Query().Get("format") == "json" {
			w.Header().Set("Content-Type", "application/json")
			_ = bisect.Render(w, &res, "json")
			return
		}
		var buf strings.Builder
		_ = bisect.Text(&buf, &res)
		text = buf.String()
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = bisectionTmpl.Execute(w, struct {
		B    *store.Bisection
		Text string
	}{b, text})
}

type metrics struct {
	queueLatency *prometheus.HistogramVec
	jobs         *prometheus.CounterVec
	reports      *prometheus.CounterVec
	rescued      prometheus.Counter
}

func newMetrics(reg *prometheus.Registry, st *store.Store) *metrics {
	m := &metrics{
		queueLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "tcbot_queue_latency_seconds", Help: "Time jobs waited in the queue before a worker took them.",
			Buckets: prometheus.ExponentialBuckets(0.01, 4, 10),
		}, []string{"kind"}),
		jobs:    prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tcbot_jobs_worked_total", Help: "Jobs worked by kind and result."}, []string{"kind", "result"}),
		reports: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tcbot_reports_total", Help: "Reports posted by verdict."}, []string{"verdict"}),
		rescued: prometheus.NewCounter(prometheus.CounterOpts{Name: "tcbot_jobs_rescued_total", Help: "Running jobs of dead worker processes made available again."}),
	}
	reg.MustRegister(m.queueLatency, m.jobs, m.reports, m.rescued, &jobStates{st: st}, &workerStates{st: st})
	return m
}

// jobStates reports River's jobs by kind and state at scrape time.
type jobStates struct{ st *store.Store }

var jobStatesDesc = prometheus.NewDesc("tcbot_jobs", "Jobs in the queue by kind, queue and state.", []string{"kind", "queue", "state"}, nil)

func (j *jobStates) Describe(ch chan<- *prometheus.Desc) { ch <- jobStatesDesc }

func (j *jobStates) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	rows, err := j.st.Q().Query(ctx, `SELECT kind, queue, state, count(*) FROM river_job GROUP BY kind, queue, state`)
	if err != nil {
		return
	}
	defer rows.Close()
	for rows.Next() {
		var kind, queue, state string
		var n int64
		if rows.Scan(&kind, &queue, &state, &n) == nil {
			ch <- prometheus.MustNewConstMetric(jobStatesDesc, prometheus.GaugeValue, float64(n), kind, queue, state)
		}
	}
}

// workerStates reports the worker processes and their heartbeats.
type workerStates struct{ st *store.Store }

var workerDesc = prometheus.NewDesc("tcbot_worker_heartbeat_age_seconds", "Seconds since each worker process's last heartbeat.", []string{"worker", "host"}, nil)

func (w *workerStates) Describe(ch chan<- *prometheus.Desc) { ch <- workerDesc }

func (w *workerStates) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	ws, err := store.Workers(ctx, w.st.Q())
	if err != nil {
		return
	}
	for _, x := range ws {
		ch <- prometheus.MustNewConstMetric(workerDesc, prometheus.GaugeValue, time.Since(x.Heartbeat).Seconds(), x.ID, x.Host)
	}
}

// driftRow is one geomean of a swept head against a pinned baseline.
type driftRow struct {
	Repo, Sweep, Baseline, Base, Head string
	Change                            int64
	Target, Metric                    string
	DeltaPct                          float64
	N                                 int
}

// driftRows are the geomeans of the newest drift change of each sweep,
// branch and pinned baseline.
func (s *Service) driftRows(ctx context.Context) ([]driftRow, error) {
	cs, err := store.ListChanges(ctx, s.store.Q(), "origin = 'drift' AND state = 'done'", 200)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []driftRow
	for _, c := range cs {
		f := strings.Fields(c.Note) // drift SWEEP BRANCH @NAME
		if len(f) != 4 || seen[c.Repo+" "+c.Note] {
			continue
		}
		seen[c.Repo+" "+c.Note] = true
		var rep report.Report
		if json.Unmarshal([]byte(c.Report), &rep) != nil {
			continue
		}
		for _, g := range rep.Geomeans {
			out = append(out, driftRow{Repo: c.Repo, Sweep: f[1] + ", " + f[2], Baseline: f[3], Base: rep.Base, Head: c.Head, Change: c.ID,
				Target: g.Target, Metric: g.Metric, DeltaPct: g.DeltaPct, N: g.N})
		}
	}
	return out, nil
}
