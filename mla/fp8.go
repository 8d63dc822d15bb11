package mla

import (
	"fmt"
	"math"

	"github.com/mlasimd/mlasimd/internal/checked"
)

// e4m3Table maps every FP8 E4M3 ("fn": no infinities) byte to its float32 value:
// sign, 4 exponent bits with bias 7, 3 mantissa bits; exponent 0 is subnormal
// (m/8·2^-6); S.1111.111 is NaN; the largest finite value is 448.
var e4m3Table = func() (t [256]float32) {
	for b := range 256 {
		sign := float32(1)
		if b&0x80 != 0 {
			sign = -1
		}
		e, m := (b>>3)&0xf, b&7
		switch {
		case e == 0xf && m == 7:
			t[b] = float32(math.NaN())
		case e == 0:
			t[b] = sign * float32(m) / 8 * 0x1p-6
		default:
			t[b] = sign * (1 + float32(m)/8) * float32(math.Ldexp(1, e-7))
		}
	}
	return t
}()

func decodeE4M3(dst []float32, src []byte) {
	dst = dst[:len(src)]
	for i, b := range src {
		dst[i] = e4m3Table[b]
	}
}

// dequantizeBlocks multiplies an FP8-decoded rows x cols matrix in place by its block
// scales: w[i][j] *= scaleInv[i/br][j/bc] (DeepSeek-V3's weight_scale_inv, which
// multiplies despite its name; edge blocks are partial and use their block's scale).
func dequantizeBlocks(w []float32, rows, cols int, scaleInv []float32, scaleShape []int, br, bc int) error {
	if br <= 0 || bc <= 0 {
		return fmt.Errorf("block size %dx%d, want positive sides", br, bc)
	}
	// Ceiling divisions that cannot overflow, whatever rows and cols are.
	sr, sc := rows/br, cols/bc
	if rows%br != 0 {
		sr++
	}
	if cols%bc != 0 {
		sc++
	}
	if len(scaleShape) != 2 || scaleShape[0] != sr || scaleShape[1] != sc {
		return fmt.Errorf("scale shape %v, want [%d %d] for a [%d %d] weight in %dx%d blocks", scaleShape, sr, sc, rows, cols, br, bc)
	}
	if n, ok := checked.Mul(rows, cols); !ok || n != len(w) || sr*sc != len(scaleInv) {
		return fmt.Errorf("%d weights and %d scales do not fit a [%d %d] weight with [%d %d] scales", len(w), len(scaleInv), rows, cols, sr, sc)
	}
	for i := range rows {
		row := w[i*cols : (i+1)*cols]
		srow := scaleInv[(i/br)*sc : (i/br+1)*sc]
		for j := range row {
			row[j] *= srow[j/bc]
		}
	}
	return nil
}
