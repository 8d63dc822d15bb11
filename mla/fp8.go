package mla

import (
	"fmt"
	"math"

	"github.com/mlasimd/mlasimd"
	"github.com/mlasimd/mlasimd/internal/checked"
	"github.com/mlasimd/mlasimd/internal/hugepage"
	"github.com/mlasimd/mlasimd/kernels"
)

// FP8 weights are DeepSeek-V3's: E4M3 bytes (sign, 4 exponent bits with bias 7, 3
// mantissa bits; no infinities, S.1111.111 is NaN) and one float32 scale per block
// of br x bc weights (weight_scale_inv, which multiplies despite its name; edge
// blocks are partial). Weight [i][j] stands for e4m3(b[i][j])·scale[i/br][j/bc].

// isE4M3NaN reports E4M3's NaN encodings, which a checkpoint must not hold.
func isE4M3NaN(b byte) bool { return b&0x7f == 0x7f }

// NewMatrixFP8 wraps rows x cols E4M3 bytes and their ⌈rows/br⌉ x ⌈cols/bc⌉ block
// scales (shared, not copied). NaN bytes and scales that are not finite and positive
// are refused.
func NewMatrixFP8(rows, cols int, b []byte, scale []float32, br, bc int) (_ Matrix, err error) {
	defer func() { err = shapeErr(err) }()
	if br <= 0 || bc <= 0 {
		return Matrix{}, fmt.Errorf("mla: NewMatrixFP8: block %dx%d, want positive sides", br, bc)
	}
	m := Matrix{format: FormatFP8, rows: rows, cols: cols, fp8: b, scale: scale, br: br, bc: bc}
	if err := m.checkShape("NewMatrixFP8", rows, cols); err != nil {
		return Matrix{}, err
	}
	for i, v := range b {
		if isE4M3NaN(v) {
			return Matrix{}, fmt.Errorf("mla: NewMatrixFP8: weight %d (row %d) is NaN (byte %#02x)", i, i/max(cols, 1), v)
		}
	}
	for i, s := range scale {
		if !(s > 0 && s <= maxFloat32) {
			return Matrix{}, fmt.Errorf("mla: NewMatrixFP8: scale %d is %v, want a finite positive factor", i, s)
		}
	}
	return m, nil
}

const maxFloat32 = 0x1.fffffep127

// scaleCols is the number of scale blocks per row band.
func (m Matrix) scaleCols() int { return ceilDiv(m.cols, m.bc) }

// fp8ScaleLen is the number of block scales of an FP8 matrix, and false when it
// does not fit an int.
func fp8ScaleLen(rows, cols, br, bc int) (int, bool) {
	if br <= 0 || bc <= 0 {
		return 0, false
	}
	return checked.Mul(ceilDiv(rows, br), ceilDiv(cols, bc))
}

// band returns the end of the scale band (br rows) row r is in, capped at r1, and
// that band's scales.
func (m Matrix) band(r, r1 int) (int, []float32) {
	sc := m.scaleCols()
	b := r / m.br
	return min((b+1)*m.br, r1), m.scale[b*sc : (b+1)*sc]
}

// widenFP8 writes rows [r0, r1) as float32: e4m3·scale, one rounding each.
func (m Matrix) widenFP8(dst []float32, r0, r1 int) {
	for r := r0; r < r1; r++ {
		_, s := m.band(r, r1)
		row := dst[(r-r0)*m.cols : (r-r0+1)*m.cols]
		for j, b := range m.fp8[r*m.cols : (r+1)*m.cols] {
			row[j] = kernels.E4M3Value(b) * s[j/m.bc]
		}
	}
}

// gemvFP8 writes y[i] = row(r0+i)·x. Within a band of rows sharing their scales, x
// is scaled once per column block (scratch, cols values) and the band's bytes are
// multiplied unscaled: Σ_j e4m3(b_ij)·(x_j·s_j), which adds one rounding of x_j·s_j
// per term to the f32 sum's error.
func (m Matrix) gemvFP8(y, x []float32, r0 int, scratch []float32) {
	r1 := r0 + len(y)
	xs := scratch[:m.cols]
	for a := r0; a < r1; {
		b, s := m.band(a, r1)
		for j, v := range x[:m.cols] {
			xs[j] = v * s[j/m.bc]
		}
		mlasimd.GemvE4M3Finite(y[a-r0:b-r0], m.fp8[a*m.cols:b*m.cols], xs) // NewMatrixFP8 refused NaN bytes
		a = b
	}
}

