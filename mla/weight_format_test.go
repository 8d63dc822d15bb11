package mla

import (
	"fmt"
	"math"
	"testing"

	"github.com/mlasimd/mlasimd/internal/testutil"
	"github.com/mlasimd/mlasimd/kernels"
	"github.com/stretchr/testify/require"
)

// narrowFormats are the reduced-precision weight formats that Convert produces;
// heldFormats adds FP8, which tests make with quantizeFP8.
var (
	narrowFormats = []WeightFormat{FormatBF16, FormatF16, FormatQ8_0}
	heldFormats   = []WeightFormat{FormatBF16, FormatF16, FormatQ8_0, FormatFP8}
)

// quantizeFP8 rounds an F32 matrix to FP8 as DeepSeek-V3's checkpoints hold it: per
// br x bc block a scale amax/448, each value to the nearest E4M3 of value/scale.
func quantizeFP8(t testing.TB, m Matrix, br, bc int) Matrix {
	t.Helper()
	var vals []float64 // the finite E4M3 values, in byte order
	for b := range 256 {
		vals = append(vals, float64(kernels.E4M3Value(byte(b))))
	}
	sr, sc := ceilDiv(m.rows, br), ceilDiv(m.cols, bc)
	scale := make([]float32, sr*sc)
	for i := range m.rows {
		for j := range m.cols {
			k := i/br*sc + j/bc
			scale[k] = max(scale[k], float32(math.Abs(float64(m.f32[i*m.cols+j])))/448)
		}
	}
	for k := range scale {
		if scale[k] == 0 {
			scale[k] = 1
		}
	}
	out := make([]byte, m.rows*m.cols)
	for i := range m.rows {
		for j := range m.cols {
			v := float64(m.f32[i*m.cols+j]) / float64(scale[i/br*sc+j/bc])
			best := 0
			for b, e := range vals {
				if !isE4M3NaN(byte(b)) && math.Abs(e-v) < math.Abs(vals[best]-v) {
					best = b
				}
			}
			out[i*m.cols+j] = byte(best)
		}
	}
	q, err := NewMatrixFP8(m.rows, m.cols, out, scale, br, bc)
	require.NoError(t, err)
	return q
}

// heldIn returns w with every matrix in format f: Convert, or quantizeFP8 with 16x16
// blocks.
func heldIn(t testing.TB, w *LayerWeights, f WeightFormat) *LayerWeights {
	t.Helper()
	if f != FormatFP8 {
		out, err := w.Convert(f)
		require.NoError(t, err)
		return out
	}
	out := *w
	for _, m := range []*Matrix{&out.QProj, &out.QAProj, &out.QBProj, &out.KVAProj, &out.KVBProj, &out.OProj} {
		if m.rows > 0 {
			*m = quantizeFP8(t, *m, 16, 16)
		}
	}
	return &out
}

// q32Config is tinyConfig with a query LoRA rank of 32, so that every matrix has a
// multiple of 32 columns and can be held in Q8_0.
func q32Config() Config {
	c := tinyConfig()
	c.Name, c.QLoRARank = "tiny-q32", 32
	return c
}

// convertedWeights returns w in format f and the same values widened to F32, which
// the float64 reference takes as exact.
func convertedWeights(t *testing.T, w *LayerWeights, f WeightFormat) (narrow, wide *LayerWeights) {
	t.Helper()
	narrow = heldIn(t, w, f)
	wide, err := narrow.Convert(FormatF32)
	require.NoError(t, err)
	return narrow, wide
}

// TestWeightFormatsGolden: a layer whose weights are held in BF16, F16 or Q8_0 gives,
// through prefill (the tiled widening) and decode (GEMVs in the format, W_UK rows
// widened, W_UV by the format's GEMV), the outputs of the float64 reference of the
// values it holds, within the f32 bound: the format adds no error beyond rounding
// its weights once.
func TestWeightFormatsGolden(t *testing.T) {
	testutil.UseEachLevel(t, func(t *testing.T) {
		for _, c := range []Config{tinyLiteConfig(), q32Config()} {
			for _, f := range heldFormats {
				for _, start := range []int{0, 5000} {
					t.Run(fmt.Sprintf("%s/weights=%v/start=%d", c.Name, f, start), func(t *testing.T) {
						narrow, wide := convertedWeights(t, testWeights(t, c, 11), f)
						for _, m := range []Matrix{narrow.QProj, narrow.QAProj, narrow.KVAProj, narrow.KVBProj, narrow.OProj} {
							if m.Rows() > 0 {
								require.Equal(t, f, m.Format())
							}
						}
						goldenDecodeWith(t, c, narrow, wide, F32, start, 12, 5)
					})
				}
			}
		}
	})
}

