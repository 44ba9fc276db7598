package service

import (
	"fmt"
	"html/template"
	"math"
	"strings"

	"github.com/tcbot/tcbot/bot/report"
)

// Charts are SVG drawn here, on the server: the dashboard needs no script
// and no service but this one to show them.

// chart is a line chart of one series over a branch's points: every
// point a circle that links to its change, regressions red, accepted
// changes ringed green, bisected culprits marked with a black diamond.
type chart struct {
	W, H   int
	Title  string
	Unit   string
	Better string
	Points []chartPoint
	Path   string // the line's SVG path
	Ticks  []chartTick
	Empty  bool
	Class  string
}

type chartPoint struct {
	X, Y     float64
	Href     string
	Title    string
	Class    string
	Culprit  bool
	Accepted bool
}

type chartTick struct {
	Y     float64
	Label string
}

const (
	padLeft, padRight, padTop, padBottom = 78.0, 14.0, 10.0, 22.0
)

// newChart lays out series s of history h in a w×hgt box; base is the
// dashboard's path prefix to the change pages ("" or "../").
func newChart(h *History, s Series, title string, w, hgt int, base string) chart {
	c := chart{W: w, H: hgt, Title: title, Unit: s.Unit, Better: s.Better}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range s.Values {
		if v != nil {
			lo, hi = math.Min(lo, *v), math.Max(hi, *v)
		}
	}
	if math.IsInf(lo, 1) {
		c.Empty = true
		return c
	}
	if s.Unit == "%" {
		lo, hi = math.Min(lo, 0), math.Max(hi, 0)
	}
	if hi-lo < 1e-9 {
		d := math.Max(math.Abs(hi)*0.01, 1)
		lo, hi = lo-d, hi+d
	}
	span := hi - lo
	lo, hi = lo-span*0.08, hi+span*0.08
	plotW, plotH := float64(w)-padLeft-padRight, float64(hgt)-padTop-padBottom
	n := len(s.Values)
	x := func(i int) float64 {
		if n == 1 {
			return padLeft + plotW/2
		}
		return padLeft + plotW*float64(i)/float64(n-1)
	}
	y := func(v float64) float64 { return padTop + plotH*(hi-v)/(hi-lo) }
	for i := 0; i < 4; i++ {
		v := lo + (hi-lo)*float64(i)/3
		c.Ticks = append(c.Ticks, chartTick{Y: y(v), Label: tickLabel(v, s.Unit)})
	}
	var path strings.Builder
	for i, v := range s.Values {
		if v == nil {
			continue
		}
		p := h.Points[i]
		cmd := "L"
		if path.Len() == 0 {
			cmd = "M"
		}
		fmt.Fprintf(&path, "%s%.1f %.1f ", cmd, x(i), y(*v))
		class := "pt"
		switch p.Verdict {
		case "regression", "failed":
			class += " regression"
		case "improvement", "fixed":
			class += " improvement"
		case "error":
			class += " error"
		}
		what := p.Verdict
		if what == "" {
			what = "base"
		}
		tip := fmt.Sprintf("%s %s\n%s: %s (%s)", shortRev(p.SHA), p.Subject, s.Metric, tickLabel(*v, s.Unit), what)
		if p.Accepted {
			tip += "\naccepted"
		}
		if p.Culprit {
			tip += "\nbisected culprit"
		}
		c.Points = append(c.Points, chartPoint{X: x(i), Y: y(*v), Href: fmt.Sprintf("%schanges/%d", base, p.Change), Title: tip, Class: class, Culprit: p.Culprit, Accepted: p.Accepted})
	}
	c.Path = strings.TrimSpace(path.String())
	return c
}

// tickLabel formats an axis value in the series' unit.
func tickLabel(v float64, unit string) string {
	if unit == "%" {
		return fmt.Sprintf("%+.2f%%", v)
	}
	return report.FormatValue(unit, &v)
}

var chartTmpl = template.Must(template.New("chart").Parse(`{{define "chart"}}<figure class="chart {{.Class}}"><figcaption>{{.Title}} <span class="better">{{.Unit}}, {{.Better}}</span></figcaption>
{{if .Empty}}<p class="empty">no measurements yet</p>{{else}}<svg xmlns="http://www.w3.org/2000/svg" width="{{.W}}" height="{{.H}}" viewBox="0 0 {{.W}} {{.H}}" role="img">
{{range .Ticks}}<line class="grid" x1="78" x2="{{$.W}}" y1="{{printf "%.1f" .Y}}" y2="{{printf "%.1f" .Y}}"/><text class="tick" x="72" y="{{printf "%.1f" .Y}}" text-anchor="end" dominant-baseline="middle">{{.Label}}</text>
{{end}}<path class="line" d="{{.Path}}"/>
{{range .Points}}<a href="{{.Href}}">{{if .Accepted}}<circle class="accepted" cx="{{printf "%.1f" .X}}" cy="{{printf "%.1f" .Y}}" r="8"/>{{end}}<circle class="{{.Class}}" cx="{{printf "%.1f" .X}}" cy="{{printf "%.1f" .Y}}" r="4.5"><title>{{.Title}}</title></circle>{{if .Culprit}}<path class="culprit" d="M{{printf "%.1f" .X}} {{printf "%.1f" .Y}} m0 -13 l5 5 l-5 5 l-5 -5 z"><title>{{.Title}}</title></path>{{end}}</a>
{{end}}</svg>{{end}}</figure>{{end}}`))
