package safetensors

import (
	"bytes"
	"encoding/binary"
	"github.com/mlasimd/mlasimd/kernels"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/mlasimd/mlasimd"
	"github.com/mlasimd/mlasimd/internal/testutil"
	"github.com/stretchr/testify/require"
)

// randomInputs returns n normal values from seed.
func randomInputs(n int, seed uint64) []float32 {
	return testutil.Normals(rand.New(rand.NewPCG(seed, 7)), n)
}

// TestRoundTrip: every dtype NewTensor encodes, raw FP8, a scalar and an empty tensor
// read back as written, in the header's order, with the metadata.
func TestRoundTrip(t *testing.T) {
	vals := randomInputs(24, 5)
	var tensors []Tensor
	for _, dt := range []DType{F32, BF16, F16} {
		tn, err := NewTensor("w."+dt.String(), []int{4, 6}, vals, dt)
		require.NoError(t, err)
		tensors = append(tensors, tn)
	}
	fp8 := Tensor{Name: "w.fp8", DType: F8E4M3, Shape: []int{2, 3}, Data: []byte{0x38, 0xb8, 0x7e, 0x01, 0x00, 0x40}}
	scalar := Tensor{Name: "scalar", DType: F32, Shape: []int{}, Data: []byte{0, 0, 0x80, 0x3f}}
	empty := Tensor{Name: "empty", DType: BF16, Shape: []int{0, 5}}
	tensors = append(tensors, fp8, scalar, empty)
	path := filepath.Join(t.TempDir(), "rt.safetensors")
	require.NoError(t, Write(path, tensors, map[string]string{"format": "pt"}))

	sf, err := Open(path)
	require.NoError(t, err)
	defer sf.Close()
	require.Equal(t, map[string]string{"format": "pt"}, sf.Metadata())
	require.Equal(t, []string{"w.F32", "w.BF16", "w.F16", "w.fp8", "scalar", "empty"}, sf.Names())
	got, shape, err := sf.ReadFloat32("w.F32")
	require.NoError(t, err)
	require.Equal(t, []int{4, 6}, shape)
	require.Equal(t, vals, got)
	for dt, name := range map[DType]string{BF16: "w.BF16", F16: "w.F16"} {
		h := make([]uint16, len(vals))
		want := make([]float32, len(vals))
		if dt == BF16 {
			mlasimd.F32ToBF16(h, vals)
			mlasimd.BF16ToF32(want, h)
		} else {
			mlasimd.F32ToF16(h, vals)
			mlasimd.F16ToF32(want, h)
		}
		got, _, err := sf.ReadFloat32(name)
		require.NoError(t, err)
		require.Equal(t, want, got, name)
	}
	got, _, err = sf.ReadFloat32("w.fp8")
	require.NoError(t, err)
	require.Equal(t, []float32{1, -1, 448, 0x1p-9, 0, 2}, got, "E4M3: 1.0, -1.0, max 448, smallest subnormal, 0, 2")
	got, shape, err = sf.ReadFloat32("scalar")
	require.NoError(t, err)
	require.Equal(t, []float32{1}, got)
	require.Equal(t, []int{}, shape)
	raw, err := sf.ReadRaw("w.fp8")
	require.NoError(t, err)
	require.Equal(t, fp8.Data, raw)
	_, _, err = sf.ReadFloat32("nope")
	require.ErrorContains(t, err, `rt.safetensors: no tensor "nope"`)
}

// TestE4M3Table checks every FP8 byte (kernels.E4M3Value, which the reader uses) against the format's definition, written out
// independently: (-1)^s · 2^(e-7) · (1 + m/8), subnormals 2^-6 · m/8, S.1111.111 NaN.
func TestE4M3Table(t *testing.T) {
	for b := range 256 {
		s, e, m := b>>7, (b>>3)&15, b&7
		var want float64
		switch {
		case e == 15 && m == 7:
			require.True(t, math.IsNaN(float64(kernels.E4M3Value(byte(b)))), "byte %#x", b)
			continue
		case e == 0:
			want = math.Ldexp(float64(m)/8, -6)
		default:
			want = math.Ldexp(1+float64(m)/8, e-7)
		}
		if s == 1 {
			want = -want
		}
		require.Equal(t, float32(want), kernels.E4M3Value(byte(b)), "byte %#x", b)
	}
}

// stFile assembles a safetensors image from a raw header and data.
func stFile(header string, data []byte) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, uint64(len(header)))
	b.WriteString(header)
	b.Write(data)
	return b.Bytes()
}

func withLength(n uint64, rest string) []byte {
	b := make([]byte, 8, 8+len(rest))
	binary.LittleEndian.PutUint64(b, n)
	return append(b, rest...)
}

