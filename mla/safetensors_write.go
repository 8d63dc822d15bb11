package mla

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"

	"github.com/mlasimd/mlasimd"
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
	n := 1
	for _, d := range shape {
		n *= d
	}
	if n != len(v) {
		return Tensor{}, fmt.Errorf("mla: tensor %q: shape %v holds %d values, got %d", name, shape, n, len(v))
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
		return Tensor{}, fmt.Errorf("mla: tensor %q: NewTensor encodes F32, BF16 or F16, not %s (build Data yourself)", name, dt)
	}
	return t, nil
}

// EncodeSafetensors writes tensors (in the given order) and metadata in the
// safetensors format: an 8-byte little-endian header length, a JSON header padded
// with spaces to a multiple of 8 bytes, then the data.
func EncodeSafetensors(w io.Writer, tensors []Tensor, metadata map[string]string) error {
	header := map[string]any{}
	if len(metadata) > 0 {
		header["__metadata__"] = metadata
	}
	var off uint64
	for _, t := range tensors {
		if t.Name == "" || t.Name == "__metadata__" {
			return fmt.Errorf("mla: safetensors: invalid tensor name %q", t.Name)
		}
		if _, dup := header[t.Name]; dup {
			return fmt.Errorf("mla: safetensors: tensor %q given twice", t.Name)
		}
		n := 1
		for _, d := range t.Shape {
			if d < 0 {
				return fmt.Errorf("mla: safetensors: tensor %q: negative dimension in %v", t.Name, t.Shape)
			}
			n *= d
		}
		if !t.DType.valid() || n*t.DType.Size() != len(t.Data) {
			return fmt.Errorf("mla: safetensors: tensor %q: %s shape %v needs %d bytes, Data has %d", t.Name, t.DType, t.Shape, n*t.DType.Size(), len(t.Data))
		}
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		header[t.Name] = map[string]any{"dtype": t.DType.String(), "shape": shape, "data_offsets": []uint64{off, off + uint64(len(t.Data))}}
		off += uint64(len(t.Data))
	}
	js, err := json.Marshal(header)
	if err != nil {
		return fmt.Errorf("mla: safetensors: %w", err)
	}
	for len(js)%8 != 0 {
		js = append(js, ' ')
	}
	bw := bufio.NewWriter(w)
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(len(js)))
	bw.Write(lenBuf[:])
	bw.Write(js)
	for _, t := range tensors {
		bw.Write(t.Data)
	}
	return bw.Flush()
}

// WriteSafetensors writes a safetensors file at path, through a temporary file in
// the same directory so that a failed write never leaves a truncated file behind.
func WriteSafetensors(path string, tensors []Tensor, metadata map[string]string) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("mla: %w", err)
	}
	tmp := f.Name()
	err = EncodeSafetensors(f, tensors, metadata)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("mla: writing %s: %w", path, err)
	}
	return nil
}
