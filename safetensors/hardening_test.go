package safetensors

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// readST parses a safetensors image named h.safetensors.
func readST(file []byte) (*File, error) {
	return Read(bytes.NewReader(file), int64(len(file)), "h.safetensors")
}

// f32Entry is a header entry of an F32 vector over data bytes [b, e).
func f32Entry(name string, b, e int) string {
	return fmt.Sprintf(`%q:{"dtype":"F32","shape":[%d],"data_offsets":[%d,%d]}`, name, (e-b)/4, b, e)
}

func jsonObj(members ...string) string { return "{" + strings.Join(members, ",") + "}" }

// TestTiling: sorted by offset, the tensors must cover the data exactly,
// as the reference implementation requires; any header order is fine.
func TestTiling(t *testing.T) {
	for _, tc := range []struct {
		name, header string
		data         int
		want         string
	}{
		{"gap", jsonObj(f32Entry("a", 0, 4), f32Entry("b", 8, 12)), 12,
			`4 bytes of data between tensors "a" (ends at byte 4) and "b" (begins at byte 8) belong to no tensor`},
		{"leading bytes", jsonObj(f32Entry("a", 4, 8)), 8,
			`the data begins with 4 bytes that no tensor holds: the first tensor, "a", begins at byte 4`},
		{"trailing bytes", jsonObj(f32Entry("a", 0, 4)), 8,
			"the tensors end at byte 4 of the 8 bytes of data: 4 trailing bytes belong to no tensor"},
		{"data but no tensors", "{}", 4, "the tensors end at byte 0 of the 4 bytes of data: 4 trailing bytes"},
		{"overlap", jsonObj(f32Entry("a", 0, 8), f32Entry("b", 4, 8)), 8, `tensors "a" and "b" overlap (bytes [0, 8) and [4, 8) of the data)`},
		{"same bytes", jsonObj(f32Entry("a", 0, 4), f32Entry("b", 0, 4)), 4, `tensors "a" and "b" overlap`},
		{"empty tensor inside another", jsonObj(f32Entry("a", 0, 8), `"z":{"dtype":"F32","shape":[0],"data_offsets":[4,4]}`), 8, `tensors "a" and "z" overlap`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := readST(stFile(tc.header, make([]byte, tc.data)))
			require.ErrorContains(t, err, "safetensors: h.safetensors: "+tc.want)
		})
	}
	ok := jsonObj(f32Entry("b", 4, 8), `"e":{"dtype":"BF16","shape":[5,0],"data_offsets":[8,8]}`,
		f32Entry("a", 0, 4), `"z":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}`)
	sf, err := readST(stFile(ok, make([]byte, 8)))
	require.NoError(t, err)
	require.Equal(t, []string{"z", "a", "b", "e"}, sf.Names())
	e, _ := sf.Info("e")
	require.Equal(t, TensorInfo{Name: "e", DType: BF16, Shape: []int{5, 0}, Offset: 8 + 8 + int64(len(ok)), Size: 0}, e)
}

