package safetensors

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/mlasimd/mlasimd"
	"github.com/mlasimd/mlasimd/internal/checked"
)

// Tensor is one tensor to write: raw little-endian Data of the given DType and Shape.
type Tensor struct {
	Name  string
	DType DType
	Shape []int
	Data  []byte
}

// NewTensor encodes float32 values as a tensor of dtype F32, BF16 or F16 (rounding to
// nearest even).
func NewTensor(name string, shape []int, v []float32, dt DType) (Tensor, error) {
	n, ok := checked.Product(shape...)
	if !ok {
		return Tensor{}, fmt.Errorf("safetensors: tensor %q: shape %v has a negative dimension or more elements than an int can count", name, shape)
	}
	if n != len(v) {
		return Tensor{}, fmt.Errorf("safetensors: tensor %q: shape %v holds %d values, got %d", name, shape, n, len(v))
	}
	t := Tensor{Name: name, DType: dt, Shape: slices.Clone(shape)}
	switch dt {
	case F32:
		t.Data = make([]byte, 4*len(v))
		for i, f := range v {
			binary.LittleEndian.PutUint32(t.Data[4*i:], math.Float32bits(f))
		}
	case BF16, F16:
		h := make([]uint16, len(v))
		if dt == BF16 {
			mlasimd.F32ToBF16(h, v)
		} else {
			mlasimd.F32ToF16(h, v)
		}
		t.Data = make([]byte, 2*len(v))
		for i, b := range h {
			binary.LittleEndian.PutUint16(t.Data[2*i:], b)
		}
	default:
		return Tensor{}, fmt.Errorf("safetensors: tensor %q: NewTensor encodes F32, BF16 or F16, not %s (build Data yourself)", name, dt)
	}
	return t, nil
}

// Encode writes tensors (in the given order, which is also the header's)
// and metadata in the safetensors format: an 8-byte little-endian header length, a
// JSON header padded with spaces to a multiple of 8 bytes, then the data. It refuses
// anything Read would refuse, before writing a byte.
func Encode(w io.Writer, tensors []Tensor, metadata map[string]string) error {
	header, err := encodeHeader(tensors, metadata)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(len(header)))
	bw.Write(lenBuf[:])
	bw.Write(header)
	for _, t := range tensors {
		bw.Write(t.Data)
	}
	return bw.Flush()
}

func encodeHeader(tensors []Tensor, metadata map[string]string) ([]byte, error) {
	if len(tensors) > MaxTensors {
		return nil, fmt.Errorf("safetensors: %d tensors, more than the %d a reader accepts", len(tensors), MaxTensors)
	}
	if len(metadata) > MaxMetadataEntries {
		return nil, fmt.Errorf("safetensors: %d metadata entries, more than the %d a reader accepts", len(metadata), MaxMetadataEntries)
	}
	var b bytes.Buffer
	b.WriteByte('{')
	if len(metadata) > 0 {
		b.WriteString(`"__metadata__":{`)
		for i, k := range slices.Sorted(maps.Keys(metadata)) {
			v := metadata[k]
			// encoding/json would write invalid UTF-8 as U+FFFD: the file would not
			// say what the caller gave.
			if !utf8.ValidString(k) || !utf8.ValidString(v) {
				return nil, fmt.Errorf("safetensors: metadata %q: keys and values must be valid UTF-8", k)
			}
			if i > 0 {
				b.WriteByte(',')
			}
			writeJSONString(&b, k)
			b.WriteByte(':')
			writeJSONString(&b, v)
		}
		b.WriteByte('}')
	}
	seen := make(map[string]bool, len(tensors))
	off := 0
	for i, t := range tensors {
		bad := func(format string, args ...any) error {
			return fmt.Errorf("safetensors: tensor %q: "+format, append([]any{t.Name}, args...)...)
		}
		if t.Name == "" || t.Name == "__metadata__" || !utf8.ValidString(t.Name) {
			return nil, fmt.Errorf("safetensors: invalid tensor name %q", t.Name)
		}
		if seen[t.Name] {
			return nil, fmt.Errorf("safetensors: tensor %q given twice", t.Name)
		}
		seen[t.Name] = true
		if !t.DType.valid() {
			return nil, bad("invalid dtype %s", t.DType)
		}
		if len(t.Shape) > MaxRank {
			return nil, bad("shape %v has more than %d dimensions", t.Shape, MaxRank)
		}
		for _, d := range t.Shape {
			if d < 0 {
				return nil, bad("negative dimension in %v", t.Shape)
			}
			if d > MaxDimension {
				return nil, bad("dimension %d in %v is over the limit of %d", d, t.Shape, MaxDimension)
			}
		}
		n, ok := checked.Product(t.Shape...)
		size, ok2 := checked.Mul(n, t.DType.Size())
		if !ok || !ok2 {
			return nil, bad("%s shape %v overflows: its size does not fit an int", t.DType, t.Shape)
		}
		if size != len(t.Data) {
			return nil, bad("%s shape %v needs %d bytes, Data has %d", t.DType, t.Shape, size, len(t.Data))
		}
		end, ok := checked.Add(off, size)
		if !ok {
			return nil, bad("the data offsets overflow an int")
		}
		if i > 0 || len(metadata) > 0 {
			b.WriteByte(',')
		}
		writeJSONString(&b, t.Name)
		fmt.Fprintf(&b, `:{"dtype":%q,"shape":[`, t.DType.String())
		for j, d := range t.Shape {
			if j > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.Itoa(d))
		}
		fmt.Fprintf(&b, `],"data_offsets":[%d,%d]}`, off, end)
		off = end
	}
	b.WriteByte('}')
	for b.Len()%8 != 0 {
		b.WriteByte(' ')
	}
	if b.Len() > MaxHeaderBytes {
		return nil, fmt.Errorf("safetensors: the header would take %d bytes, over the %d-byte limit", b.Len(), MaxHeaderBytes)
	}
	return b.Bytes(), nil
}

// writeJSONString writes s (valid UTF-8) as a JSON string.
func writeJSONString(b *bytes.Buffer, s string) {
	js, _ := json.Marshal(s) // a string always marshals
	b.Write(js)
}

// Write writes a safetensors file at path, through a temporary file in
// the same directory so that a failed write never leaves a truncated file behind.
// The file gets the ordinary permissions 0644 (the temporary file's are 0600).
func Write(path string, tensors []Tensor, metadata map[string]string) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	tmp := f.Name()
	err = f.Chmod(0o644)
	if err == nil {
		err = Encode(f, tensors, metadata)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("safetensors: writing %s: %w", path, err)
	}
	return nil
}
