package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The asmcheck: assemble an arm64 file with `go tool asm`, disassemble the object
// with `go tool objdump`, and require that every `WORD $0x... // text` line
// produced exactly that word and that the disassembler prints exactly `text` for it.
// A WORD whose comment names another instruction (or other registers) fails.

const generatedAsm = "../../../kernels_arm64.s"

var (
	wordLine = regexp.MustCompile(`^\s*WORD\s+\$0x([0-9a-fA-F]+)\s*(?://\s*(.*?))?\s*$`)
	dumpLine = regexp.MustCompile(`^\s*(\S+):(\d+)\s+0x[0-9a-f]+\s+([0-9a-f]{8})\s+(.*?)\s*$`)
)

// checkWords returns one message per WORD of the file at path that does not
// disassemble to its comment, and the number of WORDs checked.
func checkWords(t *testing.T, path string) (problems []string, words int) {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	goroot := strings.TrimSpace(run(t, nil, "go", "env", "GOROOT"))
	obj := filepath.Join(t.TempDir(), "words.o")
	env := []string{"GOOS=linux", "GOARCH=arm64"}
	run(t, env, "go", "tool", "asm", "-p", "github.com/mlasimd/mlasimd",
		"-I", filepath.Join(goroot, "pkg", "include"), "-o", obj, path)
	dump := run(t, env, "go", "tool", "objdump", obj)

	type inst struct{ hex, text string }
	decoded := map[int][]inst{}
	base := filepath.Base(path)
	sc := bufio.NewScanner(strings.NewReader(dump))
	for sc.Scan() {
		m := dumpLine.FindStringSubmatch(sc.Text())
		if m == nil || filepath.Base(m[1]) != base {
			continue
		}
		line, _ := strconv.Atoi(m[2])
		decoded[line] = append(decoded[line], inst{m[3], m[4]})
	}

	for i, text := range strings.Split(string(src), "\n") {
		m := wordLine.FindStringSubmatch(text)
		if m == nil {
			continue
		}
		words++
		line := i + 1
		want, err := strconv.ParseUint(m[1], 16, 32)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s:%d: bad word %q", base, line, m[1]))
			continue
		}
		if m[2] == "" {
			problems = append(problems, fmt.Sprintf("%s:%d: WORD without a disassembly comment", base, line))
			continue
		}
		got := decoded[line]
		switch {
		case len(got) != 1:
			problems = append(problems, fmt.Sprintf("%s:%d: %d instructions assembled from one WORD", base, line, len(got)))
		case got[0].hex != fmt.Sprintf("%08x", want):
			problems = append(problems, fmt.Sprintf("%s:%d: assembled %s, the WORD says %08x", base, line, got[0].hex, want))
		case got[0].text != m[2]:
			problems = append(problems, fmt.Sprintf("%s:%d: WORD $0x%08x decodes to %q, the comment says %q", base, line, want, got[0].text, m[2]))
		}
	}
	return problems, words
}

func run(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// TestWords is the asmcheck of the generated file.
func TestWords(t *testing.T) {
	problems, words := checkWords(t, generatedAsm)
	for _, p := range problems {
		t.Error(p)
	}
	if words == 0 {
		t.Fatalf("no WORD found in %s", generatedAsm)
	}
	if len(problems) == 0 {
		t.Logf("%d WORDs decode to their comments", words)
	}
}

// TestGeneratedUpToDate checks that the committed files are what the generator
// writes now (make gen-check does the same through git).
func TestGeneratedUpToDate(t *testing.T) {
	asm, stubs := generate()
	for path, want := range map[string][]byte{generatedAsm: asm, "../../../stubs_arm64.go": stubs} {
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is stale: run make gen", path)
		}
	}
}

// writeAsm writes a one-function arm64 file with the given body lines.
func writeAsm(t *testing.T, body []string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "probe_arm64.s")
	text := "#include \"textflag.h\"\n\nTEXT ·probe(SB), NOSPLIT, $0-0\n" + strings.Join(body, "\n") + "\n\tRET\n"
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestCheckCatchesWrongWords proves the check is not vacuous: a word with another
// register, another opcode or a missing comment is reported.
func TestCheckCatchesWrongWords(t *testing.T) {
	good, _ := encFloat3(opFADD, S4, 2, 1, 0)
	body := []string{
		fmt.Sprintf("\tWORD $0x%08x // FADD V2.S4, V1.S4, V0.S4", good), // right
		fmt.Sprintf("\tWORD $0x%08x // FADD V2.S4, V1.S4, V3.S4", good), // wrong destination
		fmt.Sprintf("\tWORD $0x%08x // FSUB V2.S4, V1.S4, V0.S4", good), // wrong opcode
		fmt.Sprintf("\tWORD $0x%08x // FMAXV V30.S4, F0", 0x6e30f7c0),   // STYLE.md's real-world FMAXP
		fmt.Sprintf("\tWORD $0x%08x", good),                             // no comment
	}
	problems, words := checkWords(t, writeAsm(t, body))
	if words != len(body) || len(problems) != len(body)-1 {
		t.Fatalf("checked %d words, got %d problems, want %d:\n%s", words, len(problems), len(body)-1, strings.Join(problems, "\n"))
	}
	for _, p := range problems {
		if strings.Contains(p, ":4:") {
			t.Errorf("the correct word was reported: %s", p)
		}
	}
}

