package mla

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"os"
	"slices"
	"unsafe"

	"github.com/mlasimd/mlasimd"
	"github.com/mlasimd/mlasimd/internal/hugepage"
)

// maxHeaderBytes caps the JSON header, as the reference implementation does (100 MB):
// a real header is a few hundred bytes per tensor.
const maxHeaderBytes = 100_000_000

// readChunkBytes is the staging buffer of conversions: reading a tensor never holds
// more than its float32 result plus this much.
const readChunkBytes = 1 << 20

// TensorInfo describes one tensor of a safetensors file.
type TensorInfo struct {
	Name   string
	DType  DType
	Shape  []int
	Offset int64 // absolute byte offset of the data in the file
	Size   int64 // bytes of data
}

// Numel is the number of elements.
func (t TensorInfo) Numel() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// SafetensorsFile is an open safetensors file whose header has been validated: every
// tensor's dtype is known, its offsets lie inside the file and match its shape, and
// no two tensors overlap. Reading a tensor allocates only what its validated size
// implies, so a hostile file cannot make the reader allocate more than the file holds.
type SafetensorsFile struct {
	name     string
	r        io.ReaderAt
	closer   io.Closer
	tensors  map[string]TensorInfo
	order    []string // names by offset
	metadata map[string]string
}

// OpenSafetensors opens and validates the safetensors file at path.
func OpenSafetensors(path string) (*SafetensorsFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("mla: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("mla: %w", err)
	}
	sf, err := ReadSafetensors(f, st.Size(), path)
	if err != nil {
		f.Close()
		return nil, err
	}
	sf.closer = f
	return sf, nil
}

// ReadSafetensors validates the safetensors data of the given size readable from r;
// name identifies it in errors.
func ReadSafetensors(r io.ReaderAt, size int64, name string) (*SafetensorsFile, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("mla: safetensors %s: "+format, append([]any{name}, args...)...)
	}
	if size < 8 {
		return nil, bad("file is %d bytes, shorter than the 8-byte header length (truncated or not safetensors)", size)
	}
	var lenBuf [8]byte
	if _, err := r.ReadAt(lenBuf[:], 0); err != nil {
		return nil, bad("reading the header length: %v", err)
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	if n > uint64(size-8) {
		return nil, bad("header length %d exceeds the %d bytes after the length field (truncated file or not safetensors)", n, size-8)
	}
	if n > maxHeaderBytes {
		return nil, bad("header length %d exceeds the %d-byte limit", n, maxHeaderBytes)
	}
	header := make([]byte, n)
	if _, err := r.ReadAt(header, 8); err != nil {
		return nil, bad("reading the %d-byte header: %v", n, err)
	}
	dataStart := 8 + int64(n)
	sf := &SafetensorsFile{name: name, r: r, tensors: map[string]TensorInfo{}}
	if err := sf.parseHeader(header, dataStart, size-dataStart); err != nil {
		return nil, bad("%v", err)
	}
	return sf, nil
}

type headerEntry struct {
	DType       string   `json:"dtype"`
	Shape       []int64  `json:"shape"`
	DataOffsets []uint64 `json:"data_offsets"`
}

