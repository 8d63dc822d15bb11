package main

import (
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

// The byte check: kernels_amd64.s writes the instructions that the Go assembler does
// not know (VDPBF16PS) as runs of BYTE lines after a comment with the instruction in
// Go syntax. The check assembles the file with `go tool asm -S`, takes each BYTE
// line's byte from the listing, disassembles every run with GNU objdump and requires
// that it decodes to exactly one instruction, the one in the comment (Go operand
// order is AT&T's: `// VDPBF16PS Z3, Z2, Z1` must read `vdpbf16ps %zmm3,%zmm2,%zmm1`).
// A BYTE line outside such a run fails.

const generatedAmd64 = "../../kernels_amd64.s"

var (
	byteLine    = regexp.MustCompile(`^\s*BYTE\s+\$(0x[0-9a-fA-F]+|\d+)\s*$`)
	byteComment = regexp.MustCompile(`^\s*//\s*(V[A-Z0-9]+(?:\s+[A-Z0-9]+(?:,\s*[A-Z0-9]+)*)?)\s*$`)
	listProg    = regexp.MustCompile(`^\s*0x([0-9a-f]+) \d+ \(.*:(\d+)\)\s+(\S+)`)
	listSym     = regexp.MustCompile(`^(\S+) S[A-Z]+ `)
	listDump    = regexp.MustCompile(`^\s*0x([0-9a-f]{4}) ((?:[0-9a-f]{2} ?)+)`)
	dumpInst    = regexp.MustCompile(`^\s*([0-9a-f]+):\s+((?:[0-9a-f]{2} )+)\s*(.*?)\s*$`)
)

// byteRun is one byte-encoded instruction: its comment, and its BYTE lines' values
// as written and as assembled.
type byteRun struct {
	line         int // the comment's line
	text         string
	want, actual []byte
}

// objdump returns the GNU objdump to use, or skips the test when there is none
// (unless MLASIMD_REQUIRE_OBJDUMP is set, as make asmcheck-amd64 sets it).
func objdump(t *testing.T) string {
	t.Helper()
	name := os.Getenv("OBJDUMP")
	if name == "" {
		name = "objdump"
	}
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("MLASIMD_REQUIRE_OBJDUMP") != "" {
			t.Fatalf("GNU objdump (%s) not found: install binutils", name)
		}
		t.Skipf("GNU objdump (%s) not found: install binutils (make asmcheck-amd64 does)", name)
	}
	return path
}

// checkBytes returns one message per byte-encoded instruction of the amd64 file at
// path that does not decode to its comment, and the number checked.
func checkBytes(t *testing.T, path string) (problems []string, runs int) {
	t.Helper()
	dump := objdump(t)
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	base := filepath.Base(path)
	goroot := strings.TrimSpace(runCmd(t, nil, "go", "env", "GOROOT"))
	listing := runCmd(t, []string{"GOOS=linux", "GOARCH=amd64"}, "go", "tool", "asm", "-S", "-p", "github.com/mlasimd/mlasimd",
		"-I", filepath.Join(goroot, "pkg", "include"), "-o", filepath.Join(t.TempDir(), "k.o"), path)

	// Each BYTE line's pc in its symbol, and each symbol's bytes.
	type at struct {
		sym string
		pc  int
	}
	bytePC := map[int]at{}
	code := map[string][]byte{}
	sym := ""
	for _, l := range strings.Split(listing, "\n") {
		if m := listSym.FindStringSubmatch(l); m != nil {
			sym = m[1]
			continue
		}
		if m := listProg.FindStringSubmatch(l); m != nil {
			if m[3] == "BYTE" {
				pc, _ := strconv.ParseInt(m[1], 16, 64)
				line, _ := strconv.Atoi(m[2])
				bytePC[line] = at{sym, int(pc)}
			}
			continue
		}
		if m := listDump.FindStringSubmatch(l); m != nil && sym != "" {
			off, _ := strconv.ParseInt(m[1], 16, 64)
			for i, h := range strings.Fields(m[2]) {
				v, _ := strconv.ParseUint(h, 16, 8)
				for len(code[sym]) <= int(off)+i {
					code[sym] = append(code[sym], 0)
				}
				code[sym][int(off)+i] = byte(v)
			}
		}
	}

	var list []byteRun
	lines := strings.Split(string(src), "\n")
	for i := 0; i < len(lines); i++ {
		if byteLine.MatchString(lines[i]) {
			problems = append(problems, fmt.Sprintf("%s:%d: BYTE without an instruction comment before its run", base, i+1))
			continue
		}
		c := byteComment.FindStringSubmatch(lines[i])
		if c == nil || i+1 >= len(lines) || !byteLine.MatchString(lines[i+1]) {
			continue
		}
		r := byteRun{line: i + 1, text: c[1]}
		for i+1 < len(lines) {
			b := byteLine.FindStringSubmatch(lines[i+1])
			if b == nil {
				break
			}
			i++
			v, err := strconv.ParseUint(b[1], 0, 8)
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s:%d: bad byte %q", base, i+1, b[1]))
				continue
			}
			r.want = append(r.want, byte(v))
			if p, ok := bytePC[i+1]; ok && p.pc < len(code[p.sym]) {
				r.actual = append(r.actual, code[p.sym][p.pc])
			} else {
				problems = append(problems, fmt.Sprintf("%s:%d: no assembled byte for this BYTE", base, i+1))
			}
		}
		list = append(list, r)
	}
	if len(list) == 0 {
		return problems, 0
	}

	// One blob of every run, disassembled at once.
	var blob []byte
	start := map[int]int{}
	for k, r := range list {
		start[len(blob)] = k
		blob = append(blob, r.actual...)
	}
	bin := filepath.Join(t.TempDir(), "runs.bin")
	if err := os.WriteFile(bin, blob, 0o644); err != nil {
		t.Fatal(err)
	}
	out := runCmd(t, nil, dump, "-D", "-b", "binary", "-m", "i386:x86-64", bin)
	type inst struct {
		n    int
		text string
	}
	decoded := map[int]inst{}
	for _, l := range strings.Split(out, "\n") {
		if m := dumpInst.FindStringSubmatch(l); m != nil {
			off, _ := strconv.ParseInt(m[1], 16, 64)
			decoded[int(off)] = inst{len(strings.Fields(m[2])), strings.Join(strings.Fields(m[3]), " ")}
		}
	}
	for off, k := range start {
		r := list[k]
		runs++
		want := attSyntax(r.text)
		got, ok := decoded[off]
		switch {
		case !bytes.Equal(r.want, r.actual):
			problems = append(problems, fmt.Sprintf("%s:%d: assembled % x, the BYTE lines say % x", base, r.line, r.actual, r.want))
		case !ok || got.n != len(r.actual):
			problems = append(problems, fmt.Sprintf("%s:%d: % x is not one instruction (%q)", base, r.line, r.actual, got.text))
		case got.text != want:
			problems = append(problems, fmt.Sprintf("%s:%d: % x decodes to %q, the comment says %q (%s)", base, r.line, r.actual, got.text, want, r.text))
		}
	}
	return problems, runs
}

