package mlasimd_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/mlasimd/mlasimd"
	"github.com/mlasimd/mlasimd/internal/testutil"
)

// TestFamilies checks that every kernel, a method X of Kernels, has its whole family
// under the one name: a test TestX and an ExampleX here, a fuzz target FuzzX with a
// committed seed corpus in fuzz/testdata/fuzz/FuzzX, and a benchmark BenchmarkX whose
// bench.Case is named X. It reads the sources rather than importing them: bench is a
// module of its own, and fuzz targets cannot be listed from another package.
func TestFamilies(t *testing.T) {
	testutil.NativeOnly(t) // the emulated runs have the test binary, not the sources
	var kernels []string
	isKernel := map[string]bool{}
	kt := reflect.TypeFor[*mlasimd.Kernels]()
	for i := range kt.NumMethod() {
		if name := kt.Method(i).Name; name != "Level" {
			kernels = append(kernels, name)
			isKernel[name] = true
		}
	}

	root := funcs(t, "*_test.go")
	fuzzTargets := funcs(t, filepath.Join("fuzz", "*_test.go"))
	benchmarks := funcs(t, filepath.Join("bench", "*_test.go"))
	cases := benchCases(t, filepath.Join("bench", "*.go"))
	for _, x := range kernels {
		if root["Test"+x] == nil {
			t.Errorf("%s: no Test%s in the root package's tests", x, x)
		}
		if ex := exampleName(x); root[ex] == nil {
			t.Errorf("%s: no %s in the root package's tests", x, ex)
		}
		if fuzzTargets["Fuzz"+x] == nil {
			t.Errorf("%s: no Fuzz%s in fuzz/", x, x)
		} else if seeds, _ := filepath.Glob(filepath.Join("fuzz", "testdata", "fuzz", "Fuzz"+x, "*")); len(seeds) == 0 {
			t.Errorf("%s: no seeds in fuzz/testdata/fuzz/Fuzz%s (go test ./fuzz -run TestSeedCorpus -write-seeds)", x, x)
		}
		if !cases[x] {
			t.Errorf("%s: no bench.Case named %q in bench/", x, x)
		}
		if b := benchmarks["Benchmark"+x]; b == nil {
			t.Errorf("%s: no Benchmark%s in bench/", x, x)
		} else if got := benchKernelArg(b); got != x {
			t.Errorf("Benchmark%s runs the cases of %q, want %q", x, got, x)
		}
	}
	for name := range cases {
		if !isKernel[name] {
			t.Errorf("bench.Case %q names no method of Kernels", name)
		}
	}
}

// funcs parses the files that match pattern and returns their top-level functions
// by name.
func funcs(t *testing.T, pattern string) map[string]*ast.FuncDecl {
	out := map[string]*ast.FuncDecl{}
	for _, f := range parseFiles(t, pattern) {
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil {
				out[fd.Name.Name] = fd
			}
		}
	}
	return out
}

func parseFiles(t *testing.T, pattern string) []*ast.File {
	t.Helper()
	paths, err := filepath.Glob(pattern)
	if err != nil || len(paths) == 0 {
		t.Fatalf("no files match %s (%v)", pattern, err)
	}
	fset := token.NewFileSet()
	var out []*ast.File
	for _, p := range paths {
		f, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, f)
	}
	return out
}

// benchCases returns the kernel names of the bench.Case values written in the files
// that match pattern: a Case literal's Kernel field, or the first argument of the
// vec helper that builds the vector kernels' Cases.
func benchCases(t *testing.T, pattern string) map[string]bool {
	out := map[string]bool{}
	add := func(e ast.Expr) {
		if lit, ok := e.(*ast.BasicLit); ok && lit.Kind == token.STRING {
			if s, err := strconv.Unquote(lit.Value); err == nil {
				out[s] = true
			}
		}
	}
	for _, f := range parseFiles(t, pattern) {
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CompositeLit:
				if id, ok := n.Type.(*ast.Ident); ok && id.Name == "Case" {
					for _, e := range n.Elts {
						if kv, ok := e.(*ast.KeyValueExpr); ok {
							if k, ok := kv.Key.(*ast.Ident); ok && k.Name == "Kernel" {
								add(kv.Value)
							}
						}
					}
				}
			case *ast.CallExpr:
				if id, ok := n.Fun.(*ast.Ident); ok && id.Name == "vec" && len(n.Args) > 0 {
					add(n.Args[0])
				}
			}
			return true
		})
	}
	return out
}

// benchKernelArg returns the kernel name a benchmark passes to benchKernel, or "".
func benchKernelArg(fd *ast.FuncDecl) string {
	name := ""
	ast.Inspect(fd, func(n ast.Node) bool {
		if c, ok := n.(*ast.CallExpr); ok {
			if id, ok := c.Fun.(*ast.Ident); ok && id.Name == "benchKernel" && len(c.Args) == 2 {
				if lit, ok := c.Args[1].(*ast.BasicLit); ok {
					name, _ = strconv.Unquote(lit.Value)
				}
			}
		}
		return name == ""
	})
	return name
}

// exampleName is the name of kernel x's example: Examplex, except for a name with an
// underscore (GemvQ8_0, after GGUF's Q8_0), which vet's tests analyzer would read as
// the suffix "0" of an example of GemvQ8 and reject; its example is the package
// example Example_gemvQ8_0.
func exampleName(x string) string {
	if strings.Contains(x, "_") {
		return "Example_" + strings.ToLower(x[:1]) + x[1:]
	}
	return "Example" + x
}