// TestWeightFormatsDecodeNaive: the decompressing decode path on narrow weights.
func TestWeightFormatsDecodeNaive(t *testing.T) {
	testutil.UseEachLevel(t, func(t *testing.T) {
		c := q32Config()
		for _, f := range heldFormats {
			t.Run("weights="+f.String(), func(t *testing.T) {
				narrow, wide := convertedWeights(t, testWeights(t, c, 3), f)
				l := testLayer(t, c, narrow, true, WithWorkers(2), WithChunkRows(4))
				const n = 9
				x := randomInputs(n, c.Hidden, 5)
				ref := newRefLayer(c, wide, F32)
				ref.quantX = f == FormatQ8_0
				want := ref.run(refInputs(x, c.Hidden), 0)
				k := newTestCache(t, c, F32, 0)
				out := make([]float32, c.Hidden)
				for i := range n {
					require.NoError(t, l.DecodeNaive(out, x[i*c.Hidden:(i+1)*c.Hidden], k))
					requireWithin(t, out, want.out[i], fmt.Sprintf("token %d", i))
				}
			})
		}
	})
}

// TestWeightFormatsModel: a whole model in each format (embedding rows widened per
// token, FFN and LM head by the format's GEMV or tiles) against the float64 model of
// the values it holds.
func TestWeightFormatsModel(t *testing.T) {
	testutil.UseEachLevel(t, func(t *testing.T) {
		c := tinyLiteConfig()
		_, w := testModel(t, c, 2)
		for _, f := range heldFormats {
			t.Run("weights="+f.String(), func(t *testing.T) {
				narrow := modelHeldIn(t, w, f)
				wide, err := narrow.Convert(FormatF32)
				require.NoError(t, err)
				require.Less(t, narrow.Bytes(), w.Bytes()/15*8, "held in %v", f)
				m, err := NewModel(c, narrow, WithWorkers(2))
				require.NoError(t, err)
				defer m.Close()
				tokens := []int{5, 17, 3, 96, 0, 42, 7}
				want := refModelLogits(c, wide, tokens)
				mc, err := m.NewCache(CacheOptions{})
				require.NoError(t, err)
				logits := make([]float32, c.Vocab)
				require.NoError(t, m.Forward(tokens[:4], mc, logits))
				requireWithin(t, logits, want[3], "prefill logits")
				for i := 4; i < len(tokens); i++ {
					require.NoError(t, m.Forward(tokens[i:i+1], mc, logits))
					requireWithin(t, logits, want[i], fmt.Sprintf("step %d logits", i))
				}
			})
		}
	})
}

// formatErrorBound is the most a weight w can move when rounded to f, given amax, the
// largest magnitude of its Q8_0 block: half a unit in the last place of BF16 (8
// significant bits) or F16 (11, for normal halves, which every test weight is), and
// Q8_0's d/2 <= amax·(1+2^-10)/254 (mlasimd.QuantizeQ8_0).
func formatErrorBound(f WeightFormat, w, amax float64) float64 {
	switch f {
	case FormatBF16:
		return math.Abs(w) * 0x1p-8
	case FormatF16:
		return math.Abs(w) * 0x1p-11
	case FormatQ8_0:
		return amax * (1 + 0x1p-10) / 254
	}
	return 0
}

