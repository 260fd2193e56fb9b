package verifier

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// PlotFormat is the picture format a --plot path asks for by its
// extension: "svg" or "png".
func PlotFormat(path string) (string, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".svg":
		return "svg", nil
	case ".png":
		return "png", nil
	}
	return "", fmt.Errorf("%s: the picture is SVG or PNG, named .svg or .png", path)
}

var (
	p50Color    = color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}
	p99Color    = color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff}
	okColor     = color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff}
	failColor   = color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}
	phaseColor  = color.Gray{Y: 0x99}
	windowColor = color.NRGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0x20} // not premultiplied: a light shade
)

// searchingPhases are the phases whose searches the timeline records.
var searchingPhases = map[string]bool{"benchmark": true, "sweep": true, "rate": true, "mixed": true, "fault": true}

// WritePlot draws the run's searches over time, to path (SVG or PNG by
// its extension), through a temporary file: a failed write leaves
// nothing. Top: latency p50 and p99 of each second's successful searches
// (ms, log scale; the open loop's from each search's intended start),
// with the p99 SLO when sloP99Ms > 0. Bottom: searches per second, ok and
// failed. Both: each measuring phase's start, named; the fault's kill and
// the end of its window in red, the window shaded.
func (r *Report) WritePlot(path string, sloP99Ms float64) error {
	format, err := PlotFormat(path)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := r.drawPlot(tmp, format, sloP99Ms); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	// CreateTemp makes it private; a picture is for sharing.
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func (r *Report) drawPlot(w io.Writer, format string, sloP99Ms float64) error {
	var secs []Second
	var spans []Span
	var marks []Mark
	if r.timeline != nil {
		secs, spans, marks = r.timeline.Seconds()
	}
	lat, thr := plot.New(), plot.New()
	lat.Title.Text = fmt.Sprintf("Milvus verification %s (Milvus %s): %s\n%s", r.RunID, r.ServerVersion, strings.ToUpper(string(r.Verdict)), r.Workload)
	lat.Y.Label.Text = "latency ms (log)"
	lat.Y.Scale = plot.LogScale{}
	lat.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	lat.Legend.Top = true
	thr.X.Label.Text = "seconds since the start of the run"
	thr.Y.Label.Text = "searches per second"
	thr.Legend.Top = true
	if len(secs) == 0 {
		thr.Title.Text = "no search was measured"
		// Empty axes; a log scale needs a positive range.
		lat.Y.Min, lat.Y.Max, thr.Y.Min, thr.Y.Max = 1, 100, 0, 1
		for _, p := range []*plot.Plot{lat, thr} {
			p.X.Min, p.X.Max = 0, 1
		}
		return render(w, format, lat, thr)
	}
	// Room on the right for the legend and the last mark's name.
	x0, x1 := secs[0].T, secs[len(secs)-1].T+1
	x1 += (x1 - x0) * 0.12
	lo, hi := math.Inf(1), 0.0
	for _, s := range secs {
		if !math.IsNaN(s.P50Ms) {
			lo, hi = math.Min(lo, s.P50Ms), math.Max(hi, s.P99Ms)
		}
	}
	hi = math.Max(hi, 0.01)
	if sloP99Ms > 0 {
		hi = math.Max(hi, sloP99Ms)
	}
	if math.IsInf(lo, 1) { // nothing succeeded
		lo, hi = 1, math.Max(hi, 10)
	}
	lo, hi = math.Max(lo/2, 0.001), hi*2
	var top float64
	for _, s := range secs {
		top = math.Max(top, float64(max(s.OK, s.Failed)))
	}
	top = math.Max(top*1.15, 1)

	// The fault window, shaded, under everything else.
	var kill, end *Mark
	for i := range marks {
		if marks[i].Name == "window end" {
			end = &marks[i]
		} else if kill == nil {
			kill = &marks[i]
		}
	}
	if kill != nil && end != nil {
		for _, p := range []struct {
			p      *plot.Plot
			lo, hi float64
		}{{lat, lo, hi}, {thr, 0, top}} {
			poly, err := plotter.NewPolygon(plotter.XYs{{X: kill.At, Y: p.lo}, {X: end.At, Y: p.lo}, {X: end.At, Y: p.hi}, {X: kill.At, Y: p.hi}})
			if err != nil {
				return err
			}
			poly.Color, poly.LineStyle.Width = windowColor, 0
			p.p.Add(poly)
		}
	}

	// Latency: one line per run of seconds with successes, so that an
	// outage is a gap, not a slope.
	for _, q := range []struct {
		name  string
		c     color.Color
		value func(Second) float64
	}{{"p50", p50Color, func(s Second) float64 { return s.P50Ms }}, {"p99", p99Color, func(s Second) float64 { return s.P99Ms }}} {
		var run plotter.XYs
		first := true
		flush := func() error {
			if len(run) == 0 {
				return nil
			}
			if len(run) == 1 { // a lone second: a short flat line
				run = append(run, plotter.XY{X: run[0].X + 0.9, Y: run[0].Y})
			}
			l, err := plotter.NewLine(run)
			if err != nil {
				return err
			}
			l.Color, l.Width = q.c, vg.Points(1.2)
			lat.Add(l)
			if first {
				lat.Legend.Add(q.name, l)
				first = false
			}
			run = nil
			return nil
		}
		for _, s := range secs {
			if v := q.value(s); math.IsNaN(v) {
				if err := flush(); err != nil {
					return err
				}
			} else {
				// A log scale has no zero: a latency under a microsecond
				// (a fake, a cached answer) sits at the axis' floor.
				run = append(run, plotter.XY{X: s.T + 0.5, Y: math.Max(v, lo)})
			}
		}
		if err := flush(); err != nil {
			return err
		}
	}
	if sloP99Ms > 0 {
		l, err := plotter.NewLine(plotter.XYs{{X: x0, Y: sloP99Ms}, {X: x1, Y: sloP99Ms}})
		if err != nil {
			return err
		}
		l.Color, l.Dashes = p99Color, []vg.Length{vg.Points(6), vg.Points(3)}
		lat.Add(l)
		lat.Legend.Add(fmt.Sprintf("p99 SLO %g ms", sloP99Ms), l)
	}

	// Throughput.
	for _, q := range []struct {
		name  string
		c     color.Color
		value func(Second) int64
	}{{"ok", okColor, func(s Second) int64 { return s.OK }}, {"failed", failColor, func(s Second) int64 { return s.Failed }}} {
		xys := make(plotter.XYs, len(secs))
		for i, s := range secs {
			xys[i] = plotter.XY{X: s.T + 0.5, Y: float64(q.value(s))}
		}
		l, err := plotter.NewLine(xys)
		if err != nil {
			return err
		}
		l.Color, l.Width = q.c, vg.Points(1.2)
		thr.Add(l)
		thr.Legend.Add(q.name, l)
	}

	// The phases that search: a line at each start, named.
	var names plotter.XYLabels
	for _, sp := range spans {
		if !searchingPhases[sp.Name] {
			continue
		}
		if err := vline(lat, sp.From, lo, hi, phaseColor, true); err != nil {
			return err
		}
		if err := vline(thr, sp.From, 0, top, phaseColor, true); err != nil {
			return err
		}
		// Staggered: a short phase's name would cover the next one's.
		names.XYs = append(names.XYs, plotter.XY{X: math.Max(sp.From, x0), Y: top * (0.93 - 0.08*float64(len(names.XYs)%3))})
		names.Labels = append(names.Labels, " "+sp.Name)
	}
	for _, m := range marks {
		if err := vline(lat, m.At, lo, hi, failColor, m.Name == "window end"); err != nil {
			return err
		}
		if err := vline(thr, m.At, 0, top, failColor, m.Name == "window end"); err != nil {
			return err
		}
		names.XYs = append(names.XYs, plotter.XY{X: m.At, Y: top * (0.93 - 0.08*float64(len(names.XYs)%3))})
		names.Labels = append(names.Labels, " "+m.Name)
	}
	if len(names.XYs) > 0 {
		l, err := plotter.NewLabels(names)
		if err != nil {
			return err
		}
		thr.Add(l)
	}
	for _, p := range []*plot.Plot{lat, thr} {
		p.X.Min, p.X.Max = x0, x1
		p.Add(plotter.NewGrid())
	}
	lat.Y.Min, lat.Y.Max = lo, hi
	thr.Y.Min, thr.Y.Max = 0, top
	return render(w, format, lat, thr)
}

// vline draws a vertical line at x from y0 to y1.
func vline(p *plot.Plot, x, y0, y1 float64, c color.Color, dashed bool) error {
	l, err := plotter.NewLine(plotter.XYs{{X: x, Y: y0}, {X: x, Y: y1}})
	if err != nil {
		return err
	}
	l.Color = c
	if dashed {
		l.Dashes = []vg.Length{vg.Points(3), vg.Points(3)}
	}
	p.Add(l)
	return nil
}

// render stacks the plots, aligned on a shared x axis, 10 by 7 inches.
func render(w io.Writer, format string, plots ...*plot.Plot) error {
	width, height := 10*vg.Inch, 7*vg.Inch
	var canvas vg.CanvasWriterTo
	switch format {
	case "svg":
		// Without embedded fonts: a viewer's sans-serif is fine, and the
		// file stays small.
		canvas = vgsvg.NewWith(vgsvg.UseWH(width, height), vgsvg.EmbedFonts(false))
	default:
		canvas = vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(width, height), vgimg.UseDPI(96))}
	}
	grid := make([][]*plot.Plot, len(plots))
	for i, p := range plots {
		grid[i] = []*plot.Plot{p}
	}
	tiles := draw.Tiles{Rows: len(plots), Cols: 1, PadTop: vg.Points(6), PadBottom: vg.Points(6), PadLeft: vg.Points(6), PadRight: vg.Points(12), PadY: vg.Points(12)}
	cs := plot.Align(grid, tiles, draw.New(canvas))
	for i, p := range plots {
		p.Draw(cs[i][0])
	}
	_, err := canvas.WriteTo(w)
	return err
}
