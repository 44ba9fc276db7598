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
// point a circle that links to its change, coloured by what that change
// did to this series (red: regression, green: improvement), accepted
// changes ringed green, bisected culprits marked with a black diamond;
// the x axis names the commits.
type chart struct {
	W, H   int
	Title  string
	Sub    string // what the values are, under the title
	Unit   string
	Better string
	Points []chartPoint
	Path   string // the line's SVG path
	Ticks  []chartTick
	XTicks []chartTick // commit labels, thinned to fit
	Zero   *float64    // y of the 0% line of a relative chart
	Left   float64     // x where the plot starts
	Right  float64     // x where it ends
	Bottom float64     // y of the x axis
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
	Moved    bool // regression or improvement: a guide line down to the axis
}

type chartTick struct {
	X, Y  float64
	Label string
}

const padLeft, padRight, padTop, padBottom = 70.0, 30.0, 14.0, 30.0

// newChart lays out series s of history h in a w×hgt box; base is the
// dashboard's path prefix to the change pages ("" or "../").
func newChart(h *History, s Series, title string, w, hgt int, base string) chart {
	c := chart{W: w, H: hgt, Title: title, Unit: s.Unit, Better: s.Better,
		Left: padLeft, Right: float64(w) - padRight, Bottom: float64(hgt) - padBottom}
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
		d := math.Max(math.Abs(hi)*0.01, 0.5)
		if s.Unit == "%" {
			d = 0.5
		}
		lo, hi = lo-d, hi+d
	}
	step := niceStep(hi-lo, 4)
	lo, hi = math.Floor(lo/step-0.15)*step, math.Ceil(hi/step+0.15)*step
	plotW, plotH := c.Right-c.Left, c.Bottom-padTop
	n := len(s.Values)
	x := func(i int) float64 {
		if n == 1 {
			return c.Left + plotW/2
		}
		return c.Left + plotW*float64(i)/float64(n-1)
	}
	y := func(v float64) float64 { return padTop + plotH*(hi-v)/(hi-lo) }
	for v := lo; v <= hi+step/2; v += step {
		if math.Abs(v) < step/1e6 {
			v = 0
		}
		c.Ticks = append(c.Ticks, chartTick{Y: y(v), Label: tickLabel(v, step, s.Unit)})
	}
	if s.Unit == "%" {
		z := y(0)
		c.Zero = &z
	}
	// Commit labels: as many as fit (about 70 px each), always the last.
	every := int(math.Ceil(float64(n) * 70 / plotW))
	if every < 1 {
		every = 1
	}
	for i := n - 1; i >= 0; i -= every {
		c.XTicks = append(c.XTicks, chartTick{X: x(i), Y: c.Bottom + 16, Label: shortSHA(h.Points[i].SHA)})
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
		verdict := ""
		if i < len(s.Verdicts) {
			verdict = s.Verdicts[i]
		}
		class := "pt"
		switch verdict {
		case "regression", "failed":
			class += " regression"
		case "improvement", "fixed":
			class += " improvement"
		case "error":
			class += " error"
		case Mixed:
			class += " mixed"
		}
		tip := fmt.Sprintf("%s %s\n%s: %s", shortRev(p.SHA), p.Subject, s.Metric, valueLabel(*v, s.Unit))
		switch {
		case p.Verdict == "":
			tip += "\nthe first measured commit (the base)"
		case verdict == Mixed:
			tip += fmt.Sprintf("\nbetter on the whole, but some benchmarks regressed; the change: %s", p.Verdict)
		case verdict != "":
			tip += fmt.Sprintf("\n%s here; the change: %s", verdict, p.Verdict)
		default:
			tip += "\nthe change: " + p.Verdict
		}
		if p.Accepted {
			tip += fmt.Sprintf("\naccepted by %s: %s", p.AcceptedBy, p.AcceptedWhy)
		}
		if p.Culprit {
			tip += fmt.Sprintf("\nculprit of a regression (bisection %d)", p.Bisection)
		}
		c.Points = append(c.Points, chartPoint{X: x(i), Y: y(*v), Href: fmt.Sprintf("%schanges/%d", base, p.Change), Title: tip, Class: class,
			Culprit: p.Culprit, Accepted: p.Accepted, Moved: class != "pt"})
	}
	c.Path = strings.TrimSpace(path.String())
	return c
}