// TestMatrixConvertError: every weight held in a narrow format is within its stated
// rounding error of the float32 value, and converting back to F32 and again to the
// format reproduces the same bytes (the formats' values are fixed points).
func TestMatrixConvertError(t *testing.T) {
	const rows, cols = 24, 96
	v := randomInputs(rows, cols, 8)
	v[5] = 0 // a zero and a tiny value in the first block
	v[6] = 1e-30
	m := NewMatrix(rows, cols, v)
	for _, f := range narrowFormats {
		n, err := m.Convert(f)
		require.NoError(t, err)
		wide := n.Widen()
		for i, x := range v {
			blk := v[i/32*32 : i/32*32+32]
			amax := 0.0
			for _, b := range blk {
				amax = max(amax, math.Abs(float64(b)))
			}
			require.LessOrEqual(t, math.Abs(float64(wide[i])-float64(x)), formatErrorBound(f, float64(x), amax)+0x1p-24*math.Abs(float64(x))+0x1p-40, "%v weight %d: %g held as %g", f, i, x, wide[i])
		}
		again, err := NewMatrix(rows, cols, wide).Convert(f)
		require.NoError(t, err)
		require.Equal(t, n, again, "%v values convert to themselves", f)
		require.Equal(t, int64(rows)*map[WeightFormat]int64{FormatBF16: 2 * cols, FormatF16: 2 * cols, FormatQ8_0: 34 * cols / 32}[f], n.Bytes())
	}

	// FP8 in one 128x128 block: scale = amax/448; a normal E4M3 value is within 2^-4
	// of the quotient, a subnormal within 2^-10 (half their spacing, 2^-9), then the
	// quotient's and the widening product's roundings.
	n, err := m.Convert(FormatFP8)
	require.NoError(t, err)
	amax := 0.0
	for _, x := range v {
		amax = max(amax, math.Abs(float64(x)))
	}
	scale := float64(n.scale[0])
	require.Equal(t, float32(amax/448), n.scale[0])
	for i, x := range n.Widen() {
		w := float64(v[i])
		bound := max(math.Abs(w)*0x1p-4, 0x1p-10*scale) + 0x1p-23*math.Abs(w)
		require.LessOrEqual(t, math.Abs(float64(x)-w), bound, "fp8 weight %d: %g held as %g", i, w, x)
	}
	require.Equal(t, int64(rows*cols+4), n.Bytes())
}

// TestMatrixFormatErrors: shapes that a format cannot hold and bad values are errors
// that name the sizes; Check names the tensor.
func TestMatrixFormatErrors(t *testing.T) {
	_, err := NewMatrix(2, 40, make([]float32, 80)).Convert(FormatQ8_0)
	require.ErrorContains(t, err, "[2 40] matrix to q8_0")
	nan := make([]float32, 64)
	nan[33] = float32(math.NaN())
	_, err = NewMatrix(2, 32, nan).Convert(FormatQ8_0)
	require.ErrorContains(t, err, "row 1")
	_, err = NewMatrixHalf(FormatQ8_0, 1, 2, []uint16{1, 2})
	require.ErrorContains(t, err, "want bf16 or f16")
	_, err = NewMatrixQ8_0(1, 32, make([]byte, 33))
	require.ErrorContains(t, err, "want [1 32] = 34 bytes")
	// A matrix whose storage does not hold its shape is refused before anything is
	// allocated for it, including a shape whose size overflows.
	for _, f := range []WeightFormat{FormatBF16, FormatQ8_0, FormatFP8} {
		_, err = NewMatrix(2, 32, make([]float32, 63)).Convert(f)
		require.ErrorContains(t, err, "f32 matrix [2 32] holding 252 bytes, want [2 32] = 256 bytes")
		_, err = NewMatrix(1<<40, 1<<40, nil).Convert(f)
		require.ErrorContains(t, err, "cannot be held in f32")
	}
	require.PanicsWithError(t, "mla: Widen: f32 matrix [2 32] holding 252 bytes, want [2 32] = 256 bytes", func() { NewMatrix(2, 32, make([]float32, 63)).Widen() })
	_, err = ParseWeightFormat("int4")
	require.ErrorContains(t, err, "keep, f32, bf16, f16, q8_0")
	for _, f := range []WeightFormat{FormatKeep, FormatF32, FormatBF16, FormatF16, FormatQ8_0} {
		g, err := ParseWeightFormat(f.String())
		require.NoError(t, err)
		require.Equal(t, f, g)
	}

	c := tinyConfig() // q_b_proj has 24 columns
	w := testWeights(t, c, 1)
	_, err = w.Convert(FormatQ8_0)
	require.ErrorContains(t, err, "q_b_proj: mla: convert a [96 24] matrix to q8_0")
	wb, err := w.Convert(FormatBF16)
	require.NoError(t, err)
	wb.OProj = wb.OProj.rowView(0, c.Hidden-1)
	require.ErrorContains(t, wb.Check(c), "layer weight o_proj.weight: bf16 matrix [63 64]")
}

