package main

import (
	"cmp"
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mlasimd/mlasimd/bench"
	"github.com/mlasimd/mlasimd/bench/demo/timing"
	"github.com/mlasimd/mlasimd/dispatch"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// dpi of the PNGs: 9x6 inches are 864x576 pixels.
const dpi = 96

// levelStyle gives each Level one colour and a filled and an open marker in every
// picture.
var levelStyle = map[dispatch.Level]struct {
	color        color.Color
	filled, open draw.GlyphDrawer
}{
	dispatch.AVX512:  {color.RGBA{R: 200, G: 30, B: 30, A: 255}, draw.CircleGlyph{}, draw.RingGlyph{}},
	dispatch.AVX2:    {color.RGBA{R: 20, G: 60, B: 210, A: 255}, draw.PyramidGlyph{}, draw.TriangleGlyph{}},
	dispatch.NEON:    {color.RGBA{G: 140, B: 60, A: 255}, draw.BoxGlyph{}, draw.SquareGlyph{}},
	dispatch.Generic: {color.Gray{Y: 100}, draw.CrossGlyph{}, draw.PlusGlyph{}},
}

var (
	dashed = []vg.Length{vg.Points(6), vg.Points(3)}
	dotted = []vg.Length{vg.Points(1.5), vg.Points(2.5)}
)

// ticks125 marks a log axis at 1, 2 and 5 per decade (only 1 over more than three
// decades), with unlabelled minor ticks between.
type ticks125 struct{}

func (ticks125) Ticks(lo, hi float64) []plot.Tick {
	var ts []plot.Tick
	wide := math.Log10(hi/lo) > 3
	for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
		for m := 1.0; m <= 9; m++ {
			v := m * math.Pow(10, e)
			if v < lo*(1-1e-9) || v > hi*(1+1e-9) {
				continue
			}
			t := plot.Tick{Value: v}
			if m == 1 || (!wide && (m == 2 || m == 5)) {
				t.Label = tickLabel(v)
			}
			ts = append(ts, t)
		}
	}
	return ts
}

// tickLabel writes v plainly (100000, 0.05) in the range the pictures use.
func tickLabel(v float64) string {
	if v >= 1e-3 && v < 1e7 {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

// newPlot is a plot with log axes and the report's look.
func newPlot(title, x, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = vg.Points(13)
	p.Title.Padding = vg.Points(6)
	p.X.Label.Text, p.Y.Label.Text = x, y
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	p.X.Tick.Marker, p.Y.Tick.Marker = ticks125{}, ticks125{}
	p.Add(plotter.NewGrid())
	p.Legend.TextStyle.Font.Size = vg.Points(10)
	p.Legend.Padding = vg.Points(2)
	return p
}

// decade rounds v down (or up) to a power of ten.
func decade(v float64, up bool) float64 {
	if up {
		return math.Pow(10, math.Ceil(math.Log10(v)))
	}
	return math.Pow(10, math.Floor(math.Log10(v)))
}

func line(pts plotter.XYs, c color.Color, width float64, dashes []vg.Length) (*plotter.Line, error) {
	l, err := plotter.NewLine(pts)
	if err != nil {
		return nil, err
	}
	l.Color, l.Width, l.Dashes = c, vg.Points(width), dashes
	return l, nil
}

func scatter(pts plotter.XYs, c color.Color, g draw.GlyphDrawer, radius float64) (*plotter.Scatter, error) {
	s, err := plotter.NewScatter(pts)
	if err != nil {
		return nil, err
	}
	s.GlyphStyle.Color, s.GlyphStyle.Shape, s.GlyphStyle.Radius = c, g, vg.Points(radius)
	return s, nil
}

// ceiling is min(peak, bw x intensity) over [lo, hi].
func ceiling(bw, peak, lo, hi float64) plotter.XYs {
	return plotter.XYs{{X: lo, Y: bw * lo}, {X: peak / bw, Y: peak}, {X: hi, Y: peak}}
}

// plotted picks the kernel measurements the roofline shows: for each kernel with
// arithmetic, its largest shape, at every Level.
func plotted(results []bench.Result) []bench.Result {
	largest := map[string]bench.Case{}
	for _, r := range results {
		if r.Case.Flops == 0 || r.GFLOP <= 0 {
			continue // conversions do no arithmetic
		}
		if c, ok := largest[r.Case.Kernel]; !ok || r.Case.Bytes > c.Bytes {
			largest[r.Case.Kernel] = r.Case
		}
	}
	var out []bench.Result
	for _, r := range results {
		if c, ok := largest[r.Case.Kernel]; ok && c.Shape == r.Case.Shape && c.DType == r.Case.DType && r.GFLOP > 0 {
			out = append(out, r)
		}
	}
	return out
}

// spread moves the labels of a log-log roofline apart: a label that would overlap one
// above it (7-point text on the 12 x 6.5 inch picture, the data area about 8 x 5.5
// inches) goes down a line at a time, so that every label stays readable next to its
// marker.
func spread(l plotter.XYLabels, xlo, xhi, ylo, yhi float64) {
	const lineH, charW = 8.0, 3.6 // points
	xPer := 8 * 72 / math.Log10(xhi/xlo)
	yPer := 5.5 * 72 / math.Log10(yhi/ylo)
	type box struct{ x0, x1, y float64 } // points: x0..x1 wide, y the baseline
	var placed []box
	order := make([]int, len(l.XYs))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(l.XYs[b].Y, l.XYs[a].Y) })
	for _, i := range order {
		x, y := math.Log10(l.XYs[i].X/xlo)*xPer, math.Log10(l.XYs[i].Y/ylo)*yPer
		b := box{x, x + charW*float64(len(l.Labels[i])), y}
		for moved := true; moved; {
			moved = false
			for _, o := range placed {
				if b.x0 < o.x1 && o.x0 < b.x1 && math.Abs(b.y-o.y) < lineH {
					b.y, moved = o.y-lineH, true
				}
			}
		}
		placed = append(placed, b)
		l.XYs[i].Y = ylo * math.Pow(10, b.y/yPer)
	}
}

