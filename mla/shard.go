package mla

import (
	"fmt"

	"github.com/mlasimd/mlasimd"
)

// ShardHeads returns the Config and weights of the attention heads [h0, h1) of a
// layer, for an engine that splits a layer's heads over cores, sockets or machines
// (tensor parallelism). A Layer built from them runs those heads only: its q_b_proj
// (or q_proj) and kv_b_proj are the heads' rows (shared with w, not copied), its
// o_proj the heads' input columns (copied), and the latent projections, their norms
// and so the cache are the whole layer's, replicated on every shard. Its output is
// the shard's share of the layer's: the sum of the outputs of shards that cover
// every head once is the layer's output, up to the rounding of that sum (one
// addition per shard). Each shard keeps its own cache of the same latent rows.
//
// Row ranges of FP8 weights must start and end on their scale blocks, and o_proj's
// columns of Q8_0 and FP8 weights on their blocks; other ranges are an error.
func ShardHeads(c Config, w *LayerWeights, h0, h1 int) (Config, *LayerWeights, error) {
	if err := w.Check(c); err != nil {
		return Config{}, nil, err
	}
	if h0 < 0 || h1 > c.Heads || h0 >= h1 {
		return Config{}, nil, fmt.Errorf("mla: ShardHeads: heads [%d, %d) outside the layer's [0, %d) or empty: %w", h0, h1, c.Heads, ErrShape)
	}
	sc := c
	sc.Heads, sc.ShardOf = h1-h0, max(c.Heads, c.ShardOf)
	sc.Name = fmt.Sprintf("%s[heads %d:%d]", c.Name, h0, h1)
	s := *w
	var err error
	rows := func(m Matrix, per int) Matrix {
		if err != nil {
			return Matrix{}
		}
		var v Matrix
		v, err = rowRange(m, h0*per, h1*per)
		return v
	}
	dqk, kv := c.QKHeadDim(), c.QKNopeHeadDim+c.VHeadDim
	if c.QLoRARank > 0 {
		s.QBProj = rows(w.QBProj, dqk)
	} else {
		s.QProj = rows(w.QProj, dqk)
	}
	s.KVBProj = rows(w.KVBProj, kv)
	if err == nil {
		s.OProj, err = columnRange(w.OProj, h0*c.VHeadDim, h1*c.VHeadDim)
	}
	if err != nil {
		return Config{}, nil, fmt.Errorf("mla: ShardHeads [%d, %d): %w", h0, h1, err)
	}
	return sc, &s, nil
}

// rowRange is rowView with an error instead of a panic for FP8 rows that cut a scale
// band.
func rowRange(m Matrix, r0, r1 int) (Matrix, error) {
	if m.Format() == FormatFP8 && (r0%m.br != 0 || (r1%m.br != 0 && r1 != m.rows)) {
		return Matrix{}, fmt.Errorf("FP8 rows [%d, %d) cut its %d-row scale blocks: %w", r0, r1, m.br, ErrShape)
	}
	return m.rowView(r0, r1), nil
}

// columnRange copies the columns [c0, c1) of m into a new matrix of its format.
func columnRange(m Matrix, c0, c1 int) (Matrix, error) {
	n := c1 - c0
	switch f := m.Format(); f {
	case FormatF32, FormatBF16, FormatF16:
		v := newMatrix(f, m.rows, n)
		for r := range m.rows {
			if f == FormatF32 {
				copy(v.f32[r*n:(r+1)*n], m.f32[r*m.cols+c0:r*m.cols+c1])
			} else {
				copy(v.half[r*n:(r+1)*n], m.half[r*m.cols+c0:r*m.cols+c1])
			}
		}
		return v, nil
	case FormatQ8_0:
		if c0%mlasimd.Q8_0Block != 0 || c1%mlasimd.Q8_0Block != 0 {
			return Matrix{}, fmt.Errorf("Q8_0 columns [%d, %d) cut its %d-value blocks: %w", c0, c1, mlasimd.Q8_0Block, ErrShape)
		}
		v := newMatrix(f, m.rows, n)
		rb, _ := mlasimd.Q8_0Bytes(m.cols)
		vb, _ := mlasimd.Q8_0Bytes(n)
		b0, _ := mlasimd.Q8_0Bytes(c0)
		for r := range m.rows {
			copy(v.q8[r*vb:(r+1)*vb], m.q8[r*rb+b0:r*rb+b0+vb])
		}
		return v, nil
	case FormatFP8:
		if c0%m.bc != 0 || (c1%m.bc != 0 && c1 != m.cols) {
			return Matrix{}, fmt.Errorf("FP8 columns [%d, %d) cut its %d-column scale blocks: %w", c0, c1, m.bc, ErrShape)
		}
		b := make([]byte, m.rows*n)
		for r := range m.rows {
			copy(b[r*n:(r+1)*n], m.fp8[r*m.cols+c0:r*m.cols+c1])
		}
		sc, vc := m.scaleCols(), ceilDiv(n, m.bc)
		bands := ceilDiv(m.rows, m.br)
		scale := make([]float32, bands*vc)
		for i := range bands {
			copy(scale[i*vc:(i+1)*vc], m.scale[i*sc+c0/m.bc:i*sc+c0/m.bc+vc])
		}
		return NewMatrixFP8(m.rows, n, b, scale, m.br, m.bc)
	}
	return Matrix{}, fmt.Errorf("columns of a %v matrix: %w", m.Format(), ErrShape)
}
