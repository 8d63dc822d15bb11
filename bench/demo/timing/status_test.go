package timing

import (
	"bytes"
	"strings"
	"testing"
)

// TestStatusNoTerminal: without a terminal every stage is a line of its own and no
// carriage return is written.
func TestStatusNoTerminal(t *testing.T) {
	var b bytes.Buffer
	s := NewStatus(&b)
	s.Stage("kernels %d/%d", 1, 2)
	s.Stage("kernels %d/%d", 2, 2)
	s.Done("kernels: %d measurements", 2)
	if got, want := b.String(), "kernels 1/2\nkernels 2/2\nkernels: 2 measurements\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if strings.Contains(b.String(), "\r") {
		t.Errorf("carriage return in %q", b.String())
	}
}

// TestStatusTerminal: on a terminal the stages rewrite one line, clearing what a
// longer one left.
func TestStatusTerminal(t *testing.T) {
	var b bytes.Buffer
	s := &Status{w: &b, tty: true}
	s.Stage("abcdef")
	s.Stage("xy")
	s.Done("done")
	if got, want := b.String(), "\rabcdef\rxy    \r      \rdone\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
