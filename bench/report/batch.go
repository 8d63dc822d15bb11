package main

import (
	"fmt"
	"image/color"
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// batch prints the batched decode table: per context length and batch size the
// step's median, the batch's tokens/s and its ratio to B = 1.
func (t *tables) batch(b *batchFigures) {
	var rows [][]string
	one := map[int]float64{} // tokens/s at B = 1 per S
	for _, r := range b.rows {
		if r.B == 1 {
			one[r.S] = r.TokensPerSec()
		}
	}
	for _, r := range b.rows {
		ratio := "-"
		if one[r.S] > 0 {
			ratio = fmt.Sprintf("%.2fx", r.TokensPerSec()/one[r.S])
		}
		rows = append(rows, []string{fmt.Sprint(r.S), fmt.Sprint(r.B), fmt.Sprintf("%.2f", r.Ms), fmt.Sprintf("%.0f", r.TokensPerSec()), ratio})
	}
	c := b.cfg
	t.table(fmt.Sprintf("Batched decode (DecodeBatch), one %s attention layer, %s, f32 weights and paged cache, %d workers: B sequences of S cached rows each, one token each per step:",
		c.Name, b.level, b.workers),
		[]string{"S", "B", "ms/step", "tok/s", "vs B=1"}, rows,
		"Every projection runs as one GEMM over the B tokens (each weight row read once per step); the attention runs per sequence.")
}

// writeBatch plots the batch's tokens/s against the batch size, a line per context
// length, with the ideal (B times B = 1's) dotted.
func writeBatch(path string, b *batchFigures) error {
	p := newPlot(fmt.Sprintf("Batched decode, one %s attention layer, %s, %d workers: tokens/s of the whole batch", b.cfg.Name, b.level, b.workers),
		"batch size B (sequences, one token each per step)", "tokens/s")
	p.Legend.Top, p.Legend.Left = true, true
	var ticks []plot.Tick
	seen := map[int]bool{}
	for _, r := range b.rows {
		if !seen[r.B] {
			seen[r.B] = true
			ticks = append(ticks, plot.Tick{Value: float64(r.B), Label: strconv.Itoa(r.B)})
		}
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	colors := []color.Color{color.RGBA{B: 200, A: 255}, color.RGBA{R: 200, A: 255}, color.RGBA{G: 150, A: 255}, color.Black}
	var order []int
	byS := map[int]plotter.XYs{}
	for _, r := range b.rows {
		if _, ok := byS[r.S]; !ok {
			order = append(order, r.S)
		}
		byS[r.S] = append(byS[r.S], plotter.XY{X: float64(r.B), Y: r.TokensPerSec()})
	}
	lo, hi := math.Inf(1), 0.0
	for i, s := range order {
		pts := byS[s]
		col := colors[i%len(colors)]
		ln, err := line(pts, col, 2, nil)
		if err != nil {
			return err
		}
		sc, err := scatter(pts, col, draw.CircleGlyph{}, 3.5)
		if err != nil {
			return err
		}
		p.Add(ln, sc)
		p.Legend.Add(fmt.Sprintf("S = %d", s), ln, sc)
		var ideal plotter.XYs
		for _, pt := range pts {
			ideal = append(ideal, plotter.XY{X: pt.X, Y: pts[0].Y * pt.X / pts[0].X})
			hi = max(hi, pt.Y, ideal[len(ideal)-1].Y)
			lo = min(lo, pt.Y)
		}
		id, err := line(ideal, col, 1, dotted)
		if err != nil {
			return err
		}
		p.Add(id)
		if i == 0 {
			p.Legend.Add("B times the first size's tokens/s (ideal)", id)
		}
	}
	// Log axes: the ideal is a line of slope 1.
	bmin, bmax := ticks[0].Value, ticks[0].Value
	for _, t := range ticks {
		bmin, bmax = min(bmin, t.Value), max(bmax, t.Value)
	}
	p.X.Min, p.X.Max = bmin/1.3, bmax*1.3
	p.Y.Min, p.Y.Max = decade(lo/1.2, false), hi*4 // room for the legend
	return save(path, 9*vg.Inch, 6*vg.Inch, [][]*plot.Plot{{p}}, nil, 0)
}
