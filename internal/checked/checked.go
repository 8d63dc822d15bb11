// Package checked does size arithmetic that reports overflow instead of wrapping.
// Every product or sum of sizes that decides what memory is read, written or
// allocated goes through it: a shape from a caller, a file or a config is untrusted,
// and a wrapped product can pass a length check and then index far out of bounds.
package checked

import "math/bits"

// Mul returns a*b for non-negative a and b, and false when either is negative or the
// product does not fit an int.
func Mul(a, b int) (int, bool) {
	if a < 0 || b < 0 {
		return 0, false
	}
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	if hi != 0 || lo > uint64(maxInt) {
		return 0, false
	}
	return int(lo), true
}

// Add returns a+b for non-negative a and b, and false when either is negative or the
// sum does not fit an int.
func Add(a, b int) (int, bool) {
	if a < 0 || b < 0 || a > maxInt-b {
		return 0, false
	}
	return a + b, true
}

// Product returns the product of dims (1 for none), and false when a factor is
// negative or the product does not fit an int.
func Product(dims ...int) (int, bool) {
	p := 1
	for _, d := range dims {
		var ok bool
		if p, ok = Mul(p, d); !ok {
			return 0, false
		}
	}
	return p, true
}

// MulAdd returns a*b+c for non-negative operands, and false on overflow or a negative
// operand.
func MulAdd(a, b, c int) (int, bool) {
	p, ok := Mul(a, b)
	if !ok {
		return 0, false
	}
	return Add(p, c)
}

const maxInt = int(^uint(0) >> 1)