// TestCorrupt: every malformed file is an error that names the file (and
// the tensor, where there is one); none panics, and none makes the reader allocate
// more than the file's own size justifies.
func TestCorrupt(t *testing.T) {
	data16 := make([]byte, 16)
	cases := []struct {
		name string
		file []byte
		want string
	}{
		{"empty", nil, "shorter than the 8-byte header length"},
		{"short", []byte{1, 2, 3}, "shorter than the 8-byte header length"},
		{"huge header length", withLength(1<<62, "{}"), "exceeds the 2 bytes after the length field"},
		{"truncated header", withLength(100, `{"a":`), "exceeds the 5 bytes"},
		{"bad json", stFile(`{"a": {"dtype": "F32",`, nil), `bad header JSON: tensor "a": at byte 22: want a string key, found the end of the text`},
		{"not an object", stFile(`[1, 2]`, nil), "not a JSON object"},
		{"trailing data", stFile(`{} {}`, nil), "bad header JSON: at byte 3: data after the JSON value"},
		{"unknown dtype", stFile(`{"w": {"dtype": "F7", "shape": [4], "data_offsets": [0, 16]}}`, data16), `tensor "w": unknown dtype "F7"`},
		{"offsets past the data", stFile(`{"w": {"dtype": "F32", "shape": [8], "data_offsets": [0, 32]}}`, data16), `tensor "w": data_offsets [0, 32] outside the 16 bytes of data`},
		{"offsets reversed", stFile(`{"w": {"dtype": "F32", "shape": [0], "data_offsets": [8, 4]}}`, data16), `tensor "w": data_offsets [8, 4]`},
		{"three offsets", stFile(`{"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4, 8]}}`, data16), `tensor "w": data_offsets: more than 2 values, want [begin, end]`},
		{"shape vs size", stFile(`{"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}`, data16), `tensor "w": F32 shape [3] needs 12 bytes, data_offsets [0, 8] give 8`},
		{"overflowing shape", stFile(`{"w": {"dtype": "F32", "shape": [4294967296, 4294967296, 16], "data_offsets": [0, 16]}}`, data16), `tensor "w": shape [4294967296 4294967296 16] overflows`},
		{"negative dim", stFile(`{"w": {"dtype": "F32", "shape": [-4], "data_offsets": [0, 16]}}`, data16), `tensor "w": shape: dimension 0: -4 is not a non-negative integer`},
		{"overlap", stFile(`{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}`, data16), `tensors "a" and "b" overlap`},
		{"duplicate", stFile(`{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}`, data16), `tensor "a" appears twice`},
		{"bad metadata", stFile(`{"__metadata__": {"k": 1}}`, nil), "__metadata__ must map strings to strings"},
		{"empty name", stFile(`{"": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}`, data16), "empty name"},
		{"entry not an object", stFile(`{"w": 5}`, nil), `tensor "w": entry is a number, want an object`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := Read(bytes.NewReader(tc.file), int64(len(tc.file)), "bad.safetensors")
			runtime.ReadMemStats(&after)
			require.Error(t, err)
			require.Contains(t, err.Error(), "bad.safetensors")
			require.Contains(t, err.Error(), tc.want)
			// Parsing costs a bounded multiple of the file plus a constant.
			require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(4*len(tc.file)+1<<16))
		})
	}
}

// claimedFile is a file of a given size whose bytes cost nothing: a header length at
// offset 0, zeros after.
type claimedFile struct {
	size   int64
	header uint64
}

func (f claimedFile) ReadAt(p []byte, off int64) (int, error) {
	clear(p)
	var l [8]byte
	binary.LittleEndian.PutUint64(l[:], f.header)
	for i := range p {
		if off+int64(i) < 8 {
			p[i] = l[off+int64(i)]
		}
	}
	return len(p), nil
}

// TestHeaderCap: a header length over the 100 MB cap is refused before
// anything is allocated for it, even when the file is that large.
func TestHeaderCap(t *testing.T) {
	f := claimedFile{size: 1 << 40, header: MaxHeaderBytes + 1}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := Read(f, f.size, "big.safetensors")
	runtime.ReadMemStats(&after)
	require.ErrorContains(t, err, "big.safetensors: header length 100000001 exceeds the 100000000-byte limit")
	require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(1<<16))
}

// TestTruncatedFile: a file cut anywhere fails cleanly when opened or read.
func TestTruncatedFile(t *testing.T) {
	tn, err := NewTensor("model.w", []int{64}, randomInputs(64, 1), F32)
	require.NoError(t, err)
	dir := t.TempDir()
	path := filepath.Join(dir, "ok.safetensors")
	require.NoError(t, Write(path, []Tensor{tn}, nil))
	full, err := os.ReadFile(path)
	require.NoError(t, err)
	for _, cut := range []int{0, 4, 8, 20, len(full) - 256, len(full) - 1} {
		p := filepath.Join(dir, "cut.safetensors")
		require.NoError(t, os.WriteFile(p, full[:cut], 0o644))
		sf, err := Open(p)
		if err == nil {
			_, _, err = sf.ReadFloat32("model.w")
			sf.Close()
		}
		require.Error(t, err, "cut at %d", cut)
		require.Contains(t, err.Error(), "cut.safetensors")
	}
	_, err = Open(filepath.Join(dir, "missing.safetensors"))
	require.ErrorContains(t, err, "missing.safetensors")
}

// TestWriterChecks: Encode refuses inconsistent tensors, and a failed Write leaves no
// file behind.
func TestWriterChecks(t *testing.T) {
	var b bytes.Buffer
	require.ErrorContains(t, Encode(&b, []Tensor{{Name: "a", DType: F32, Shape: []int{2}, Data: make([]byte, 4)}}, nil), "needs 8 bytes")
	require.ErrorContains(t, Encode(&b, []Tensor{{Name: "a", DType: F32, Data: make([]byte, 4)}, {Name: "a", DType: F32, Data: make([]byte, 4)}}, nil), "given twice")
	_, err := NewTensor("x", []int{3}, make([]float32, 2), F32)
	require.ErrorContains(t, err, "holds 3 values, got 2")
	_, err = NewTensor("x", []int{2}, make([]float32, 2), F8E4M3)
	require.ErrorContains(t, err, "build Data yourself")
	// A failed write leaves no file behind.
	path := filepath.Join(t.TempDir(), "x.safetensors")
	require.Error(t, Write(path, []Tensor{{Name: "", DType: F32}}, nil))
	_, err = os.Stat(path)
	require.True(t, os.IsNotExist(err))
}
