package hugepage

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestAdviseMarksMapping checks, on Linux, that the kernel recorded the advice: the
// mapping that holds the buffer's aligned interior carries the "hg" VmFlag.
func TestAdviseMarksMapping(t *testing.T) {
	if !recordsAdvice(t) {
		t.Skip("this system does not record MADV_HUGEPAGE (transparent huge pages off, or an emulator such as qemu-user that accepts madvise without passing it on)")
	}
	s := Make[float32](3 * Size / 4 * 2) // 6 MiB: at least two whole huge pages inside
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

// recordsAdvice reports whether a direct madvise(MADV_HUGEPAGE) on a fresh mapping
// shows up as its "hg" VmFlag, the control for what Advise must achieve.
func recordsAdvice(t *testing.T) bool {
	b, err := unix.Mmap(-1, 0, 2*Size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(b)
	if unix.Madvise(b, unix.MADV_HUGEPAGE) != nil {
		return false
	}
	flags, err := vmFlags(uintptr(unsafe.Pointer(&b[0])))
	return err == nil && strings.Contains(" "+flags+" ", " hg ")
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
