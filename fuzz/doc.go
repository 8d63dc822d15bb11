// Package fuzz holds the differential fuzz targets of mlasimd: one FuzzX per kernel.
// Each decodes structured parameters from its input (length, placement against the
// guard pages, value classes, scale), runs the kernel at every Level available here
// and the reference in package kernels on buffers fenced by PROT_NONE pages, and
// holds each result to the float64 oracle's error bound (internal/testutil). Go's
// coverage feedback cannot see inside assembly, so the lengths and placements that
// reach every tail are encoded in the input explicitly rather than left to chance.
//
//	go test -run '^$' -fuzz '^FuzzGemv$' -fuzztime 30s ./fuzz
//
// Plain `go test ./fuzz` replays the committed seed corpora in testdata/fuzz.
package fuzz
