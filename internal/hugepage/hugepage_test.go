package hugepage

import "testing"

func TestMakeZeroedAndSized(t *testing.T) {
	for _, n := range []int{0, 1, 1000, MinBytes/4 - 1, 3 * Size / 4} {
		s := Make[float32](n)
		if len(s) != n {
			t.Fatalf("Make[float32](%d): len %d", n, len(s))
		}
		for i, v := range s {
			if v != 0 {
				t.Fatalf("Make[float32](%d)[%d] = %v, want 0", n, i, v)
			}
		}
		u := Make[uint16](n)
		if len(u) != n {
			t.Fatalf("Make[uint16](%d): len %d", n, len(u))
		}
	}
}
