package mla

import (
	"fmt"

	"github.com/mlasimd/mlasimd/internal/checked"
)

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
