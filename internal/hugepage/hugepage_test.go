package hugepage

import "testing"

func TestFloatsZeroedAndSized(t *testing.T) {
	for _, n := range []int{0, 1, 1000, MinBytes/4 - 1, 3 * Size / 4} {
		s := Floats(n)
		if len(s) != n {
			t.Fatalf("Floats(%d): len %d", n, len(s))
		}
		for i, v := range s {
			if v != 0 {
				t.Fatalf("Floats(%d)[%d] = %v, want 0", n, i, v)
			}
		}
		u := Uint16s(n)
		if len(u) != n {
			t.Fatalf("Uint16s(%d): len %d", n, len(u))
		}
	}
}
