package mla

import (
	"fmt"
	"math"
	"testing"

	"github.com/mlasimd/mlasimd/internal/testutil"
	"github.com/stretchr/testify/require"
)

// narrowFormats are the reduced-precision weight formats.
var narrowFormats = []WeightFormat{FormatBF16, FormatF16, FormatQ8_0}

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
	narrow, err := w.Convert(f)
	require.NoError(t, err)
	wide, err = narrow.Convert(FormatF32)
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
			for _, f := range narrowFormats {
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
		for _, f := range narrowFormats {
			t.Run("weights="+f.String(), func(t *testing.T) {
				narrow, wide := convertedWeights(t, testWeights(t, c, 3), f)
				l := testLayer(t, c, narrow, true, WithWorkers(2), WithChunkRows(4))
				const n = 9
				x := randomInputs(n, c.Hidden, 5)
				want := newRefLayer(c, wide, F32).run(refInputs(x, c.Hidden), 0)
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
		for _, f := range narrowFormats {
			t.Run("weights="+f.String(), func(t *testing.T) {
				narrow, err := w.Convert(f)
				require.NoError(t, err)
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
			require.Equal(t, want, got)
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
