package mla

import (
	"errors"
	"fmt"
	"strings"

	"github.com/mlasimd/mlasimd"
	"github.com/mlasimd/mlasimd/internal/checked"
	"github.com/mlasimd/mlasimd/internal/hugepage"
	"github.com/mlasimd/mlasimd/safetensors"
)

// WeightFormat is the element type a weight matrix is held in while a Layer or Model
// runs. Every format is multiplied in its own bytes: the kernels widen it in
// registers (GemvBF16, GemvF16, GemvQ8_0), or a tile at a time for GEMMs, so a
// matrix never has a float32 copy.
type WeightFormat int

const (
	// FormatKeep keeps each checkpoint tensor in its stored dtype: F32, BF16, F16,
	// and F8_E4M3 with its block scales as FormatFP8.
	FormatKeep WeightFormat = iota
	// FormatF32 holds 4 bytes per weight.
	FormatF32
	// FormatBF16 holds bfloat16 (2 bytes), rounded to nearest even from float32.
	FormatBF16
	// FormatF16 holds IEEE half (2 bytes), rounded to nearest even from float32.
	FormatF16
	// FormatQ8_0 holds GGUF's block_q8_0 (34 bytes per 32 weights), quantized with
	// mlasimd.QuantizeQ8_0; a row must have a multiple of 32 values.
	FormatQ8_0
	// FormatFP8 holds DeepSeek-V3's FP8: E4M3 bytes with a float32 scale per block
	// of weights (see NewMatrixFP8); Convert quantizes to it in 128x128 blocks
	// (Matrix.ToFP8).
	FormatFP8
)

var formatNames = [...]string{FormatKeep: "keep", FormatF32: "f32", FormatBF16: "bf16", FormatF16: "f16", FormatQ8_0: "q8_0", FormatFP8: "fp8"}

func (f WeightFormat) valid() bool { return f >= 0 && int(f) < len(formatNames) }

// String returns the format's name as ParseWeightFormat reads it: keep, f32, bf16,
// f16 or q8_0.
func (f WeightFormat) String() string {
	if !f.valid() {
		return fmt.Sprintf("WeightFormat(%d)", int(f))
	}
	return formatNames[f]
}

// ParseWeightFormat returns the format with the given name (see String).
func ParseWeightFormat(s string) (WeightFormat, error) {
	for f, name := range formatNames {
		if strings.EqualFold(s, name) {
			return WeightFormat(f), nil
		}
	}
	return 0, fmt.Errorf("mla: weight format %q: want one of %s", s, strings.Join(formatNames[:], ", "))
}

// rowBytes is the size of one row of cols weights in f, and false when it does not
// fit an int or (Q8_0) cols is not a multiple of the block.
func (f WeightFormat) rowBytes(cols int) (int, bool) {
	switch f {
	case FormatF32:
		return checked.Mul(cols, 4)
	case FormatBF16, FormatF16:
		return checked.Mul(cols, 2)
	case FormatQ8_0:
		return mlasimd.Q8_0Bytes(cols)
	case FormatFP8:
		return cols, cols >= 0
	}
	return 0, false
}

// Matrix is a rows x cols weight matrix, row-major ([out, in] as nn.Linear stores
// it), held in one WeightFormat. The zero Matrix is an empty F32 matrix. A Matrix is
// a view: copying it shares the values, and Layers only read them.
type Matrix struct {
	format     WeightFormat
	rows, cols int
	f32        []float32 // FormatF32
	half       []uint16  // FormatBF16, FormatF16: raw bits
	q8         []byte    // FormatQ8_0: rows of blocks
	fp8        []byte    // FormatFP8: E4M3 bytes
	scale      []float32 // FormatFP8: ⌈rows/br⌉ x ⌈cols/bc⌉ block scales
	br, bc     int       // FormatFP8: the scale blocks' rows and columns
	// keep is the memory map the values lie in, for a Matrix used in place in a
	// checkpoint's file (see OpenCheckpoint): holding it keeps the file mapped.
	keep *safetensors.Mapping
}

// NewMatrix wraps rows x cols float32 values (row-major, shared, not copied) as an F32
// Matrix. A length that does not match is reported by the Check of the weights that
// hold it.
func NewMatrix(rows, cols int, v []float32) Matrix {
	return Matrix{format: FormatF32, rows: rows, cols: cols, f32: v}
}

