package kernels

import (
	"fmt"

	"github.com/mlasimd/mlasimd/internal/checked"
)

// The Check functions panic when the slice lengths do not fit the kernel. The root
// package calls them before any assembly runs, so that no routine ever sees a shape
// it could read or write out of bounds with. Every product of sizes is computed with
// overflow checks: m*n wrapping around 2^64 to a small number would otherwise pass
// the length check and let a routine write far past c.

func shapePanic(kernel, format string, args ...any) {
	panic(fmt.Sprintf("mlasimd: %s: "+format, append([]any{kernel}, args...)...))
}

// CheckSameLen panics unless a and b have the same length.
func CheckSameLen(kernel string, a, b int) {
	if a != b {
		shapePanic(kernel, "length mismatch: %d != %d", a, b)
	}
}

// product formats a*b for a message: its value, or that it overflows.
func product(a, b int) string {
	if p, ok := checked.Mul(a, b); ok {
		return fmt.Sprint(p)
	}
	return "overflow"
}

// CheckGemv panics unless len(w) == rows*cols.
func CheckGemv(kernel string, w, rows, cols int) {
	if p, ok := checked.Mul(rows, cols); !ok || w != p {
		shapePanic(kernel, "len(w)=%d, want %d*%d=%s", w, rows, cols, product(rows, cols))
	}
}

// CheckDownUp panics unless down is len(latent) x len(x) and up is len(y) x len(latent).
func CheckDownUp(y, latent, down, up, x int) {
	if p, ok := checked.Mul(latent, x); !ok || down != p {
		shapePanic("DownUp", "len(down)=%d, want len(latent)*len(x)=%d*%d=%s", down, latent, x, product(latent, x))
	}
	if p, ok := checked.Mul(y, latent); !ok || up != p {
		shapePanic("DownUp", "len(up)=%d, want len(y)*len(latent)=%d*%d=%s", up, y, latent, product(y, latent))
	}
}

// fits reports whether a slice of n elements holds a rows x cols matrix whose rows
// start ld apart: (rows-1)*ld + cols <= n, computed without overflow.
func fits(n, rows, cols, ld int) bool {
	if rows == 0 || cols == 0 {
		return true
	}
	need, ok := checked.MulAdd(rows-1, ld, cols)
	return ok && n >= need
}

// CheckGemm panics unless the m x n result c, the m x k (NT) operand a with row stride
// lda and the operand b fit their slices. bRows and bCols are b's logical shape.
func CheckGemm(kernel string, c, a, b, m, n, k, lda, ldb, bRows, bCols int) {
	if m < 0 || n < 0 || k < 0 {
		shapePanic(kernel, "negative size m=%d n=%d k=%d", m, n, k)
	}
	if p, ok := checked.Mul(m, n); !ok || c != p {
		shapePanic(kernel, "len(c)=%d, want m*n=%d*%d=%s", c, m, n, product(m, n))
	}
	if lda < k || !fits(a, m, k, lda) {
		shapePanic(kernel, "len(a)=%d lda=%d too small for %dx%d", a, lda, m, k)
	}
	if ldb < bCols || !fits(b, bRows, bCols, ldb) {
		shapePanic(kernel, "len(b)=%d ldb=%d too small for %dx%d", b, ldb, bRows, bCols)
	}
}

// CheckRoPE panics unless x holds exactly one pair per cos/sin entry.
func CheckRoPE(kernel string, x, cos, sin int) {
	if two, ok := checked.Mul(2, cos); cos != sin || !ok || x != two {
		shapePanic(kernel, "len(x)=%d, len(cos)=%d, len(sin)=%d; want len(x)=2*len(cos) and len(cos)=len(sin)", x, cos, sin)
	}
}

// CheckNorm panics unless dst, x and weight (and bias, when present) have one length.
func CheckNorm(kernel string, dst, x, weight, bias int, hasBias bool) {
	if dst != x || weight != x || (hasBias && bias != x) {
		if hasBias {
			shapePanic(kernel, "len(dst)=%d len(x)=%d len(weight)=%d len(bias)=%d, want all equal", dst, x, weight, bias)
		}
		shapePanic(kernel, "len(dst)=%d len(x)=%d len(weight)=%d, want all equal", dst, x, weight)
	}
}

// CheckOnlineSoftmax panics unless m, l and carry have one length (the rows) that
// divides len(s); with no rows, s must be empty too.
func CheckOnlineSoftmax(s, m, l, carry int) {
	if l != m || carry != m || (m == 0 && s != 0) || (m > 0 && s%m != 0) {
		shapePanic("OnlineSoftmax", "len(s)=%d len(m)=%d len(l)=%d len(carry)=%d; want len(m)=len(l)=len(carry) rows dividing len(s)", s, m, l, carry)
	}
}
