// Command gen writes mlasimd's amd64 assembly (kernels_amd64.s) and its Go
// declarations (stubs_amd64.go) with Avo. Every kernel is described once, as a
// method of target, and instantiated for each x86 target.
//
//	go run . -out ../../kernels_amd64.s -stubs ../../stubs_amd64.go -pkg mlasimd
package main

import (
	. "github.com/mmcloughlin/avo/build"
)

func main() {
	ConstraintExpr("gc,!purego")
	declareTables()
	for _, t := range []target{avx2, avx512} {
		t.dot()
		t.sum()
		t.sumSqDiff()
		t.axpy()
		t.scale()
		t.scaleMul()
		t.affine()
		t.gemv()
		t.gemvPrefetch()
		t.gemvT()
		t.gemvTStream()
		t.downUp()
		t.downUpPrefetch()
		t.gemmNT()
		if t.zmm {
			t.gemmNTAdd()
		}
		t.gemmNN()
		t.exp()
		t.maxScaled()
		t.expSum()
		t.rope()
		t.ropeHalf()
		t.f16ToF32()
		t.bf16ToF32()
	}
	Generate()
}