// TestEncoders assembles every encoder over a spread of registers, arrangements,
// lanes and shifts and checks each against the disassembler.
func TestEncoders(t *testing.T) {
	var body []string
	add := func(w uint32, s string) { body = append(body, fmt.Sprintf("\tWORD $0x%08x // %s", w, s)) }
	triples := [][3]V{{0, 0, 0}, {1, 2, 3}, {31, 17, 8}, {5, 31, 30}, {16, 8, 31}}
	for _, a := range []arr{S2, S4} {
		for _, r := range triples {
			for _, op := range []float3{opFADD, opFSUB, opFMUL, opFMAX, opFMIN, opFADDP, opFCMGT, opFCMGE, opFMAXNM} {
				add(encFloat3(op, a, r[0], r[1], r[2]))
			}
			for _, op := range []float2{opFRINTN, opFCVTZS, opSCVTF, opFNEG, opFABS} {
				add(encFloat2(op, a, r[1], r[2]))
			}
			for i := range 4 {
				for _, op := range []floatElem{opFMULElem, opFMLAElem, opFMLSElem} {
					add(encFloatElem(op, a, r[0], i, r[1], r[2]))
				}
			}
			for _, sh := range []int{1, 2, 23, 31, 32} {
				add(encSSHR(a, sh, r[1], r[2]))
			}
		}
	}
	for _, r := range triples {
		add(encBIC(B16, r[0], r[1], r[2]))
		add(encBIC(B8, r[0], r[1], r[2]))
		add(encFCVTL(H4, r[1], r[2]))
		add(encFCVTL(H8, r[1], r[2]))
		add(encFADDPScalar(r[1], r[2]))
		add(encFMAXV(r[1], r[2]))
		for _, sh := range []int{1, 3, 7} {
			add(encSSHLL(B8, sh, r[1], r[2]))
			add(encSSHLL(B16, sh, r[1], r[2]))
		}
		for _, imm := range [][2]int{{0x40, 8}, {0x40, 0}, {0x01, 8}, {0xff, 0}, {0x2a, 8}} {
			add(encBICImm16(H8, imm[0], imm[1], r[2]))
			add(encBICImm16(H4, imm[0], imm[1], r[2]))
		}
		for _, from := range []arr{B8, B16, H4, H8} {
			for _, sh := range []int{0, 1, 7} {
				add(encSSHLL(from, sh, r[1], r[2]))
			}
		}
		add(encSSHLL(H4, 15, r[1], r[2]))
		add(encSSHLL(H8, 8, r[1], r[2]))
		for _, from := range []arr{B8, B16, H4, H8} {
			for _, op := range []long3{opSMULL, opSMLAL} {
				add(encLong3(op, from, r[0], r[1], r[2]))
			}
			for _, op := range []pairLong{opSADDLP, opSADALP} {
				add(encPairLong(op, from, r[1], r[2]))
			}
		}
	}
	problems, words := checkWords(t, writeAsm(t, body))
	for _, p := range problems {
		t.Error(p)
	}
	if words != len(body) {
		t.Fatalf("checked %d of %d words", words, len(body))
	}
}

func TestEncoderRangeChecks(t *testing.T) {
	for name, f := range map[string]func(){
		"register 32":        func() { encFloat3(opFADD, S4, 32, 0, 0) },
		"arrangement H8":     func() { encFloat3(opFADD, H8, 0, 0, 0) },
		"BIC on S4":          func() { encBIC(S4, 0, 0, 0) },
		"FCVTL from S4":      func() { encFCVTL(S4, 0, 0) },
		"lane 4":             func() { encFloatElem(opFMLAElem, S4, 0, 4, 0, 0) },
		"lane -1":            func() { encFloatElem(opFMULElem, S4, 0, -1, 0, 0) },
		"shift 0":            func() { encSSHR(S4, 0, 0, 0) },
		"shift 33":           func() { encSSHR(S4, 33, 0, 0) },
		"SSHLL shift 8":      func() { encSSHLL(B16, 8, 0, 0) },
		"BIC imm on S4":      func() { encBICImm16(S4, 0x40, 8, 0) },
		"BIC imm 0x100":      func() { encBICImm16(H8, 0x100, 0, 0) },
		"BIC imm shift 4":    func() { encBICImm16(H8, 0x40, 4, 0) },
		"FMAXV register 40":  func() { encFMAXV(40, 0) },
		"SSHLL from S4":      func() { encSSHLL(S4, 0, 0, 0) },
		"SSHLL B8 shift 8":   func() { encSSHLL(B8, 8, 0, 0) },
		"SSHLL H8 shift 16":  func() { encSSHLL(H8, 16, 0, 0) },
		"SSHLL shift -1":     func() { encSSHLL(H4, -1, 0, 0) },
		"SMULL from S4":      func() { encLong3(opSMULL, S4, 0, 0, 0) },
		"SMLAL register 32":  func() { encLong3(opSMLAL, B16, 0, 32, 0) },
		"SADDLP from S2":     func() { encPairLong(opSADDLP, S2, 0, 0) },
		"SADALP register 32": func() { encPairLong(opSADALP, H8, 0, 32) },
		"reserved R18":       func() { _ = G(18).String() },
		"register list past": func() { list(30, 4, "S4") },
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