// parseHeader walks the header object key by key, so that duplicate names are caught
// (a plain map decode would keep the last silently).
func (sf *SafetensorsFile) parseHeader(header []byte, dataStart, dataSize int64) error {
	if len(bytes.TrimSpace(header)) == 0 || bytes.TrimSpace(header)[0] != '{' {
		return errors.New("header is not a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(header))
	if _, err := dec.Token(); err != nil {
		return fmt.Errorf("bad header JSON: %v", err)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("bad header JSON: %v", err)
		}
		key, ok := tok.(string)
		if !ok {
			return fmt.Errorf("bad header JSON: key %v is not a string", tok)
		}
		if key == "__metadata__" {
			if sf.metadata != nil {
				return errors.New("duplicate __metadata__")
			}
			if err := dec.Decode(&sf.metadata); err != nil {
				return fmt.Errorf("__metadata__ must map strings to strings: %v", err)
			}
			if sf.metadata == nil {
				sf.metadata = map[string]string{}
			}
			continue
		}
		var e headerEntry
		if err := dec.Decode(&e); err != nil {
			return fmt.Errorf("tensor %q: bad entry: %v", key, err)
		}
		if _, dup := sf.tensors[key]; dup {
			return fmt.Errorf("tensor %q appears twice in the header", key)
		}
		info, err := checkEntry(key, e, dataSize)
		if err != nil {
			return err
		}
		info.Offset += dataStart
		sf.tensors[key] = info
	}
	if _, err := dec.Token(); err != nil {
		return fmt.Errorf("bad header JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("bad header JSON: data after the header object")
	}
	for name := range sf.tensors {
		sf.order = append(sf.order, name)
	}
	slices.SortFunc(sf.order, func(a, b string) int {
		ta, tb := sf.tensors[a], sf.tensors[b]
		if ta.Offset != tb.Offset {
			return cmp.Compare(ta.Offset, tb.Offset)
		}
		return cmp.Compare(ta.Size, tb.Size)
	})
	for i := 1; i < len(sf.order); i++ {
		prev, cur := sf.tensors[sf.order[i-1]], sf.tensors[sf.order[i]]
		if cur.Offset < prev.Offset+prev.Size {
			return fmt.Errorf("tensors %q and %q overlap (bytes [%d, %d) and [%d, %d) of the data)",
				prev.Name, cur.Name, prev.Offset-dataStart, prev.Offset+prev.Size-dataStart, cur.Offset-dataStart, cur.Offset+cur.Size-dataStart)
		}
	}
	return nil
}

// checkEntry validates one header entry against the data size; Offset is relative.
func checkEntry(name string, e headerEntry, dataSize int64) (TensorInfo, error) {
	if name == "" {
		return TensorInfo{}, errors.New("a tensor has an empty name")
	}
	dt, err := ParseDType(e.DType)
	if err != nil {
		return TensorInfo{}, fmt.Errorf("tensor %q: %v", name, err)
	}
	if len(e.DataOffsets) != 2 {
		return TensorInfo{}, fmt.Errorf("tensor %q: data_offsets has %d values, want [begin, end]", name, len(e.DataOffsets))
	}
	begin, end := e.DataOffsets[0], e.DataOffsets[1]
	if begin > end || end > uint64(dataSize) {
		return TensorInfo{}, fmt.Errorf("tensor %q: data_offsets [%d, %d] outside the %d bytes of data (truncated file?)", name, begin, end, dataSize)
	}
	// The element count must fit the bytes the offsets give it; computing it with
	// overflow checks keeps a shape like [2^40, 2^40] from wrapping to a small number.
	numel := uint64(1)
	shape := make([]int, len(e.Shape))
	for i, d := range e.Shape {
		if d < 0 {
			return TensorInfo{}, fmt.Errorf("tensor %q: negative dimension in shape %v", name, e.Shape)
		}
		hi, lo := bits.Mul64(numel, uint64(d))
		if hi != 0 || lo > uint64(dataSize) {
			return TensorInfo{}, fmt.Errorf("tensor %q: shape %v has more elements than the file's %d data bytes", name, e.Shape, dataSize)
		}
		numel, shape[i] = lo, int(d)
	}
	if want := numel * uint64(dt.Size()); end-begin != want {
		return TensorInfo{}, fmt.Errorf("tensor %q: %s shape %v needs %d bytes, data_offsets [%d, %d] give %d", name, dt, e.Shape, want, begin, end, end-begin)
	}
	return TensorInfo{Name: name, DType: dt, Shape: shape, Offset: int64(begin), Size: int64(end - begin)}, nil
}

// Name is the path or name the file was opened with.
func (sf *SafetensorsFile) Name() string { return sf.name }

// Close closes the underlying file, if OpenSafetensors opened it.
func (sf *SafetensorsFile) Close() error {
	if sf.closer == nil {
		return nil
	}
	return sf.closer.Close()
}

// Names lists the tensors in file order.
func (sf *SafetensorsFile) Names() []string { return slices.Clone(sf.order) }

// Info returns the description of the named tensor.
func (sf *SafetensorsFile) Info(name string) (TensorInfo, bool) {
	t, ok := sf.tensors[name]
	return t, ok
}

// Metadata returns the header's __metadata__ (nil if absent).
func (sf *SafetensorsFile) Metadata() map[string]string { return sf.metadata }

func (sf *SafetensorsFile) lookup(name string) (TensorInfo, error) {
	t, ok := sf.tensors[name]
	if !ok {
		return TensorInfo{}, fmt.Errorf("mla: safetensors %s: no tensor %q", sf.name, name)
	}
	return t, nil
}

// ReadRaw returns the named tensor's bytes as stored (little-endian).
func (sf *SafetensorsFile) ReadRaw(name string) ([]byte, error) {
	t, err := sf.lookup(name)
	if err != nil {
		return nil, err
	}
	b := make([]byte, t.Size)
	if err := sf.readAt(b, t.Offset, name); err != nil {
		return nil, err
	}
	return b, nil
}

func (sf *SafetensorsFile) readAt(b []byte, off int64, tensor string) error {
	if _, err := sf.r.ReadAt(b, off); err != nil {
		return fmt.Errorf("mla: safetensors %s: reading tensor %q: %v", sf.name, tensor, err)
	}
	return nil
}

// ReadFloat32 returns the named tensor widened to float32 with its shape: F32, BF16
// and F16 exactly; F8_E4M3 as the raw FP8 values (block scales are the Checkpoint's
// business).
func (sf *SafetensorsFile) ReadFloat32(name string) ([]float32, []int, error) {
	t, err := sf.lookup(name)
	if err != nil {
		return nil, nil, err
	}
	out := hugepage.Make[float32](t.Numel())
	switch t.DType {
	case F32:
		if err := sf.readAt(float32Bytes(out), t.Offset, name); err != nil {
			return nil, nil, err
		}
		fixEndian32(out)
	case BF16, F16:
		buf := make([]uint16, min(readChunkBytes/2, len(out)))
		for lo := 0; lo < len(out); lo += len(buf) {
			n := min(len(buf), len(out)-lo)
			if err := sf.readAt(uint16Bytes(buf[:n]), t.Offset+int64(2*lo), name); err != nil {
				return nil, nil, err
			}
			fixEndian16(buf[:n])
			if t.DType == BF16 {
				mlasimd.BF16ToF32(out[lo:lo+n], buf[:n])
			} else {
				mlasimd.F16ToF32(out[lo:lo+n], buf[:n])
			}
		}
	case F8E4M3:
		buf := make([]byte, min(readChunkBytes, len(out)))
		for lo := 0; lo < len(out); lo += len(buf) {
			n := min(len(buf), len(out)-lo)
			if err := sf.readAt(buf[:n], t.Offset+int64(lo), name); err != nil {
				return nil, nil, err
			}
			decodeE4M3(out[lo:lo+n], buf[:n])
		}
	default:
		return nil, nil, fmt.Errorf("mla: safetensors %s: tensor %q is %s; only F32, BF16, F16 and F8_E4M3 convert to float32", sf.name, name, t.DType)
	}
	return out, slices.Clone(t.Shape), nil
}

func float32Bytes(v []float32) []byte {
	if len(v) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), 4*len(v))
}

func uint16Bytes(v []uint16) []byte {
	if len(v) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), 2*len(v))
}

// bigEndian is true on hosts that must swap safetensors' little-endian data.
var bigEndian = func() bool { x := uint16(1); return *(*byte)(unsafe.Pointer(&x)) == 0 }()

func fixEndian32(v []float32) {
	if !bigEndian {
		return
	}
	for i := range v {
		b := float32Bytes(v[i : i+1])
		b[0], b[1], b[2], b[3] = b[3], b[2], b[1], b[0]
	}
}

func fixEndian16(v []uint16) {
	if !bigEndian {
		return
	}
	for i, h := range v {
		v[i] = h>>8 | h<<8
	}
}
