package main

import (
	"fmt"
	"testing"
)

// TestI8Encoders checks the int8 attention bodies' encoders (narrowing with
// saturation, FCVTNS) against the disassembler over a spread of registers and
// arrangements, and their range checks.
func TestI8Encoders(t *testing.T) {
	var body []string
	add := func(w uint32, s string) { body = append(body, fmt.Sprintf("\tWORD $0x%08x // %s", w, s)) }
	for _, r := range [][2]V{{0, 0}, {1, 2}, {17, 8}, {31, 30}, {8, 31}} {
		for _, to := range []arr{B8, B16, H4, H8} {
			for _, op := range []narrow{opSQXTUN, opUQXTN} {
				add(encNarrow(op, to, r[0], r[1]))
			}
		}
		for _, a := range []arr{S2, S4} {
			add(encFloat2(opFCVTNS, a, r[0], r[1]))
		}
	}
	problems, words := checkWords(t, writeAsm(t, body))
	for _, p := range problems {
		t.Error(p)
	}
	if words != len(body) {
		t.Fatalf("checked %d of %d words", words, len(body))
	}
	for name, f := range map[string]func(){
		"SQXTUN to S4":      func() { encNarrow(opSQXTUN, S4, 0, 0) },
		"UQXTN to S2":       func() { encNarrow(opUQXTN, S2, 0, 0) },
		"UQXTN register 32": func() { encNarrow(opUQXTN, B8, 32, 0) },
		"FCVTNS on H8":      func() { encFloat2(opFCVTNS, H8, 0, 0) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}
