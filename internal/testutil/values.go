package testutil

import (
	"math"
	"math/rand/v2"
)

// Class is a kind of float32 input value.
type Class int

const (
	Normal    Class = iota // a signed value of moderate magnitude
	Zero                   // +0 or -0
	Subnormal              // a denormal, positive or negative
	Huge                   // up to ±1e15: large but such that no sum of products overflows
	Inf                    // +Inf or -Inf
	NaN
	numClasses
)

// Value returns a value of class c drawn from rng.
func Value(rng *rand.Rand, c Class) float32 {
	sign := float32(1)
	if rng.IntN(2) == 0 {
		sign = -1
	}
	switch c {
	case Zero:
		return sign * 0
	case Subnormal:
		return sign * math.Float32frombits(uint32(1+rng.IntN(0x7fffff)))
	case Huge:
		return sign * float32(math.Pow(10, 6+9*rng.Float64()))
	case Inf:
		return float32(math.Inf(int(sign)))
	case NaN:
		return float32(math.NaN())
	}
	return sign * float32(rng.Float64()*4)
}

// Normals returns n Normal values.
func Normals(rng *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = Value(rng, Normal)
	}
	return v
}

// Mixed returns n values that are mostly Normal, with the given classes sprinkled in
// at the given rate.
func Mixed(rng *rand.Rand, n int, rate float64, classes ...Class) []float32 {
	v := Normals(rng, n)
	for i := range v {
		if len(classes) > 0 && rng.Float64() < rate {
			v[i] = Value(rng, classes[rng.IntN(len(classes))])
		}
	}
	return v
}

// AllClasses lists every class.
func AllClasses() []Class {
	c := make([]Class, numClasses)
	for i := range c {
		c[i] = Class(i)
	}
	return c
}
