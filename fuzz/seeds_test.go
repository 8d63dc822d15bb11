package fuzz_test

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

var writeSeeds = flag.Bool("write-seeds", false, "rewrite the seed corpora in testdata/fuzz")

func u16(v int) []byte { return []byte{byte(v), byte(v >> 8)} }

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// values encodes a value-class mask, a rate and a generator seed.
func values(mask byte, i int) []byte { return []byte{mask, 60, byte(i), 1, 2, 3, 4, 5, 6, 7} }

// seedCorpus is the committed corpus of every target: the lengths and shapes that
// reach every tail, against both fences, with every value class.
func seedCorpus() map[string][][]byte {
	masks := []byte{0, 0x03, 0x3f, 0x04, 0x08, 0x10, 0x20}
	vec := func(extra func(i int) []byte) [][]byte {
		var out [][]byte
		for i, n := range seedLengths {
			m := masks[i%len(masks)]
			out = append(out, cat(u16(n), []byte{byte(i % 2 * (2*i + 1))}, values(m, i), values(m, i+1), extra(i)))
		}
		return out
	}
	none := func(int) []byte { return nil }
	scaled := func(i int) []byte { return []byte{byte(20 + 37*i), byte(i * 13)} }
	var mats, gemms [][]byte
	for i, rc := range [][2]int{{0, 0}, {1, 1}, {3, 7}, {4, 8}, {5, 9}, {7, 17}, {9, 33}, {4, 64}, {13, 65}, {37, 577}, {80, 700}} {
		rows, cols := rc[0], rc[1]
		m := masks[i%len(masks)]
		mats = append(mats, cat(u16(cols), []byte{byte(i % 2 * (2*i + 1))}, u16(rows), values(m, i), values(m, i+1), u16(17+i*31)))
	}
	for i, s := range [][3]int{{0, 0, 0}, {1, 1, 1}, {3, 5, 7}, {4, 2, 8}, {5, 3, 9}, {16, 33, 576}, {20, 69, 65}, {9, 64, 130}} {
		gemms = append(gemms, cat(u16(s[0]), u16(s[1]), u16(s[2]), u16(i), u16(i+1), []byte{byte(i % 2 * (2*i + 1))}, values(masks[i%len(masks)], i), values(0, i)))
	}
	// The int8 attention: m, n, placement, w and split (as intn inputs: 4·(1+v) and
	// 4·(1+v mod (w/4-1))), dv (16·(v mod (split/16+1))), a seed, then the values.
	var i8 [][]byte
	for i, s := range [][5]int{{16, 64, 143, 127, 32}, {16, 17, 143, 127, 32}, {16, 0, 143, 127, 32}, {16, 255, 143, 127, 32},
		{1, 1, 1, 0, 0}, {3, 5, 16, 8, 1}, {7, 31, 255, 200, 9}, {25, 48, 32, 31, 2}, {40, 300, 99, 40, 5}, {9, 16, 15, 3, 1}} {
		i8 = append(i8, cat(u16(s[0]), u16(s[1]), []byte{byte(i % 2 * (2*i + 1))}, u16(s[2]), u16(s[3]), u16(s[4]),
			[]byte{byte(i), 1, 2, 3, 4, 5, 6, 7}, values(masks[i%len(masks)], i), values(0, i), values(masks[(i+3)%len(masks)], i)))
	}
	const vecAt, matAt, gemmAt, i8At = 2, 2, 10, 4 // where each list's placement byte is
	return map[string][][]byte{
		"FuzzDot": atFences(vec(none), vecAt), "FuzzAxpy": atFences(vec(scaled), vecAt), "FuzzExp": atFences(vec(scaled), vecAt),
		"FuzzSoftmax": atFences(vec(scaled), vecAt), "FuzzSoftmaxStats": atFences(vec(scaled), vecAt), "FuzzOnlineSoftmax": atFences(vec(scaled), vecAt),
		"FuzzRoPE": atFences(vec(none), vecAt), "FuzzRoPEHalf": atFences(vec(none), vecAt),
		"FuzzRMSNorm": atFences(vec(none), vecAt), "FuzzLayerNorm": atFences(vec(scaled), vecAt),
		"FuzzF16ToF32": atFences(vec(none), vecAt), "FuzzBF16ToF32": atFences(vec(none), vecAt), "FuzzF32ToF16": atFences(vec(none), vecAt), "FuzzF32ToBF16": atFences(vec(none), vecAt), "FuzzF32ToBF16DAZ": atFences(vec(none), vecAt),
		"FuzzGemv": atFences(mats, matAt), "FuzzGemvBF16": atFences(mats, matAt), "FuzzGemvF16": atFences(mats, matAt), "FuzzGemvQ8_0": atFences(mats, matAt), "FuzzGemvQ8_0Q8": atFences(mats, matAt), "FuzzGemvT": atFences(mats, matAt), "FuzzDownUp": atFences(mats, matAt),
		"FuzzGemvTBF16": atFences(mats, matAt), "FuzzGemvTF16": atFences(mats, matAt), "FuzzGemvTQ8_0": atFences(mats, matAt),
		"FuzzGemvE4M3": atFences(mats, matAt), "FuzzGemvE4M3Finite": atFences(mats, matAt), "FuzzGemvTE4M3": atFences(mats, matAt),
		"FuzzGemmNT": atFences(gemms, gemmAt), "FuzzGemmNTPrefetch": atFences(gemms, gemmAt),
		"FuzzGemmNN": atFences(gemms, gemmAt), "FuzzGemmNNAdd": atFences(gemms, gemmAt),
		"FuzzGemmNTBF16": atFences(gemms, gemmAt), "FuzzGemmNNAddBF16": atFences(gemms, gemmAt),
		"FuzzGemmNTBF16E4M3": atFences(gemms, gemmAt), "FuzzGemmNNAddBF16E4M3": atFences(gemms, gemmAt),
		"FuzzAttnScoresI8": atFences(i8, i8At), "FuzzQuantizeProbsI8": atFences(i8, i8At), "FuzzAttnValuesI8": atFences(i8, i8At),
	}
}

// atFences appends to seeds, whose placement byte (see input.place) is at index at,
// the copies that put every shape against both fences: one against the lower fence
// for each seed, and one against the upper fence for each seed that was misaligned.
func atFences(seeds [][]byte, at int) [][]byte {
	out := seeds
	for _, s := range seeds {
		if s[at]&1 == 1 {
			out = append(out, withByte(s, at, 0))
		}
	}
	for _, s := range seeds {
		out = append(out, withByte(s, at, 1))
	}
	return out
}

func withByte(s []byte, at int, b byte) []byte {
	c := append([]byte(nil), s...)
	c[at] = b
	return c
}

// TestSeedCorpus checks that every target has its committed corpus, and with
// -write-seeds rewrites it (go test ./fuzz -run TestSeedCorpus -write-seeds).
func TestSeedCorpus(t *testing.T) {
	for name, seeds := range seedCorpus() {
		dir := filepath.Join("testdata", "fuzz", name)
		if *writeSeeds {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			for i, s := range seeds {
				body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s)
				if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%02d", i)), []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
		files, _ := filepath.Glob(filepath.Join(dir, "seed-*"))
		if len(files) < len(seeds) {
			t.Errorf("%s: %d seed files, want %d (run with -write-seeds)", name, len(files), len(seeds))
		}
	}
}