// NewMatrixHalf wraps rows x cols raw BF16 or F16 bits (shared, not copied).
func NewMatrixHalf(f WeightFormat, rows, cols int, bits []uint16) (_ Matrix, err error) {
	defer func() { err = shapeErr(err) }()
	if f != FormatBF16 && f != FormatF16 {
		return Matrix{}, fmt.Errorf("mla: NewMatrixHalf: format %v, want bf16 or f16", f)
	}
	m := Matrix{format: f, rows: rows, cols: cols, half: bits}
	return m, m.checkShape("NewMatrixHalf", rows, cols)
}

// NewMatrixQ8_0 wraps rows x cols weights in Q8_0 (rows of blocks, shared, not
// copied); cols must be a multiple of 32.
func NewMatrixQ8_0(rows, cols int, blocks []byte) (_ Matrix, err error) {
	defer func() { err = shapeErr(err) }()
	m := Matrix{format: FormatQ8_0, rows: rows, cols: cols, q8: blocks}
	return m, m.checkShape("NewMatrixQ8_0", rows, cols)
}

// Format returns the matrix's format (never FormatKeep).
func (m Matrix) Format() WeightFormat {
	if m.format == FormatKeep {
		return FormatF32
	}
	return m.format
}

// Rows returns the number of rows (outputs).
func (m Matrix) Rows() int { return m.rows }

// Cols returns the number of columns (inputs).
func (m Matrix) Cols() int { return m.cols }

// F32 returns the values of an F32 matrix (shared), or nil for other formats.
func (m Matrix) F32() []float32 { return m.f32 }

// Bytes returns the bytes the matrix holds in memory (FP8: with its scales).
func (m Matrix) Bytes() int64 {
	switch m.Format() {
	case FormatFP8:
		return int64(len(m.fp8)) + 4*int64(len(m.scale))
	case FormatBF16, FormatF16:
		return int64(len(m.half)) * 2
	case FormatQ8_0:
		return int64(len(m.q8))
	}
	return int64(len(m.f32)) * 4
}

// checkShape reports a matrix that is not rows x cols or whose storage does not hold
// exactly that many values in its format, naming it what.
func (m Matrix) checkShape(what string, rows, cols int) error {
	f := m.Format()
	rb, ok := f.rowBytes(cols)
	n, ok2 := checked.Mul(rb, rows)
	if !f.valid() || !ok || !ok2 || rows < 0 {
		return fmt.Errorf("mla: %s: a [%d %d] matrix cannot be held in %v (a Q8_0 row needs a multiple of 32 values)", what, rows, cols, f)
	}
	if f == FormatFP8 {
		ns, ok := fp8ScaleLen(rows, cols, m.br, m.bc)
		if !ok || m.rows != rows || m.cols != cols || len(m.fp8) != n || len(m.scale) != ns {
			return fmt.Errorf("mla: %s: fp8 matrix [%d %d] holding %d bytes and %d scales of %dx%d blocks, want [%d %d]", what, m.rows, m.cols, len(m.fp8), len(m.scale), m.br, m.bc, rows, cols)
		}
		return nil
	}
	if m.rows != rows || m.cols != cols || m.Bytes() != int64(n) {
		return fmt.Errorf("mla: %s: %v matrix [%d %d] holding %d bytes, want [%d %d] = %d bytes", what, f, m.rows, m.cols, m.Bytes(), rows, cols, n)
	}
	return nil
}

// Convert returns m in format f: m itself when it is already in f (FormatKeep
// included), else a new matrix. Narrowing rounds to nearest even (BF16, F16) or
// quantizes each block of 32 (Q8_0, which fails for a row length that is not a
// multiple of 32 and for values Q8_0 cannot hold); widening is exact.
func (m Matrix) Convert(f WeightFormat) (Matrix, error) {
	src := m.Format()
	if f == FormatKeep || f == src || m.rows == 0 {
		return m, nil // an unused matrix (say q_proj with a query LoRA) stays empty
	}
	if !f.valid() {
		return Matrix{}, fmt.Errorf("mla: convert to %v: not a weight format", f)
	}
	if err := m.checkShape("convert", m.rows, m.cols); err != nil {
		return Matrix{}, err
	}
	if f == FormatFP8 {
		return m.ToFP8(fp8Block, fp8Block)
	}
	rb, ok := f.rowBytes(m.cols)
	if !ok {
		return Matrix{}, fmt.Errorf("mla: convert a [%d %d] matrix to %v: a Q8_0 row needs a multiple of 32 values", m.rows, m.cols, f)
	}
	out := newMatrix(f, m.rows, m.cols)
	row := m.f32
	if src != FormatF32 {
		row = make([]float32, m.cols)
	}
	for r := range m.rows {
		if src != FormatF32 {
			m.widenRows(row, r, r+1)
		} else {
			row = m.f32[r*m.cols : (r+1)*m.cols]
		}
		switch f {
		case FormatF32:
			copy(out.f32[r*m.cols:], row)
		case FormatBF16:
			mlasimd.F32ToBF16(out.half[r*m.cols:(r+1)*m.cols], row)
		case FormatF16:
			mlasimd.F32ToF16(out.half[r*m.cols:(r+1)*m.cols], row)
		case FormatQ8_0:
			if err := mlasimd.QuantizeQ8_0(out.q8[r*rb:(r+1)*rb], row); err != nil {
				return Matrix{}, fmt.Errorf("mla: convert a [%d %d] matrix to q8_0: row %d: %w", m.rows, m.cols, r, err)
			}
		}
	}
	return out, nil
}