// addRowsTFP8 adds Σ_i x[i]·row(r0+i) to y: per band, z = Bᵀ x over the band's
// unscaled bytes (scratch, cols values), then y_j += s_j·z_j.
func (m Matrix) addRowsTFP8(y, x []float32, r0 int, scratch []float32) {
	r1 := r0 + len(x)
	z := scratch[:m.cols]
	for a := r0; a < r1; {
		b, s := m.band(a, r1)
		mlasimd.GemvTE4M3(z, m.fp8[a*m.cols:b*m.cols], x[a-r0:b-r0])
		for j := range y[:m.cols] {
			y[j] += s[j/m.bc] * z[j]
		}
		a = b
	}
}

// fp8Block is DeepSeek-V3's scale block, the one Convert(FormatFP8) uses.
const fp8Block = 128

// ToFP8 quantizes m to FP8 with one scale per br x bc block: scale = amax/448 (1 for
// an all-zero block), each weight rounded to the nearest E4M3 of weight/scale, ties
// to even. A weight then moves by at most 2^-4 of its magnitude (normal E4M3) or
// 2^-10·scale (subnormal), and the quotient's own rounding (2^-24 relative). NaNs
// and infinities are refused.
func (m Matrix) ToFP8(br, bc int) (Matrix, error) {
	if _, ok := fp8ScaleLen(m.rows, m.cols, br, bc); !ok {
		return Matrix{}, fmt.Errorf("mla: convert a [%d %d] matrix to fp8 in %dx%d blocks: bad block size", m.rows, m.cols, br, bc)
	}
	if err := m.checkShape("convert to fp8", m.rows, m.cols); err != nil {
		return Matrix{}, err
	}
	v := m.values()
	sr, sc := ceilDiv(m.rows, br), ceilDiv(m.cols, bc)
	scale := make([]float32, sr*sc)
	for i := range m.rows {
		for j, x := range v[i*m.cols : (i+1)*m.cols] {
			if x != x || x > maxFloat32 || x < -maxFloat32 {
				return Matrix{}, fmt.Errorf("mla: convert a [%d %d] matrix to fp8: weight [%d %d] is %v", m.rows, m.cols, i, j, x)
			}
			k := i/br*sc + j/bc
			scale[k] = max(scale[k], max(x, -x)/448)
		}
	}
	for k, s := range scale {
		if s == 0 {
			scale[k] = 1
		}
	}
	out := hugepage.Make[byte](m.rows * m.cols)
	for i := range m.rows {
		for j, x := range v[i*m.cols : (i+1)*m.cols] {
			out[i*m.cols+j] = nearestE4M3(x / scale[i/br*sc+j/bc])
		}
	}
	return NewMatrixFP8(m.rows, m.cols, out, scale, br, bc)
}

// nearestE4M3 rounds x (|x| <= 448, larger values saturate at 448) to the nearest
// E4M3 byte, ties to even. E4M3's bytes are ordered as their values, so rounding
// the float32 bits to 3 mantissa bits (carrying into the exponent) and rebiasing
// gives the byte; below 2^-6 the bytes step by 2^-9, the subnormals.
func nearestE4M3(x float32) byte {
	sign := byte(0)
	if math.Signbit(float64(x)) {
		sign, x = 0x80, -x
	}
	var b uint32
	if x < 0x1p-6 {
		b = uint32(math.RoundToEven(float64(x) * 0x1p9))
	} else {
		bits := math.Float32bits(x)
		b = (bits+1<<19-1+(bits>>20)&1)>>20 - (127-7)<<3
	}
	if b == 0 {
		return 0 // the sign of a value that rounds to zero is dropped
	}
	return sign | byte(min(b, 0x7e))
}
