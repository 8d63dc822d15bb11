package hugepage

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"unsafe"
)

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

// TestAdviseMarksMapping checks, on Linux, that the kernel recorded the advice: the
// mapping that holds the buffer's aligned interior carries the "hg" VmFlag.
func TestAdviseMarksMapping(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("huge page advice is Linux only")
	}
	if b, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled"); err != nil || strings.Contains(string(b), "[never]") {
		t.Skip("this kernel has transparent huge pages off or absent")
	}
	s := Floats(3 * Size / 4 * 2) // 6 MiB: at least two whole huge pages inside
	start := uintptr(unsafe.Pointer(&s[0]))
	inside := (start + Size - 1) &^ (Size - 1)
	flags, err := vmFlags(inside)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(" "+flags+" ", " hg ") {
		t.Fatalf("mapping of %#x: VmFlags %q, want hg (MADV_HUGEPAGE)", inside, flags)
	}
	runtime.KeepAlive(s)
}

// vmFlags returns the VmFlags line of the mapping in /proc/self/smaps that holds addr.
func vmFlags(addr uintptr) (string, error) {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	in := false
	for sc.Scan() {
		line := sc.Text()
		var lo, hi uintptr
		if n, _ := fmt.Sscanf(line, "%x-%x", &lo, &hi); n == 2 {
			in = lo <= addr && addr < hi
			continue
		}
		if in && strings.HasPrefix(line, "VmFlags:") {
			return strings.TrimSpace(strings.TrimPrefix(line, "VmFlags:")), nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", fmt.Errorf("no mapping in /proc/self/smaps holds %#x", addr)
}
