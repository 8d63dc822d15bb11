// Package fuzz holds the differential fuzz targets of mlasimd: FuzzX for each kernel
// X of mlasimd.Kernels, named as the kernel is in every layer (its test TestX, its
// ExampleX, its bench case; the root test TestFamilies checks that none is missing),
// plus the targets of the checkpoint parsers.
//
// A kernel target decodes structured parameters from its input (length, placement
// against the guard pages, value classes, scale), runs the kernel at every Level
// internal/testutil lists on buffers fenced by PROT_NONE pages, and holds each result
// to the float64 oracle's error bound (internal/testutil). Kernels that differ only
// in a flag (GemmNN and GemmNNAdd, F32ToF16 and F32ToBF16, ...) share one body. Go's
// coverage feedback cannot see inside assembly, so the lengths and placements that
// reach every tail are encoded in the input explicitly rather than left to chance.
//
//	go test -run '^$' -fuzz '^FuzzGemv$' -fuzztime 30s ./fuzz
//
// Plain `go test ./fuzz` replays the committed seed corpora in testdata/fuzz;
// TestSeedCorpus checks them, and with -write-seeds writes them from seedCorpus.
package fuzz