// niceStep is a round step (1, 2, 2.5 or 5 times a power of ten) that
// cuts span into about n intervals.
func niceStep(span float64, n int) float64 {
	raw := span / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5} {
		if m*mag >= raw {
			return m * mag
		}
	}
	return 10 * mag
}

// decimals is how many decimals tell ticks step apart.
func decimals(step float64) int {
	d := 0
	for d < 9 && math.Abs(step*math.Pow(10, float64(d))-math.Round(step*math.Pow(10, float64(d)))) > 1e-9*math.Pow(10, float64(d)) {
		d++
	}
	return d
}

// tickLabel formats an axis value in the series' unit, as precisely as
// the step between ticks needs: "+2.5%", "97.5M", "12 kB", "0.35 s".
func tickLabel(v, step float64, unit string) string {
	if unit == "%" {
		if v == 0 {
			return "0%"
		}
		return fmt.Sprintf("%+.*f%%", decimals(step), v)
	}
	scale, prefix := 1.0, ""
	for _, p := range []struct {
		f float64
		s string
	}{{1e9, "G"}, {1e6, "M"}, {1e3, "k"}} {
		if math.Abs(v) >= p.f || math.Abs(step) >= p.f {
			scale, prefix = p.f, p.s
			break
		}
	}
	num := fmt.Sprintf("%.*f", decimals(step/scale), v/scale)
	switch unit {
	case "count", "":
		return num + prefix
	case "bytes":
		return num + " " + prefix + "B"
	}
	return num + " " + prefix + unit
}

// valueLabel is a point's value in full, for its tooltip.
func valueLabel(v float64, unit string) string {
	if unit == "%" {
		return fmt.Sprintf("%+.3f%% vs the first point", v)
	}
	return report.FormatValue(unit, &v)
}

// shortSHA is the 8-hex-digit label of a commit on an axis.
func shortSHA(s string) string {
	if len(s) > 8 && strings.Trim(s, "0123456789abcdef") == "" {
		return s[:8]
	}
	return s
}

var chartTmpl = template.Must(template.New("chart").Funcs(template.FuncMap{"f": func(v float64) string { return fmt.Sprintf("%.1f", v) }}).Parse(`{{define "chart"}}<figure class="chart {{.Class}}" style="width:{{.W}}px"><figcaption>{{.Title}}<br><span class="better">{{with .Sub}}{{.}}, {{end}}{{if ne .Unit "%"}}{{.Unit}}, {{end}}{{.Better}}</span></figcaption>
{{if .Empty}}<p class="empty">no measurements yet</p>{{else}}<svg xmlns="http://www.w3.org/2000/svg" width="{{.W}}" height="{{.H}}" viewBox="0 0 {{.W}} {{.H}}" role="img" aria-label="{{.Title}}">
{{range .Ticks}}<line class="grid" x1="{{f $.Left}}" x2="{{f $.Right}}" y1="{{f .Y}}" y2="{{f .Y}}"/><text class="tick" x="{{f $.Left}}" dx="-6" y="{{f .Y}}" text-anchor="end" dominant-baseline="middle">{{.Label}}</text>
{{end}}{{with .Zero}}<line class="zero" x1="{{f $.Left}}" x2="{{f $.Right}}" y1="{{f .}}" y2="{{f .}}"/>{{end}}
<line class="axis" x1="{{f .Left}}" x2="{{f .Right}}" y1="{{f .Bottom}}" y2="{{f .Bottom}}"/>
{{range .XTicks}}<text class="xtick" x="{{f .X}}" y="{{f .Y}}" text-anchor="middle">{{.Label}}</text>
{{end}}{{range .Points}}{{if .Moved}}<line class="guide {{.Class}}" x1="{{f .X}}" x2="{{f .X}}" y1="{{f .Y}}" y2="{{f $.Bottom}}"/>{{end}}{{end}}
<path class="line" d="{{.Path}}"/>
{{range .Points}}<a href="{{.Href}}">{{if .Accepted}}<circle class="accepted" cx="{{f .X}}" cy="{{f .Y}}" r="8.5"/>{{end}}<circle class="{{.Class}}" cx="{{f .X}}" cy="{{f .Y}}" r="5"><title>{{.Title}}</title></circle>{{if .Culprit}}<path class="culprit" d="M{{f .X}} {{f .Y}} m0 -20 l5 5.5 l-5 5.5 l-5 -5.5 z"><title>{{.Title}}</title></path>{{end}}</a>
{{end}}</svg>{{end}}</figure>{{end}}`))
