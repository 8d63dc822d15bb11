// Package kernels holds the portable, pure-Go float32 kernels of mlasimd.
//
// They are the fallback on every machine (and the only code in a purego build) and the
// reference that every assembly routine is checked against, so their semantics are the
// specification:
//
//   - Accumulation order is stated per kernel. Every product is written as float32(a*b)
//     so the compiler cannot fuse it into a multiply-add on one architecture and not on
//     another (the Go spec allows fusion; an explicit conversion forbids it). The
//     results are therefore bit-identical on every GOARCH.
//   - NaN and Inf propagate as IEEE 754 arithmetic makes them propagate; the kernels
//     with special rules (Exp, Softmax, the conversions) document them.
//   - A length mismatch panics before any element is read or written, with a message
//     that names the kernel and the sizes, as gonum's BLAS does.
//   - No kernel allocates.
//
// The assembly versions may sum in another order (several accumulators, fused
// multiply-adds); the tests bound the difference by an error analysis against a
// float64 oracle, never by a fixed epsilon.
//
// Each kernel here has the name and signature of the method of mlasimd.Kernels it
// specifies (destination first, as in gonum's BLAS; GemmNTPrefetch, whose prefetch is
// only a hint, is GemmNT here), and the shape checks (check.go) are the ones the root
// package runs before any assembly, so every Level panics with the same message. The
// package imports nothing of mlasimd's: the generic Level is this package, and the
// tests and fuzz targets use it as their reference.
package kernels
