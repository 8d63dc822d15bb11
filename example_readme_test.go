package mlasimd_test

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/mlasimd/mlasimd"
)

// Example is README.md's example, statement for statement (TestREADMEExample checks
// that the two agree); the README shows it as a program's main.
func Example() {
	// W is 2 x 3, row-major; Gemv writes y = W x into its first argument.
	w := []float32{
		1, 0, 2,
		0, 1, 0,
	}
	x := []float32{1, 2, 3}
	y := make([]float32, 2)
	mlasimd.Gemv(y, w, x)
	fmt.Println(y)

	scores := []float32{1, 2, 3}
	mlasimd.Softmax(scores, 1) // in place: softmax(scale*scores), max-subtracted
	fmt.Printf("%.4f\n", scores)

	q := []float32{1, 0, 0, 1} // pairs (q[0], q[1]) and (q[2], q[3])
	cos := []float32{0, -1}    // rotate the first by 90°, the second by 180°
	sin := []float32{1, 0}
	mlasimd.RoPE(q, cos, sin)
	fmt.Println(q)

	fmt.Fprintln(os.Stderr, "mlasimd Level:", mlasimd.Active()) // e.g. avx512, avx2, neon, generic
	// Output:
	// [7 2]
	// [0.0900 0.2447 0.6652]
	// [0 1 -0 -1]
}

// TestREADMEExample fails when README.md's example program and Example differ: the
// body of its main must be Example's statements, and its imports Example's.
func TestREADMEExample(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("example_readme_test.go")
	if err != nil {
		t.Fatal(err)
	}
	block := regexp.MustCompile("(?s)\n## Example\n.*?```go\n(.*?)```\n").FindSubmatch(readme)
	if block == nil {
		t.Fatal("README.md has no ```go block under ## Example")
	}
	prog := string(block[1])
	main := regexp.MustCompile(`(?s)\nfunc main\(\) \{\n(.*?)\n\}\n`).FindStringSubmatch(prog)
	if main == nil {
		t.Fatalf("README.md's example has no func main:\n%s", prog)
	}
	body := regexp.MustCompile(`(?s)\nfunc Example\(\) \{\n(.*?)\n\t// Output:`).FindSubmatch(src)
	if body == nil {
		t.Fatal("example_readme_test.go: no Example body")
	}
	if got, want := strings.TrimSpace(main[1]), strings.TrimSpace(string(body[1])); got != want {
		t.Errorf("README.md's main differs from Example:\n--- README\n%s\n--- Example\n%s", got, want)
	}
	for _, imp := range []string{`"fmt"`, `"os"`, `"github.com/mlasimd/mlasimd"`} {
		if !strings.Contains(prog, imp) {
			t.Errorf("README.md's example does not import %s", imp)
		}
	}
	if !strings.HasPrefix(prog, "package main\n") {
		t.Errorf("README.md's example is not a whole program (package main)")
	}
}
