package main

import (
	"fmt"
	"testing"
)

// TestBF16Encoders checks SHLL/SHLL2 #16 and CMHI (the encoders of bf16gemm.go) over
// a spread of registers against the disassembler, like TestEncoders.
func TestBF16Encoders(t *testing.T) {
	var body []string
	add := func(w uint32, s string) { body = append(body, fmt.Sprintf("\tWORD $0x%08x // %s", w, s)) }
	for _, r := range [][3]V{{0, 0, 0}, {1, 2, 3}, {31, 17, 8}, {5, 31, 30}, {16, 8, 31}} {
		add(encSHLL(H4, r[1], r[2]))
		add(encSHLL(H8, r[1], r[2]))
		add(encCMHI(S4, r[0], r[1], r[2]))
		add(encCMHI(S2, r[0], r[1], r[2]))
	}
	problems, words := checkWords(t, writeAsm(t, body))
	for _, p := range problems {
		t.Error(p)
	}
	if words != len(body) {
		t.Fatalf("checked %d of %d words", words, len(body))
	}
}

func TestBF16EncoderRangeChecks(t *testing.T) {
	for name, f := range map[string]func(){
		"SHLL from B8":     func() { encSHLL(B8, 0, 0) },
		"SHLL from S4":     func() { encSHLL(S4, 0, 0) },
		"SHLL register 32": func() { encSHLL(H4, 32, 0) },
		"CMHI on H8":       func() { encCMHI(H8, 0, 0, 0) },
		"CMHI register 32": func() { encCMHI(S4, 0, 0, 32) },
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