// kernelLabel names a Case shortly: "Gemv 576x2048", "Dot 65536".
func kernelLabel(c bench.Case) string {
	return c.Kernel + " " + strings.TrimPrefix(strings.TrimPrefix(c.Shape, "shape="), "n=")
}

// writeRoofline draws arithmetic intensity against GFLOP/s on log axes: the one-core
// ceilings (DRAM and cache bandwidths and the multiply-add peak, measured) with each
// kernel at its largest shape, one marker per Level, labelled with the kernel and
// shape, and, when dec is set, the all-worker ceilings with the MLA decode steps at
// each context length (one line per Level, S labelled on the best).
func writeRoofline(path string, results []bench.Result, m machine, dec *decodeFigures) error {
	p := newPlot(fmt.Sprintf("Roofline: mlasimd on %s, measured %s", timing.CPUName(), time.Now().UTC().Format("2006-01-02")),
		"arithmetic intensity (FLOP/byte)", "GFLOP/s")
	leg := newLegend()

	results = plotted(results)
	byLevel := map[dispatch.Level]plotter.XYs{}
	xs, ys := []float64{m.PeakGFLOP / m.ReadGBs}, []float64{m.PeakGFLOP}
	// Each label sits at the fastest Level's marker of its Case, the other Levels'
	// markers straight below it (the same intensity).
	fastest := map[string]int{}
	for i, r := range results {
		if j, ok := fastest[r.Case.Kernel]; !ok || r.GFLOP > results[j].GFLOP {
			fastest[r.Case.Kernel] = i
		}
	}
	var labels plotter.XYLabels
	for i, r := range results {
		pt := plotter.XY{X: r.Case.Flops / r.Case.Bytes, Y: r.GFLOP}
		byLevel[r.Level] = append(byLevel[r.Level], pt)
		xs, ys = append(xs, pt.X), append(ys, pt.Y)
		if fastest[r.Case.Kernel] == i {
			labels.XYs = append(labels.XYs, pt)
			labels.Labels = append(labels.Labels, kernelLabel(r.Case))
		}
	}
	if dec != nil {
		xs, ys = append(xs, m.AllPeak()/m.AllGBs), append(ys, m.AllPeak())
		for _, r := range dec.rows {
			xs, ys = append(xs, r.Intensity()), append(ys, r.GFLOPs())
		}
	}
	lo, hi := slices.Min(xs)/1.5, slices.Max(xs)*2
	p.X.Min, p.X.Max = lo, hi
	p.Y.Min, p.Y.Max = slices.Min(ys)/1.5, slices.Max(ys)*2

	roof, err := line(ceiling(m.ReadGBs, m.PeakGFLOP, lo, hi), color.Black, 2, nil)
	if err != nil {
		return err
	}
	p.Add(roof)
	leg.Add(fmt.Sprintf("1 core: DRAM %.0f GB/s, peak %.0f GFLOP/s", m.ReadGBs, m.PeakGFLOP), roof)
	for _, c := range m.Caches {
		l, err := line(ceiling(c.GBs, m.PeakGFLOP, lo, hi), color.Gray{Y: 150}, 1, dotted)
		if err != nil {
			return err
		}
		p.Add(l)
		leg.Add(fmt.Sprintf("1 core, %s (%s): %.0f GB/s", c.Name, timing.Human(c.Bytes), c.GBs), l)
	}
	if dec != nil {
		all, err := line(ceiling(m.AllGBs, m.AllPeak(), lo, hi), color.Gray{Y: 90}, 1.5, dashed)
		if err != nil {
			return err
		}
		p.Add(all)
		leg.Add(fmt.Sprintf("%d workers: %.0f GB/s read, %d x peak", m.Workers, m.AllGBs, m.Workers), all)
	}
	for _, l := range slices.Backward(dispatch.All) {
		if pts, ok := byLevel[l]; ok {
			s, err := scatter(pts, levelStyle[l].color, levelStyle[l].filled, 2.5)
			if err != nil {
				return err
			}
			p.Add(s)
			leg.Add("kernels, "+l.String()+", 1 core", s)
		}
	}
	if len(labels.XYs) > 0 {
		spread(labels, p.X.Min, p.X.Max, p.Y.Min, p.Y.Max)
		lb, err := plotter.NewLabels(labels)
		if err != nil {
			return err
		}
		lb.Offset = vg.Point{X: vg.Points(4), Y: vg.Points(-3)}
		for i := range lb.TextStyle {
			lb.TextStyle[i].Font.Size = vg.Points(7)
		}
		p.Add(lb)
	}
	if dec != nil {
		if err := addDecodeRoofline(p, &leg, dec); err != nil {
			return err
		}
	}
	leg.Add("")
	leg.Add("Each kernel at its largest shape, labelled at")
	leg.Add("its fastest Level, the other Levels below it.")
	leg.Add("Dotted: the cache levels' bandwidth ceilings;")
	leg.Add("a shape whose bytes fit in a cache runs from it.")
	if dec != nil {
		leg.Add("Decode steps move right as S grows: the cache")
		leg.Add("adds work for all heads per byte read.")
	}
	return save(path, 12*vg.Inch, 6.5*vg.Inch, [][]*plot.Plot{{p}}, &leg, 3.2*vg.Inch)
}

