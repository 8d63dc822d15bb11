package safetensors

import "math"

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

// E4M3ToF32 returns the float32 value of an FP8 E4M3 byte (NaN for S.1111.111).
func E4M3ToF32(b byte) float32 { return e4m3Table[b] }

// decodeE4M3 widens FP8 E4M3 bytes to float32 (len(dst) >= len(src)).
func decodeE4M3(dst []float32, src []byte) {
	dst = dst[:len(src)]
	for i, b := range src {
		dst[i] = e4m3Table[b]
	}
}
