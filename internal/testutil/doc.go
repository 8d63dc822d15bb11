// Package testutil is the shared harness of mlasimd's tests and fuzz targets:
// buffers fenced by inaccessible pages, sentinel checks around outputs, value
// generators with the special classes (±0, subnormals, ±Inf, NaN), and the error
// bounds of each kernel derived from a float64 oracle.
package testutil