// attSyntax writes a Go-syntax vector instruction as GNU objdump prints it:
// "VDPBF16PS Z3, Z2, Z1" is "vdpbf16ps %zmm3,%zmm2,%zmm1".
func attSyntax(text string) string {
	op, args, _ := strings.Cut(text, " ")
	var regs []string
	for _, a := range strings.Split(args, ",") {
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		switch a[0] {
		case 'Z':
			a = "zmm" + a[1:]
		case 'Y':
			a = "ymm" + a[1:]
		case 'X':
			a = "xmm" + a[1:]
		case 'K':
			a = "k" + a[1:]
		}
		regs = append(regs, "%"+a)
	}
	return strings.TrimSpace(strings.ToLower(op) + " " + strings.Join(regs, ","))
}

func runCmd(t *testing.T, env []string, name string, args ...string) string {
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

// TestByteInstructionsDecode is the byte check of the generated file.
func TestByteInstructionsDecode(t *testing.T) {
	problems, runs := checkBytes(t, generatedAmd64)
	for _, p := range problems {
		t.Error(p)
	}
	if runs == 0 {
		t.Fatalf("no byte-encoded instruction found in %s", generatedAmd64)
	}
	if len(problems) == 0 {
		t.Logf("%d byte-encoded instructions decode to their comments", runs)
	}
}

// TestByteCheckCatchesWrongBytes proves the check is not vacuous: a run with another
// register, another opcode, a byte too few or no comment is reported, the right
// one is not.
func TestByteCheckCatchesWrongBytes(t *testing.T) {
	enc := func(b []byte) []string {
		var out []string
		for _, v := range b {
			out = append(out, fmt.Sprintf("\tBYTE $0x%02x", v))
		}
		return out
	}
	good := evex512(2, 2, 0x52, 1, 2, 3) // VDPBF16PS Z3, Z2, Z1
	high := evex512(2, 2, 0x52, 17, 26, 30)
	wrongOp := append([]byte{}, good...)
	wrongOp[4] = 0x53
	cases := []struct {
		name    string
		comment string
		bytes   []byte
		ok      bool
	}{
		{"right", "VDPBF16PS Z3, Z2, Z1", good, true},
		{"right high registers", "VDPBF16PS Z30, Z26, Z17", high, true},
		{"wrong destination", "VDPBF16PS Z3, Z2, Z4", good, false},
		{"wrong source", "VDPBF16PS Z19, Z2, Z1", good, false},
		{"wrong opcode", "VDPBF16PS Z3, Z2, Z1", wrongOp, false},
		{"a byte too few", "VDPBF16PS Z3, Z2, Z1", good[:5], false},
	}
	for _, c := range cases {
		body := append([]string{"\t// " + c.comment}, enc(c.bytes)...)
		problems, runs := checkBytes(t, writeAmd64(t, body))
		if runs != 1 || (len(problems) == 0) != c.ok {
			t.Errorf("%s: %d runs, problems %q", c.name, runs, problems)
		}
	}
	problems, _ := checkBytes(t, writeAmd64(t, enc(good)))
	if len(problems) == 0 {
		t.Errorf("BYTE lines without a comment were not reported")
	}
}

// writeAmd64 writes a one-function amd64 file with the given body lines.
func writeAmd64(t *testing.T, body []string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "probe_amd64.s")
	text := "#include \"textflag.h\"\n\nTEXT ·probe(SB), NOSPLIT, $0-0\n" + strings.Join(body, "\n") + "\n\tRET\n"
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
