package kernels

import "math"

// F16ToF32 widens IEEE half-precision values (as raw bits) to float32. Every half is
// exactly representable; a signaling NaN comes out quiet, as F16C and NEON's FCVTL
// produce it.
func F16ToF32(dst []float32, src []uint16) {
	CheckSameLen("F16ToF32", len(dst), len(src))
	dst = dst[:len(src)]
	for i, h := range src {
		dst[i] = math.Float32frombits(f16ToF32Bits(h))
	}
}

func f16ToF32Bits(h uint16) uint32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch {
	case exp == 0x1f && mant != 0:
		return sign | 0x7fc00000 | mant<<13
	case exp == 0x1f:
		return sign | 0x7f800000
	case exp == 0 && mant == 0:
		return sign
	case exp == 0: // subnormal half: mant * 2^-24, exact in float32
		return sign | math.Float32bits(float32(mant)*0x1p-24)
	}
	return sign | (exp+112)<<23 | mant<<13
}

// BF16ToF32 widens bfloat16 values (the top 16 bits of a float32) exactly.
func BF16ToF32(dst []float32, src []uint16) {
	CheckSameLen("BF16ToF32", len(dst), len(src))
	dst = dst[:len(src)]
	for i, h := range src {
		dst[i] = math.Float32frombits(uint32(h) << 16)
	}
}

// F32ToF16 narrows float32 to IEEE half precision with round-to-nearest-even, as
// VCVTPS2PH with immediate 0 does: values from 65520 up become Inf, tiny values become
// half subnormals or ±0, a NaN stays a (quiet) NaN of the same sign.
func F32ToF16(dst []uint16, src []float32) {
	CheckSameLen("F32ToF16", len(dst), len(src))
	dst = dst[:len(src)]
	for i, f := range src {
		dst[i] = f32ToF16(f)
	}
}

func f32ToF16(f float32) uint16 {
	bits := math.Float32bits(f)
	sign := uint16(bits>>16) & 0x8000
	exp := int(bits>>23) & 0xff
	mant := bits & 0x7fffff
	if exp == 0xff {
		if mant != 0 {
			return sign | 0x7e00 | uint16(mant>>13)
		}
		return sign | 0x7c00
	}
	e := exp - 127
	if e >= -14 { // a normal half, or overflow through rounding
		if e > 15 {
			return sign | 0x7c00
		}
		h := uint32(e+15)<<10 | mant>>13
		return sign | uint16(roundShifted(h, mant&0x1fff, 13))
	}
	shift := uint(-e - 1) // the value in units of 2^-24 is (1.mant) << 23 >> shift
	if shift >= 25 {
		return sign
	}
	m := mant | 0x800000
	return sign | uint16(roundShifted(m>>shift, m&(1<<shift-1), shift))
}

// roundShifted rounds q (a value shifted right by `shift` bits, rem the bits shifted
// out) to nearest, ties to even.
func roundShifted(q, rem uint32, shift uint) uint32 {
	half := uint32(1) << (shift - 1)
	if rem > half || (rem == half && q&1 == 1) {
		q++
	}
	return q
}

// F32ToBF16 narrows float32 to bfloat16 with round-to-nearest-even; a NaN stays a
// quiet NaN of the same sign, and values that round past the largest bfloat16 become Inf.
func F32ToBF16(dst []uint16, src []float32) {
	CheckSameLen("F32ToBF16", len(dst), len(src))
	dst = dst[:len(src)]
	for i, f := range src {
		bits := math.Float32bits(f)
		if bits&0x7fffffff > 0x7f800000 {
			dst[i] = uint16(bits>>16) | 0x40
			continue
		}
		dst[i] = uint16(roundShifted(bits>>16, bits&0xffff, 16))
	}
}
