// Command gen writes mlasimd's amd64 assembly (kernels_amd64.s) and its Go
// declarations (stubs_amd64.go) with Avo. Every routine is described once in the
// root module's internal/spec; its body is a method of target here, instantiated for
// each x86 target that the spec gives it.
//
//	go run . -out ../../kernels_amd64.s -stubs ../../stubs_amd64.go -pkg mlasimd
package main

import (
	"fmt"
	"os"

	. "github.com/mmcloughlin/avo/build"

	"github.com/mlasimd/mlasimd/internal/spec"
)

// bodies maps each spec routine to the method that emits its body.
var bodies = map[string]func(target){
	"dot": target.dot, "sum": target.sum, "sumSqDiff": target.sumSqDiff,
	"axpy": target.axpy, "scale": target.scale, "scaleMul": target.scaleMul, "affine": target.affine,
	"gemv": target.gemv, "gemvStream": target.gemvStream,
	"gemvT": target.gemvT, "gemvTStream": target.gemvTStream,
	"downUp": target.downUp, "downUpStream": target.downUpStream,
	"gemmNT": target.gemmNT, "gemmNTAdd": target.gemmNTAdd, "gemmNNAdd": target.gemmNNAdd,
	"exp": target.exp, "maxScaled": target.maxScaled, "expSum": target.expSum,
	"rope": target.rope, "ropeHalf": target.ropeHalf,
	"f16ToF32": target.f16ToF32, "bf16ToF32": target.bf16ToF32,
	"gemvBF16": target.gemvBF16, "gemvF16": target.gemvF16,
	"gemvQ8_0": target.gemvQ8_0, "gemvQ8_0Q8": target.gemvQ8_0Q8,
	"gemvTBF16": target.gemvTBF16, "gemvTF16": target.gemvTF16, "gemvTQ8_0": target.gemvTQ8_0,
	"gemvE4M3": target.gemvE4M3, "gemvTE4M3": target.gemvTE4M3, "gemvE4M3Finite": target.gemvE4M3Finite,
	"gemmNTFew":  target.gemmNTFew,
	"gemmNTBF16": target.gemmNTBF16, "gemmNNAddBF16": target.gemmNNAddBF16,
	"gemmNTBF16E4M3": target.gemmNTBF16E4M3, "gemmNNAddBF16E4M3": target.gemmNNAddBF16E4M3,
	"f32ToBF16DAZ": target.f32ToBF16DAZ,
	"attnScoresI8": target.attnScoresI8, "quantizeProbsI8": target.quantizeProbsI8, "attnValuesI8": target.attnValuesI8,
}

func main() {
	if err := checkBodies(); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	ConstraintExpr("gc,!purego")
	declareTables()
	declareFewOrder()
	declareNNOrder()
	for _, t := range []target{avx2, avx512} {
		for _, r := range spec.ForISA(t.isa) {
			bodies[r.Name](t)
		}
	}
	Generate()
}

// checkBodies fails unless the bodies are exactly the spec's amd64 routines.
func checkBodies() error {
	want := map[string]bool{}
	for _, r := range spec.Routines {
		if r.Has(spec.AVX2) || r.Has(spec.AVX512) {
			want[r.Name] = true
			if bodies[r.Name] == nil {
				return fmt.Errorf("the spec's %s has no amd64 body", r.Name)
			}
		}
	}
	for name := range bodies {
		if !want[name] {
			return fmt.Errorf("body %s is not an amd64 routine of the spec", name)
		}
	}
	return nil
}