// TestCheckpointWeightFormats: a BF16 checkpoint loads into BF16 matrices by default
// (equal to the F32 weights converted to BF16), keeps F16 as F16, and any checkpoint
// loads into the format WithWeightFormat asks for, equal to converting the loaded
// F32 weights.
func TestCheckpointWeightFormats(t *testing.T) {
	c := tinyLiteConfig()
	w, err := RandomModelWeights(c, 9)
	require.NoError(t, err)
	for _, tc := range []struct {
		stored DType
		format WeightFormat
		want   WeightFormat
	}{
		{BF16, FormatKeep, FormatBF16}, {F16, FormatKeep, FormatF16}, {F32, FormatKeep, FormatF32},
		{BF16, FormatQ8_0, FormatQ8_0}, {F32, FormatBF16, FormatBF16}, {BF16, FormatF32, FormatF32}, {BF16, FormatF16, FormatF16},
	} {
		t.Run(fmt.Sprintf("stored=%v/format=%v", tc.stored, tc.format), func(t *testing.T) {
			dir := t.TempDir()
			require.NoError(t, WriteCheckpoint(dir, c, w, tc.stored, 2))
			f32, err := OpenCheckpoint(dir, WithWeightFormat(FormatF32))
			require.NoError(t, err)
			defer f32.Close()
			wide, err := f32.LoadModel()
			require.NoError(t, err)
			want, err := wide.Convert(tc.want)
			require.NoError(t, err)

			ck, err := OpenCheckpoint(dir, WithWeightFormat(tc.format))
			require.NoError(t, err)
			defer ck.Close()
			got, err := ck.LoadModel()
			require.NoError(t, err)
			require.Equal(t, tc.want, got.LMHead.Format())
			require.Equal(t, tc.want, got.Blocks[1].Attn.KVBProj.Format())
			inPlace := tc.format == FormatKeep && tc.stored != F32
			require.Equal(t, inPlace, got.LMHead.keep != nil, "used in place in the mapped file")
			require.Equal(t, want, unmapped(got))
			require.Equal(t, want.Bytes(), got.Bytes())
		})
	}
	_, err = OpenCheckpoint(t.TempDir(), WithWeightFormat(WeightFormat(9)))
	require.ErrorContains(t, err, "WithWeightFormat(WeightFormat(9))")
}

// TestLayerDecodeCost: a layer's cost counts the bytes its weights hold.
func TestLayerDecodeCost(t *testing.T) {
	c := q32Config()
	w := testWeights(t, c, 2)
	f32 := testLayer(t, c, w, false)
	require.Equal(t, c.DecodeCost(100, BF16), f32.DecodeCost(100, BF16))
	norms := 4 * int64(len(w.QANorm)+len(w.KVANorm))
	for _, f := range narrowFormats {
		wf, err := w.Convert(f)
		require.NoError(t, err)
		k := testLayer(t, c, wf, false).DecodeCost(100, BF16)
		want := map[WeightFormat]float64{FormatBF16: 0.5, FormatF16: 0.5, FormatQ8_0: 34.0 / 128}[f]
		require.InDelta(t, want, float64(k.WeightBytes-norms)/float64(4*c.AttentionParams()-norms), 1e-12, "%v", f)
		require.Equal(t, c.DecodeCost(100, BF16).CacheBytes, k.CacheBytes)
	}
}

// modelHeldIn is heldIn for a whole model.
func modelHeldIn(t testing.TB, w *ModelWeights, f WeightFormat) *ModelWeights {
	t.Helper()
	if f != FormatFP8 {
		out, err := w.Convert(f)
		require.NoError(t, err)
		return out
	}
	out := &ModelWeights{FinalNorm: w.FinalNorm, Embed: quantizeFP8(t, w.Embed, 16, 16), LMHead: quantizeFP8(t, w.LMHead, 16, 16)}
	for _, b := range w.Blocks {
		out.Blocks = append(out.Blocks, BlockWeights{InputNorm: b.InputNorm, PostAttnNorm: b.PostAttnNorm, Attn: heldIn(t, b.Attn, f),
			Gate: quantizeFP8(t, b.Gate, 16, 16), Up: quantizeFP8(t, b.Up, 16, 16), Down: quantizeFP8(t, b.Down, 16, 16)})
	}
	return out
}