// addDecodeRoofline adds one line of open markers per Level through its decode steps
// (intensity grows with S: the cache adds work for all heads per byte read).
func addDecodeRoofline(p *plot.Plot, leg *plot.Legend, dec *decodeFigures) error {
	first := true
	for _, l := range slices.Backward(dispatch.All) {
		var pts plotter.XYs
		var labels []string
		for _, r := range dec.rows {
			if r.Level == l {
				pts = append(pts, plotter.XY{X: r.Intensity(), Y: r.GFLOPs()})
				labels = append(labels, fmt.Sprintf("S=%d", r.S))
			}
		}
		if len(pts) == 0 {
			continue
		}
		st := levelStyle[l]
		ln, err := line(pts, st.color, 1, dotted)
		if err != nil {
			return err
		}
		s, err := scatter(pts, st.color, st.open, 6)
		if err != nil {
			return err
		}
		p.Add(ln, s)
		leg.Add(fmt.Sprintf("MLA decode step, %s, %d workers", l, dec.workers), s)
		if first {
			first = false
			lb, err := plotter.NewLabels(plotter.XYLabels{XYs: pts, Labels: labels})
			if err != nil {
				return err
			}
			lb.Offset = vg.Point{X: vg.Points(9), Y: vg.Points(-15)}
			for i := range lb.TextStyle {
				lb.TextStyle[i].Font.Size = vg.Points(9)
				lb.TextStyle[i].Color = st.color
			}
			p.Add(lb)
		}
	}
	return nil
}