// Widen returns a new float32 copy of the values m stands for. It panics, naming the
// sizes, when m's storage does not hold its rows x cols (see LayerWeights.Check).
func (m Matrix) Widen() []float32 {
	if err := m.checkShape("Widen", m.rows, m.cols); err != nil {
		panic(err)
	}
	out := make([]float32, m.rows*m.cols)
	m.widenRows(out, 0, m.rows)
	return out
}

// widenRows writes rows [r0, r1) as float32 to dst[:(r1-r0)·cols].
func (m Matrix) widenRows(dst []float32, r0, r1 int) {
	n := (r1 - r0) * m.cols
	dst = dst[:n]
	switch m.Format() {
	case FormatF32:
		copy(dst, m.f32[r0*m.cols:r1*m.cols])
	case FormatBF16:
		mlasimd.BF16ToF32(dst, m.half[r0*m.cols:r1*m.cols])
	case FormatF16:
		mlasimd.F16ToF32(dst, m.half[r0*m.cols:r1*m.cols])
	case FormatQ8_0:
		rb, _ := mlasimd.Q8_0Bytes(m.cols)
		mlasimd.DequantizeQ8_0(dst, m.q8[r0*rb:r1*rb])
	case FormatFP8:
		m.widenFP8(dst, r0, r1)
	}
}

// gemv writes y[i] = row(r0+i)·x for the rows [r0, r0+len(y)), multiplying the
// resident format; scratch (FP8 only) holds at least cols values.
func (m Matrix) gemv(y, x []float32, r0 int, scratch []float32) {
	r1 := r0 + len(y)
	switch m.Format() {
	case FormatF32:
		mlasimd.Gemv(y, m.f32[r0*m.cols:r1*m.cols], x)
	case FormatBF16:
		mlasimd.GemvBF16(y, m.half[r0*m.cols:r1*m.cols], x)
	case FormatF16:
		mlasimd.GemvF16(y, m.half[r0*m.cols:r1*m.cols], x)
	case FormatQ8_0:
		m.gemvQ8_0(y, x, r0, scratch)
	case FormatFP8:
		m.gemvFP8(y, x, r0, scratch)
	}
}

// dotRows is gemv for the value up-projection: for F32 one Dot per row, which
// streams a small block in order (see mergeTask); other formats use their GEMV.
func (m Matrix) dotRows(y, x []float32, r0 int, scratch []float32) {
	if m.Format() != FormatF32 {
		m.gemv(y, x, r0, scratch)
		return
	}
	for i := range y {
		r := r0 + i
		y[i] = mlasimd.Dot(m.f32[r*m.cols:(r+1)*m.cols], x)
	}
}

// gemvT writes y = Σ_i x[i]·row(r0+i) (len(y) = cols), the transposed product over
// len(x) rows summed in row order: one Axpy per row for F32, the format's GemvT
// kernel for the others (FP8 per band of rows, see addRowsTFP8; scratch holds at
// least cols values).
func (m Matrix) gemvT(y, x []float32, r0 int, scratch []float32) {
	r1 := r0 + len(x)
	switch m.Format() {
	case FormatF32:
		clear(y)
		for i, xi := range x {
			r := r0 + i
			mlasimd.Axpy(xi, m.f32[r*m.cols:(r+1)*m.cols], y)
		}
	case FormatBF16:
		mlasimd.GemvTBF16(y, m.half[r0*m.cols:r1*m.cols], x)
	case FormatF16:
		mlasimd.GemvTF16(y, m.half[r0*m.cols:r1*m.cols], x)
	case FormatQ8_0:
		rb, _ := mlasimd.Q8_0Bytes(m.cols)
		mlasimd.GemvTQ8_0(y, m.q8[r0*rb:r1*rb], x)
	case FormatFP8:
		clear(y)
		m.addRowsTFP8(y, x, r0, scratch)
	}
}