// TestStrictKeys: keys match exactly and never repeat, at any level;
// the header is valid UTF-8.
func TestStrictKeys(t *testing.T) {
	const w = `"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}`
	for _, tc := range []struct{ name, header, want string }{
		{"case-variant key", `{"w":{"DType":"F32","shape":[1],"data_offsets":[0,4]}}`,
			`tensor "w": key "DType" is not "dtype": keys are case-sensitive`},
		{"case-variant beside the key", `{"w":{"dtype":"F32","Shape":[2],"shape":[1],"data_offsets":[0,4]}}`,
			`tensor "w": key "Shape" is not "shape"`},
		{"Unicode case folding", `{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"data_offſets":[0,8]}}`,
			`key "data_offſets" is not "data_offsets"`},
		{"duplicate field", `{"w":{"dtype":"F16","dtype":"F32","shape":[1],"data_offsets":[0,4]}}`,
			`tensor "w": key "dtype" appears twice`},
		{"duplicate tensor, one escaped", `{` + w + `,"\u0077":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`,
			`tensor "w" appears twice`},
		{"duplicate metadata key", `{"__metadata__":{"a":"1","a":"2"},` + w + `}`, `key "a" appears twice`},
		{"metadata twice", `{"__metadata__":{},"__metadata__":null,` + w + `}`, "__metadata__ appears twice"},
		{"duplicate inside an unknown field", `{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":{"k":1,"k":2}}}`,
			`tensor "w": x: key "k" appears twice`},
		{"missing field", `{"w":{"dtype":"F32","shape":[1]}}`, `tensor "w": no "data_offsets"`},
		{"fractional dimension", `{"w":{"dtype":"F32","shape":[1.0],"data_offsets":[0,4]}}`,
			`tensor "w": shape: dimension 0: 1.0 is not a non-negative integer`},
		{"invalid UTF-8 in a name", "{\"w\xff\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
			"header is not valid UTF-8 (first invalid byte at offset 3)"},
		{"invalid UTF-8 in metadata", "{\"__metadata__\":{\"k\":\"\xc3\"}," + w + "}", "header is not valid UTF-8"},
		{"lone surrogate", `{"w\ud800":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, `lone UTF-16 surrogate`},
		{"NUL padding", "{" + w + "}\x00\x00", "bad header JSON: at byte 54: data after the JSON value"},
		{"trailing comma", "{" + w + ",}", "bad header JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := readST(stFile(tc.header, make([]byte, 4)))
			require.ErrorContains(t, err, "safetensors: h.safetensors: ")
			require.ErrorContains(t, err, tc.want)
		})
	}
	// Unknown keys are skipped, as the reference implementation skips them.
	sf, err := readST(stFile(`{"w":{"note":{"any":[1,"x",null,{}]},"dtype":"F32","shape":[1],"data_offsets":[0,4]},"__metadata__":null}`, make([]byte, 4)))
	require.NoError(t, err)
	require.Equal(t, []string{"w"}, sf.Names())
	require.Nil(t, sf.Metadata())
}

// TestLimits: tensor count, rank, dimension, metadata and nesting limits.
func TestLimits(t *testing.T) {
	var b strings.Builder
	b.WriteString("{")
	for i := range MaxTensors + 1 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"t%d":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}`, i)
	}
	b.WriteString("}")
	_, err := readST(stFile(b.String(), nil))
	require.ErrorContains(t, err, "h.safetensors: more than 131072 tensors, this reader's limit")

	b.Reset()
	b.WriteString(`{"__metadata__":{`)
	for i := range MaxMetadataEntries + 1 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"k%d":""`, i)
	}
	b.WriteString("}}")
	_, err = readST(stFile(b.String(), nil))
	require.ErrorContains(t, err, "h.safetensors: __metadata__ has more than 16384 entries")

	for _, tc := range []struct{ name, header, want string }{
		{"rank", `{"w":{"dtype":"F32","shape":[1,1,1,1,1,1,1,1,1],"data_offsets":[0,4]}}`,
			`tensor "w": shape: more than 8 dimensions, this reader's limit`},
		{"dimension of an empty tensor", `{"w":{"dtype":"F32","shape":[0,1099511627777],"data_offsets":[0,0]}}`,
			`tensor "w": shape: dimension 1: 1099511627777 is over the limit of 1099511627776`},
		{"offset past uint64", `{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,18446744073709551616]}}`,
			`tensor "w": data_offsets: 18446744073709551616 is out of range`},
		{"nesting", `{"w":{"x":` + strings.Repeat("[", 20) + strings.Repeat("]", 20) + `}}`, "nested deeper than 16 levels"},
	} {
		_, err := readST(stFile(tc.header, make([]byte, 4)))
		require.ErrorContains(t, err, tc.want, tc.name)
	}
}

// TestReadFloat32Allocates: converting a tensor allocates its float32 result and a
// bounded staging buffer, nothing more.
func TestReadFloat32Allocates(t *testing.T) {
	const n = 1 << 20
	var buf bytes.Buffer
	for _, dt := range []DType{BF16, F32} {
		buf.Reset()
		tn, err := NewTensor("w", []int{n}, make([]float32, n), dt)
		require.NoError(t, err)
		require.NoError(t, Encode(&buf, []Tensor{tn}, nil))
		sf, err := readST(buf.Bytes())
		require.NoError(t, err)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		v, _, err := sf.ReadFloat32("w")
		runtime.ReadMemStats(&after)
		require.NoError(t, err)
		require.Len(t, v, n)
		require.LessOrEqual(t, after.TotalAlloc-before.TotalAlloc, uint64(4*n+readChunkBytes+1<<16), dt)
	}
}