// writeDecode draws two panels: decode ms/step against context length, absorbed
// (solid) and naive (dashed) per Level; and one sequence's KV cache against context
// length, MLA's latent cache against MHA and GQA.
func writeDecode(path string, dec *decodeFigures) error {
	c := dec.cfg
	var sTicks []plot.Tick
	for _, cs := range dec.caches {
		sTicks = append(sTicks, plot.Tick{Value: float64(cs.S), Label: strconv.Itoa(cs.S)})
	}
	sLo, sHi := float64(slices.Min(contexts(dec)))/1.5, float64(slices.Max(contexts(dec)))*1.5

	left := newPlot(fmt.Sprintf("Decode step, one %s attention layer: median ms (%s cache, %d workers)", c.Name, dec.dtype, dec.workers),
		"context length S (tokens)", "ms per step")
	left.X.Tick.Marker = plot.ConstantTicks(sTicks)
	left.X.Min, left.X.Max = sLo, sHi
	left.Legend.Top, left.Legend.Left = true, true
	left.Legend.XOffs, left.Legend.YOffs = vg.Points(4), -vg.Points(4)
	var ms []float64
	for _, l := range slices.Backward(dispatch.All) {
		var abs, naive plotter.XYs
		for _, r := range dec.rows {
			if r.Level != l {
				continue
			}
			abs = append(abs, plotter.XY{X: float64(r.S), Y: r.Ms})
			ms = append(ms, r.Ms)
			if r.NaiveMs > 0 {
				naive = append(naive, plotter.XY{X: float64(r.S), Y: r.NaiveMs})
				ms = append(ms, r.NaiveMs)
			}
		}
		st := levelStyle[l]
		for _, series := range []struct {
			pts    plotter.XYs
			name   string
			dashes []vg.Length
			glyph  draw.GlyphDrawer
		}{{abs, "absorbed", nil, st.filled}, {naive, "naive (decompressing)", dashed, st.open}} {
			if len(series.pts) == 0 {
				continue
			}
			ln, err := line(series.pts, st.color, 1.5, series.dashes)
			if err != nil {
				return err
			}
			s, err := scatter(series.pts, st.color, series.glyph, 4)
			if err != nil {
				return err
			}
			left.Add(ln, s)
			left.Legend.Add(l.String()+", "+series.name, ln, s)
		}
	}
	if err := addSpeedUps(left, dec, dec.rows[0].Level); err != nil { // Measure runs the best Level first
		return err
	}
	if len(ms) > 0 {
		left.Y.Min, left.Y.Max = decade(slices.Min(ms)/1.2, false), slices.Max(ms)*40 // room for the legend
	}

	layers, unit := c.Layers, "MiB"
	scope := fmt.Sprintf("%d layers", layers)
	if layers == 0 {
		layers, scope = 1, "1 layer"
	}
	right := newPlot(fmt.Sprintf("KV cache of one sequence: %s, %s, bf16 (MiB)", c.Name, scope),
		"context length S (tokens)", unit)
	right.X.Tick.Marker = plot.ConstantTicks(sTicks)
	right.X.Min, right.X.Max = sLo, sHi
	right.Legend.Top, right.Legend.Left = true, true
	right.Legend.XOffs, right.Legend.YOffs = vg.Points(4), -vg.Points(4)
	var all []float64
	for _, k := range []struct {
		name   string
		bytes  func(timing.CacheSize) int64
		color  color.Color
		width  float64
		dashes []vg.Length
	}{
		{fmt.Sprintf("MHA: %d values per token and layer (%.2fx MLA)", c.MHACacheElemsPerToken(), 1/c.CacheSizeRatio()),
			func(cs timing.CacheSize) int64 { return cs.MHA }, color.RGBA{R: 130, B: 150, A: 255}, 2, dotted},
		{fmt.Sprintf("GQA-%d: %d values (%.2fx MLA)", dec.gqa, c.GQACacheElemsPerToken(dec.gqa), 1/c.CacheSizeRatioGQA(dec.gqa)),
			func(cs timing.CacheSize) int64 { return cs.GQA }, color.RGBA{R: 220, G: 120, A: 255}, 2, dashed},
		{fmt.Sprintf("MLA latent cache: %d values (d_c + d_r)", c.CacheRowWidth()),
			func(cs timing.CacheSize) int64 { return cs.MLA }, color.Black, 2.5, nil},
	} {
		var pts plotter.XYs
		for _, cs := range dec.caches {
			v := float64(k.bytes(cs)) * float64(layers) / (1 << 20)
			pts = append(pts, plotter.XY{X: float64(cs.S), Y: v})
			all = append(all, v)
		}
		ln, err := line(pts, k.color, k.width, k.dashes)
		if err != nil {
			return err
		}
		s, err := scatter(pts, k.color, draw.CircleGlyph{}, 2.5)
		if err != nil {
			return err
		}
		right.Add(ln, s)
		right.Legend.Add(k.name, ln, s)
	}
	right.Y.Min, right.Y.Max = decade(slices.Min(all)/1.2, false), slices.Max(all)*8
	return save(path, 15*vg.Inch, 6*vg.Inch, [][]*plot.Plot{{left, right}}, nil, 0)
}