// TestFP8Matrix: FP8 matrices refuse NaN bytes, bad scales and conversion to FP8,
// widen to e4m3·scale, and multiply in bands of rows that share their scales.
func TestFP8Matrix(t *testing.T) {
	_, err := NewMatrixFP8(2, 2, []byte{1, 0x7f, 2, 3}, []float32{1}, 16, 16)
	require.ErrorContains(t, err, "weight 1 (row 0) is NaN")
	_, err = NewMatrixFP8(2, 2, []byte{1, 2, 3, 4}, []float32{0}, 16, 16)
	require.ErrorContains(t, err, "scale 0 is 0")
	_, err = NewMatrixFP8(2, 2, []byte{1, 2, 3, 4}, []float32{1, 1}, 16, 16)
	require.ErrorContains(t, err, "2 scales of 16x16 blocks")
	_, err = NewMatrix(1, 2, []float32{1, float32(math.Inf(-1))}).Convert(FormatFP8)
	require.ErrorContains(t, err, "weight [0 1] is -Inf")

	// ToFP8 gives the bytes and scales of the independent quantizer above, ties
	// aside (random inputs have none).
	src := NewMatrix(40, 24, randomInputs(40, 24, 9))
	got, err := src.ToFP8(16, 16)
	require.NoError(t, err)
	require.Equal(t, quantizeFP8(t, src, 16, 16), got)
	conv, err := src.Convert(FormatFP8)
	require.NoError(t, err)
	require.Equal(t, 128, conv.br)
	require.Len(t, conv.scale, 1)
	for b := range 256 { // every E4M3 value rounds to itself
		if v := kernels.E4M3Value(byte(b)); !isE4M3NaN(byte(b)) && b != 0x80 {
			require.Equal(t, byte(b), nearestE4M3(v), "%#02x = %v", b, v)
		}
	}
	require.Equal(t, byte(0x00), nearestE4M3(0x1p-10), "half the smallest subnormal is a tie, to 0")
	require.Equal(t, byte(0x01), nearestE4M3(0x1.1p-10))
	require.Equal(t, byte(0x7e), nearestE4M3(448))
	require.Equal(t, byte(0x7e), nearestE4M3(465), "past 448 saturates")
	for b := 0; b < 0x7e; b++ { // midpoints go to the even byte (even mantissa)
		mid := (kernels.E4M3Value(byte(b)) + kernels.E4M3Value(byte(b+1))) / 2
		want := byte(b + b&1)
		require.Equal(t, want, nearestE4M3(mid), "midpoint of %#02x and %#02x", b, b+1)
		if want != 0 { // a value that rounds to zero drops its sign
			require.Equal(t, 0x80|want, nearestE4M3(-mid), "negative midpoint of %#02x", b)
		}
	}

	const rows, cols = 40, 24 // bands of 16 rows: 16, 16, 8
	m := quantizeFP8(t, NewMatrix(rows, cols, randomInputs(rows, cols, 4)), 16, 16)
	wide := m.Widen()
	for i, b := range m.fp8 {
		r, c := i/cols, i%cols
		require.Equal(t, kernels.E4M3Value(b)*m.scale[r/16*2+c/16], wide[i])
	}
	x := randomInputs(1, rows, 5)
	scratch := make([]float32, cols)
	for _, r0 := range []int{0, 5, 16, 33} {
		n := rows - r0
		y := make([]float32, cols)
		m.gemvT(y, x[:n], r0, scratch)
		g := make([]float32, n)
		m.gemv(g, x[:cols], r0, scratch)
		for j := range cols {
			var want, mag float64
			for i := range n {
				p := float64(x[i]) * float64(wide[(r0+i)*cols+j])
				want, mag = want+p, mag+math.Abs(p)
			}
			require.InDelta(t, want, y[j], gamma(n+3)*mag+1e-30, "Wᵀx from row %d, column %d", r0, j)
		}
		for i := range n {
			var want, mag float64
			for j := range cols {
				p := float64(x[j]) * float64(wide[(r0+i)*cols+j])
				want, mag = want+p, mag+math.Abs(p)
			}
			require.InDelta(t, want, g[i], gamma(cols+3)*mag+1e-30, "W x row %d", r0+i)
		}
	}
}

// unmapped is w with every Matrix's memory map reference cleared (the values stay),
// for comparing weights loaded in place with copies.
func unmapped(w *ModelWeights) *ModelWeights {
	out := *w
	out.Blocks = append([]BlockWeights(nil), w.Blocks...)
	ms := []*Matrix{&out.Embed, &out.LMHead}
	for i := range out.Blocks {
		b := &out.Blocks[i]
		attn := *b.Attn
		b.Attn = &attn
		ms = append(ms, &b.Gate, &b.Up, &b.Down, &attn.QProj, &attn.QAProj, &attn.QBProj, &attn.KVAProj, &attn.KVBProj, &attn.OProj)
	}
	for _, m := range ms {
		m.keep = nil
	}
	return &out
}