// TestWriterCheckedSizes: the writer computes shape products and byte sizes with
// overflow checks and refuses what a reader would refuse, before writing anything.
func TestWriterCheckedSizes(t *testing.T) {
	_, err := NewTensor("x", []int{1 << 32, 1 << 32}, nil, F32)
	require.ErrorContains(t, err, `safetensors: tensor "x": shape [4294967296 4294967296] has a negative dimension or more elements than an int can count`)
	_, err = NewTensor("x", []int{-1, -1}, []float32{1}, F32)
	require.ErrorContains(t, err, "has a negative dimension")

	var b bytes.Buffer
	for _, tc := range []struct {
		name     string
		tensors  []Tensor
		metadata map[string]string
		want     string
	}{
		{"wrapping shape", []Tensor{{Name: "x", DType: F32, Shape: []int{1 << 40, 1 << 40}}}, nil,
			`safetensors: tensor "x": F32 shape [1099511627776 1099511627776] overflows`},
		{"wrapping byte size", []Tensor{{Name: "x", DType: F64, Shape: []int{1 << 31, 1 << 30, 1 << 2}}}, nil,
			`tensor "x": F64 shape [2147483648 1073741824 4] overflows`},
		{"negative pair", []Tensor{{Name: "x", DType: U8, Shape: []int{-1, -1}, Data: []byte{0}}}, nil, `tensor "x": negative dimension`},
		{"dimension", []Tensor{{Name: "x", DType: U8, Shape: []int{0, 1<<40 + 1}}}, nil, "is over the limit of 1099511627776"},
		{"rank", []Tensor{{Name: "x", DType: U8, Shape: []int{1, 1, 1, 1, 1, 1, 1, 1, 1}, Data: []byte{0}}}, nil, "more than 8 dimensions"},
		{"zero Tensor", []Tensor{{}}, nil, `invalid tensor name ""`},
		{"invalid dtype", []Tensor{{Name: "x", DType: DType(99)}}, nil, `tensor "x": invalid dtype DType(99)`},
		{"invalid UTF-8 name", []Tensor{{Name: "x\xff", DType: U8, Shape: []int{0}}}, nil, "invalid tensor name"},
		{"invalid UTF-8 metadata", nil, map[string]string{"k": "v\xff"}, `metadata "k": keys and values must be valid UTF-8`},
	} {
		b.Reset()
		err := Encode(&b, tc.tensors, tc.metadata)
		require.ErrorContains(t, err, tc.want, tc.name)
		require.Zero(t, b.Len(), tc.name)
	}
	// The header keeps the tensors' order, so a file reads back as written.
	var ts []Tensor
	for _, name := range []string{"z", "b", "a"} {
		ts = append(ts, Tensor{Name: name, DType: U8, Shape: []int{0}})
	}
	require.NoError(t, Encode(&b, ts, map[string]string{"format": "pt"}))
	sf, err := readST(b.Bytes())
	require.NoError(t, err)
	require.Equal(t, []string{"z", "b", "a"}, sf.Names())
}

func TestTensorInfoNumel(t *testing.T) {
	require.Equal(t, 1, TensorInfo{}.Numel())
	require.Equal(t, 0, TensorInfo{Shape: []int{0, 5}}.Numel())
	require.Equal(t, 6, TensorInfo{Shape: []int{2, 3}}.Numel())
	require.Equal(t, -1, TensorInfo{Shape: []int{1 << 32, 1 << 32}}.Numel(), "wraps to 0 unchecked")
	require.Equal(t, -1, TensorInfo{Shape: []int{-2, -3}}.Numel(), "is 6 unchecked")
}

// TestZeroAndClosedFile: the zero File holds no tensors and returns errors; reading
// after Close is an error wrapping os.ErrClosed that names the tensor.
func TestZeroAndClosedFile(t *testing.T) {
	var sf File
	require.Empty(t, sf.Names())
	_, ok := sf.Info("x")
	require.False(t, ok)
	require.Nil(t, sf.Metadata())
	_, _, err := sf.ReadFloat32("x")
	require.ErrorContains(t, err, `no tensor "x"`)
	_, err = sf.ReadRaw("x")
	require.Error(t, err)
	require.NoError(t, sf.Close())
	require.ErrorIs(t, sf.Close(), os.ErrClosed)

	tn, err := NewTensor("w", []int{2}, []float32{1, 2}, F32)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "w.safetensors")
	require.NoError(t, Write(path, []Tensor{tn}, nil))
	sf2, err := Open(path)
	require.NoError(t, err)
	require.Equal(t, path, sf2.Name())
	require.NoError(t, sf2.Close())
	_, _, err = sf2.ReadFloat32("w")
	require.ErrorIs(t, err, os.ErrClosed)
	require.ErrorContains(t, err, `safetensors: `+path+`: reading tensor "w"`)
	_, err = sf2.ReadRaw("w")
	require.ErrorIs(t, err, os.ErrClosed)
	require.ErrorIs(t, sf2.Close(), os.ErrClosed)
}