// addSpeedUps labels Level l's naive points with naive / absorbed time.
func addSpeedUps(p *plot.Plot, dec *decodeFigures, l dispatch.Level) error {
	var xy plotter.XYLabels
	for _, r := range dec.rows {
		if r.Level == l && r.NaiveMs > 0 {
			xy.XYs = append(xy.XYs, plotter.XY{X: float64(r.S), Y: r.NaiveMs})
			xy.Labels = append(xy.Labels, fmt.Sprintf("%.0fx", r.SpeedUp()))
		}
	}
	if len(xy.XYs) == 0 {
		return nil
	}
	lb, err := plotter.NewLabels(xy)
	if err != nil {
		return err
	}
	lb.Offset = vg.Point{X: vg.Points(-8), Y: vg.Points(-18)}
	for i := range lb.TextStyle {
		lb.TextStyle[i].Font.Size = vg.Points(9)
		lb.TextStyle[i].Color = levelStyle[l].color
	}
	p.Add(lb)
	p.Legend.Add(fmt.Sprintf("numbers under the %s naive points: naive time / absorbed time", l))
	return nil
}

func contexts(dec *decodeFigures) []int {
	var s []int
	for _, cs := range dec.caches {
		s = append(s, cs.S)
	}
	return s
}

// newLegend is a legend drawn beside a plot rather than over its data.
func newLegend() plot.Legend {
	l := plot.NewLegend()
	l.Top, l.Left = true, true
	l.TextStyle.Font.Size = vg.Points(10)
	l.Padding = vg.Points(3)
	return l
}

// save draws the plots, in a grid, into a w x h PNG at path; legend, when
// set, takes a strip legendW wide on the right.
func save(path string, w, h vg.Length, plots [][]*plot.Plot, legend *plot.Legend, legendW vg.Length) error {
	img := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(dpi))
	dc := draw.New(img)
	if legend != nil {
		lc := dc
		lc.Min.X = dc.Max.X - legendW
		lc.Max.Y -= vg.Points(40) // below the title, beside the plot's top
		legend.Draw(lc)
		dc.Max.X -= legendW
	}
	tiles := draw.Tiles{Rows: len(plots), Cols: len(plots[0]),
		PadTop: vg.Points(4), PadBottom: vg.Points(4), PadLeft: vg.Points(4), PadRight: vg.Points(10), PadX: vg.Points(30), PadY: vg.Points(20)}
	for i, row := range plots {
		for j, p := range row {
			p.Draw(tiles.At(dc, j, i))
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