// rowView returns rows [r0, r1) as a Matrix sharing m's storage. An FP8 view must
// start at a band of scales (r0 a multiple of br) and end at one or at the last row.
func (m Matrix) rowView(r0, r1 int) Matrix {
	v := Matrix{format: m.Format(), rows: r1 - r0, cols: m.cols}
	switch v.format {
	case FormatFP8:
		if r0%m.br != 0 || (r1%m.br != 0 && r1 != m.rows) {
			panic(fmt.Sprintf("mla: fp8 row view [%d, %d) across scale bands of %d rows", r0, r1, m.br))
		}
		sc := m.scaleCols()
		v.fp8, v.br, v.bc = m.fp8[r0*m.cols:r1*m.cols], m.br, m.bc
		v.scale = m.scale[r0/m.br*sc : ceilDiv(r1, m.br)*sc]
	case FormatF32:
		v.f32 = m.f32[r0*m.cols : r1*m.cols]
	case FormatBF16, FormatF16:
		v.half = m.half[r0*m.cols : r1*m.cols]
	case FormatQ8_0:
		rb, _ := mlasimd.Q8_0Bytes(m.cols)
		v.q8 = m.q8[r0*rb : r1*rb]
	}
	return v
}

// newMatrix allocates a rows x cols matrix in f (F32, BF16, F16 or Q8_0), whose size
// the caller has checked (checkShape of the matrices it comes from).
func newMatrix(f WeightFormat, rows, cols int) Matrix {
	m := Matrix{format: f, rows: rows, cols: cols}
	switch f {
	case FormatF32:
		m.f32 = hugepage.Make[float32](rows * cols)
	case FormatBF16, FormatF16:
		m.half = hugepage.Make[uint16](rows * cols)
	case FormatQ8_0:
		rb, _ := mlasimd.Q8_0Bytes(cols)
		m.q8 = hugepage.Make[byte](rows * rb)
	}
	return m
}

// stackRows returns a new matrix of the given parts' rows in order; all parts share
// a format and a column count.
func stackRows(parts ...Matrix) (Matrix, error) {
	if len(parts) == 0 {
		return Matrix{}, errors.New("mla: stackRows: no parts")
	}
	f, cols, rows := parts[0].Format(), parts[0].cols, 0
	if f == FormatFP8 {
		return Matrix{}, errors.New("mla: FP8 matrices of separate tensors cannot be stacked: their scale blocks need not line up")
	}
	for _, p := range parts {
		if p.Format() != f || p.cols != cols {
			return Matrix{}, fmt.Errorf("mla: stacking a %v [%d %d] matrix under %v rows of %d values", p.Format(), p.rows, p.cols, f, cols)
		}
		if err := p.checkShape("stack", p.rows, p.cols); err != nil {
			return Matrix{}, err
		}
		rows += p.rows
	}
	out := newMatrix(f, rows, cols)
	r := 0
	for _, p := range parts {
		dst := out.rowView(r, r+p.rows)
		copy(dst.f32, p.f32)
		copy(dst.half, p.half)
		copy(dst.q8, p.q8)
		r += p.rows
	}
	return out, nil
}

// values returns m's values as float32: shared for an F32 matrix, else a new copy.
func (m Matrix) values() []float32 {
	if m.Format() == FormatF32 {
		return m.f32
	}
	return m.Widen()
}

// sameStorage reports whether a and b are views of the same first weight (a model's
// shared KV down-projection).
func sameStorage(a, b Matrix) bool {
	switch {
	case len(a.f32) > 0 && len(b.f32) > 0:
		return &a.f32[0] == &b.f32[0]
	case len(a.half) > 0 && len(b.half) > 0:
		return &a.half[0] == &b.half[0]
	case len(a.q8) > 0 && len(b.q8) > 0:
		return &a.q8[0] == &b.q8[0]
	case len(a.fp8) > 0 && len(b.fp8) > 0:
		return &a.fp8[0] == &b.fp8[0]
	}
	return false
}
