package main

import (
	"fmt"
	"image/color"
	"os"
	"path/filepath"

	"github.com/mlasimd/mlasimd/bench"
	"github.com/mlasimd/mlasimd/dispatch"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// levelStyle gives each Level one colour and marker shape in every picture.
var levelStyle = map[dispatch.Level]struct {
	color color.Color
	shape draw.GlyphDrawer
}{
	dispatch.AVX512:  {color.RGBA{R: 200, A: 255}, draw.CircleGlyph{}},
	dispatch.AVX2:    {color.RGBA{B: 200, A: 255}, draw.TriangleGlyph{}},
	dispatch.NEON:    {color.RGBA{G: 150, A: 255}, draw.SquareGlyph{}},
	dispatch.Generic: {color.Gray{Y: 110}, draw.CrossGlyph{}},
}

// Point is one extra measurement to place on the roofline, such as an MLA decode step.
type Point struct {
	Label     string
	Intensity float64 // FLOP per byte moved
	GFLOP     float64
	Level     dispatch.Level
}

// writeRoofline draws arithmetic intensity against GFLOP/s on log axes: the measured
// bandwidth and multiply-add ceilings, one marker per kernel and Level, and extra
// points (labelled) such as MLA decode steps.
func writeRoofline(path string, results []bench.Result, m bench.Machine, extra []Point) error {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("mlasimd roofline (%s)", cpuModel())
	p.X.Label.Text = "arithmetic intensity (FLOP/byte)"
	p.Y.Label.Text = "GFLOP/s"
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	p.X.Tick.Marker, p.Y.Tick.Marker = plot.LogTicks{Prec: -1}, plot.LogTicks{Prec: -1}
	p.Legend.Top, p.Legend.Left = true, true

	lo, hi := 0.05, 100.0
	knee := m.PeakGFLOP / m.ReadGBs
	roof, err := plotter.NewLine(plotter.XYs{{X: lo, Y: m.ReadGBs * lo}, {X: knee, Y: m.PeakGFLOP}, {X: hi, Y: m.PeakGFLOP}})
	if err != nil {
		return err
	}
	roof.Width = vg.Points(2)
	p.Add(roof)
	p.Legend.Add(fmt.Sprintf("ceiling: %.0f GB/s read, %.0f GFLOP/s peak", m.ReadGBs, m.PeakGFLOP), roof)

	byLevel := map[dispatch.Level]plotter.XYs{}
	for _, r := range results {
		if r.Case.Flops == 0 {
			continue // conversions do no arithmetic
		}
		byLevel[r.Level] = append(byLevel[r.Level], plotter.XY{X: r.Case.Flops / r.Case.Bytes, Y: r.GFLOP})
	}
	for _, l := range dispatch.All {
		if pts, ok := byLevel[l]; ok {
			if err := addScatter(p, "kernels, "+l.String(), pts, l, 3); err != nil {
				return err
			}
		}
	}
	for _, e := range extra {
		pts := plotter.XYs{{X: e.Intensity, Y: e.GFLOP}}
		if err := addScatter(p, e.Label, pts, e.Level, 6); err != nil {
			return err
		}
	}
	return save(p, path)
}

func addScatter(p *plot.Plot, label string, pts plotter.XYs, l dispatch.Level, radius float64) error {
	s, err := plotter.NewScatter(pts)
	if err != nil {
		return err
	}
	style := levelStyle[l]
	s.GlyphStyle.Color, s.GlyphStyle.Shape, s.GlyphStyle.Radius = style.color, style.shape, vg.Points(radius)
	p.Add(s)
	p.Legend.Add(label, s)
	return nil
}

func save(p *plot.Plot, path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return p.Save(9*vg.Inch, 6*vg.Inch, path)
}
