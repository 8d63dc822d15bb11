package checked

import (
	"math"
	"testing"
)

func TestMul(t *testing.T) {
	for _, c := range []struct {
		a, b, want int
		ok         bool
	}{
		{0, 0, 0, true}, {3, 4, 12, true}, {math.MaxInt, 1, math.MaxInt, true},
		{math.MaxInt, 0, 0, true}, {1 << 62, 2, 0, false}, {1<<62 + 4, 4, 0, false},
		{1 << 32, 1 << 32, 0, false}, {-1, 3, 0, false}, {3, -1, 0, false},
		{math.MaxInt/2 + 1, 2, 0, false},
	} {
		got, ok := Mul(c.a, c.b)
		if ok != c.ok || (ok && got != c.want) {
			t.Errorf("Mul(%d, %d) = %d, %v; want %d, %v", c.a, c.b, got, ok, c.want, c.ok)
		}
	}
}

func TestAdd(t *testing.T) {
	for _, c := range []struct {
		a, b, want int
		ok         bool
	}{
		{0, 0, 0, true}, {math.MaxInt - 1, 1, math.MaxInt, true}, {math.MaxInt, 1, 0, false},
		{-1, 0, 0, false}, {0, -1, 0, false},
	} {
		got, ok := Add(c.a, c.b)
		if ok != c.ok || (ok && got != c.want) {
			t.Errorf("Add(%d, %d) = %d, %v; want %d, %v", c.a, c.b, got, ok, c.want, c.ok)
		}
	}
}

func TestProductAndMulAdd(t *testing.T) {
	if p, ok := Product(); !ok || p != 1 {
		t.Errorf("Product() = %d, %v", p, ok)
	}
	if p, ok := Product(2, 3, 4); !ok || p != 24 {
		t.Errorf("Product(2,3,4) = %d, %v", p, ok)
	}
	if _, ok := Product(1<<40, 1<<40); ok {
		t.Error("Product(2^40, 2^40) did not overflow")
	}
	if _, ok := Product(0, -1); ok {
		t.Error("Product(0, -1) accepted a negative factor")
	}
	if v, ok := MulAdd(3, 4, 5); !ok || v != 17 {
		t.Errorf("MulAdd(3,4,5) = %d, %v", v, ok)
	}
	if _, ok := MulAdd(math.MaxInt/2, 2, 2); ok {
		t.Error("MulAdd overflow not caught")
	}
}
