package safetensors

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"unsafe"

	"github.com/mlasimd/mlasimd"
	"github.com/mlasimd/mlasimd/internal/checked"
	"github.com/mlasimd/mlasimd/internal/fileopen"
	"github.com/mlasimd/mlasimd/internal/hugepage"
	"github.com/mlasimd/mlasimd/internal/strictjson"
)

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

// Numel is the number of elements, or -1 when a dimension is negative or the count
// overflows an int (never for the TensorInfo of an opened file, whose shapes are
// checked).
func (t TensorInfo) Numel() int {
	n, ok := checked.Product(t.Shape...)
	if !ok {
		return -1
	}
	return n
}

// File is an open safetensors file whose header has been validated as the
// reference implementation validates it: the header is valid UTF-8 JSON with exact,
// unique keys, every tensor's dtype is known and its shape matches its byte size,
// and the tensors, sorted by offset, tile the data exactly: no gaps, overlaps,
// leading or trailing bytes. Reading a tensor allocates only what its validated size
// implies, so a hostile file cannot make the reader allocate more than the file holds.
type File struct {
	name     string
	r        io.ReaderAt
	closer   io.Closer
	closed   bool
	tensors  map[string]TensorInfo
	order    []string // names by offset
	metadata map[string]string
	mapping  *Mapping // set by OpenMapped: the file's bytes, read in place
}

// Open opens and validates the safetensors file at path, which must be a
// regular file (a FIFO or a device would block or never end).
func Open(path string) (*File, error) {
	f, st, err := fileopen.Regular(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	sf, err := Read(f, st.Size(), path)
	if err != nil {
		f.Close()
		return nil, err
	}
	sf.closer = f
	return sf, nil
}

// Read validates the safetensors data of the given size readable from r;
// name identifies it in errors.
func Read(r io.ReaderAt, size int64, name string) (*File, error) {
	bad := func(format string, args ...any) error {
		return &kindError{fmt.Errorf("safetensors: %s: "+format, append([]any{name}, args...)...), ErrFormat}
	}
	if r == nil {
		return nil, bad("no reader")
	}
	if size < 8 {
		return nil, bad("file is %d bytes, shorter than the 8-byte header length (truncated or not safetensors)", size)
	}
	var lenBuf [8]byte
	if err := readFull(r, lenBuf[:], 0); err != nil {
		return nil, bad("reading the header length: %w", err)
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	if n > uint64(size-8) {
		return nil, bad("header length %d exceeds the %d bytes after the length field (truncated file or not safetensors)", n, size-8)
	}
	if n > MaxHeaderBytes {
		return nil, bad("header length %d exceeds the %d-byte limit", n, MaxHeaderBytes)
	}
	header := make([]byte, n)
	if err := readFull(r, header, 8); err != nil {
		return nil, bad("reading the %d-byte header: %w", n, err)
	}
	dataStart := 8 + int64(n)
	sf := &File{name: name, r: r, tensors: map[string]TensorInfo{}}
	if err := sf.parseHeader(header, size-dataStart); err != nil {
		return nil, bad("%v", err)
	}
	for k, t := range sf.tensors {
		t.Offset += dataStart
		sf.tensors[k] = t
	}
	return sf, nil
}

// readFull reads len(b) bytes at off; an io.EOF that comes with all of them is not an
// error (io.ReaderAt allows either).
func readFull(r io.ReaderAt, b []byte, off int64) error {
	n, err := r.ReadAt(b, off)
	if n == len(b) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// parseHeader reads the header's tensors (offsets relative to the data) and checks
// that they tile the dataSize bytes of data.
func (sf *File) parseHeader(header []byte, dataSize int64) error {
	p, err := strictjson.New(header)
	if err != nil {
		return fmt.Errorf("header is %v", err)
	}
	if p.Peek() != '{' {
		return errors.New("header is not a JSON object")
	}
	metaSeen := false
	// members, not object: the tensor map itself catches duplicate names, with a
	// clearer message and no second map.
	err = p.Members(func(key string) error {
		if key == "__metadata__" {
			if metaSeen {
				return errors.New("__metadata__ appears twice in the header")
			}
			metaSeen = true
			return sf.parseMetadata(p)
		}
		if _, dup := sf.tensors[key]; dup {
			return fmt.Errorf("tensor %q appears twice in the header", key)
		}
		if len(sf.tensors) >= MaxTensors {
			return fmt.Errorf("more than %d tensors, this reader's limit (a DeepSeek-V3 shard has about 1500)", MaxTensors)
		}
		info, err := parseEntry(p, key, dataSize)
		if err != nil {
			return err
		}
		sf.tensors[key] = info
		sf.order = append(sf.order, key)
		return nil
	})
	if err == nil {
		err = p.End()
	}
	if err != nil {
		var syntax *strictjson.SyntaxError
		if errors.As(err, &syntax) {
			return fmt.Errorf("bad header JSON: %w", err)
		}
		return err
	}
	return sf.checkTiling(dataSize)
}

// checkTiling sorts the tensors by offset (stably, so that empty tensors at one
// offset keep their header order) and checks that they cover the data exactly, as the
// reference implementation requires: a gap or trailing bytes could hide data no
// tensor accounts for, and an overlap would give two tensors the same bytes.
func (sf *File) checkTiling(dataSize int64) error {
	slices.SortStableFunc(sf.order, func(a, b string) int {
		ta, tb := sf.tensors[a], sf.tensors[b]
		return cmp.Or(cmp.Compare(ta.Offset, tb.Offset), cmp.Compare(ta.Size, tb.Size))
	})
	var at int64
	prev := ""
	for _, name := range sf.order {
		t := sf.tensors[name]
		switch {
		case t.Offset < at:
			p := sf.tensors[prev]
			return fmt.Errorf("tensors %q and %q overlap (bytes [%d, %d) and [%d, %d) of the data)",
				prev, name, p.Offset, p.Offset+p.Size, t.Offset, t.Offset+t.Size)
		case t.Offset > at && prev == "":
			return fmt.Errorf("the data begins with %d bytes that no tensor holds: the first tensor, %q, begins at byte %d", t.Offset, name, t.Offset)
		case t.Offset > at:
			return fmt.Errorf("%d bytes of data between tensors %q (ends at byte %d) and %q (begins at byte %d) belong to no tensor",
				t.Offset-at, prev, at, name, t.Offset)
		}
		at, prev = t.Offset+t.Size, name
	}
	if at != dataSize {
		return fmt.Errorf("the tensors end at byte %d of the %d bytes of data: %d trailing bytes belong to no tensor", at, dataSize, dataSize-at)
	}
	return nil
}

// parseMetadata reads __metadata__: a map of strings to strings, or null.
func (sf *File) parseMetadata(p *strictjson.Parser) error {
	if p.Null() {
		return nil
	}
	if p.Peek() != '{' {
		return fmt.Errorf("__metadata__ must map strings to strings, found %s", p.Kind())
	}
	sf.metadata = map[string]string{}
	return p.Object(func(key string) error {
		if len(sf.metadata) >= MaxMetadataEntries {
			return fmt.Errorf("__metadata__ has more than %d entries", MaxMetadataEntries)
		}
		if p.Peek() != '"' {
			return fmt.Errorf("__metadata__ must map strings to strings: %q is %s", key, p.Kind())
		}
		v, err := p.Str()
		sf.metadata[key] = v
		return err
	})
}

// parseEntry reads one tensor's entry and checks it against the data size; Offset is
// relative to the data. Keys match exactly; unknown keys are skipped as the reference
// implementation skips them, but one that differs from a known key only in case is
// an error.
func parseEntry(p *strictjson.Parser, name string, dataSize int64) (TensorInfo, error) {
	wrap := func(err error) (TensorInfo, error) { return TensorInfo{}, fmt.Errorf("tensor %q: %w", name, err) }
	if name == "" {
		return TensorInfo{}, errors.New("a tensor has an empty name")
	}
	if p.Peek() != '{' {
		return wrap(fmt.Errorf("entry is %s, want an object with dtype, shape and data_offsets", p.Kind()))
	}
	var (
		dtype               string
		shape               []int
		offs                [2]uint64
		nOffs               int
		hasD, hasS, hasOffs bool
	)
	err := p.Object(func(key string) error {
		switch key {
		case "dtype":
			hasD = true
			var err error
			dtype, err = p.Str()
			return strictjson.KeyErr(key, err)
		case "shape":
			hasS, shape = true, []int{}
			return strictjson.KeyErr(key, p.Array(func(i int) error {
				if i >= MaxRank {
					return fmt.Errorf("more than %d dimensions, this reader's limit", MaxRank)
				}
				d, err := p.Unsigned()
				if err == nil && d > MaxDimension {
					err = fmt.Errorf("%d is over the limit of %d", d, uint64(MaxDimension))
				}
				shape = append(shape, int(d))
				return strictjson.KeyErr(fmt.Sprintf("dimension %d", i), err)
			}))
		case "data_offsets":
			hasOffs = true
			err := p.Array(func(i int) error {
				if i >= 2 {
					return errors.New("more than 2 values, want [begin, end]")
				}
				var err error
				offs[i], err = p.Unsigned()
				nOffs++
				return err
			})
			if err == nil && nOffs != 2 {
				err = fmt.Errorf("%d values, want [begin, end]", nOffs)
			}
			return strictjson.KeyErr(key, err)
		}
		return p.UnknownKey(key, "dtype", "shape", "data_offsets")
	})
	switch {
	case err != nil:
		return wrap(err)
	case !hasD:
		return wrap(errors.New(`no "dtype"`))
	case !hasS:
		return wrap(errors.New(`no "shape"`))
	case !hasOffs:
		return wrap(errors.New(`no "data_offsets"`))
	}
	dt, err := ParseDType(dtype)
	if err != nil {
		return wrap(err)
	}
	begin, end := offs[0], offs[1]
	if begin > end || end > uint64(dataSize) {
		return wrap(fmt.Errorf("data_offsets [%d, %d] outside the %d bytes of data (truncated file?)", begin, end, dataSize))
	}
	numel, ok := checked.Product(shape...)
	nbytes, ok2 := checked.Mul(numel, dt.Size())
	if !ok || !ok2 {
		return wrap(fmt.Errorf("shape %v overflows: its %s size does not fit an int", shape, dt))
	}
	if uint64(nbytes) != end-begin {
		return wrap(fmt.Errorf("%s shape %v needs %d bytes, data_offsets [%d, %d] give %d", dt, shape, nbytes, begin, end, end-begin))
	}
	return TensorInfo{Name: name, DType: dt, Shape: shape, Offset: int64(begin), Size: int64(end - begin)}, nil
}

// Name is the path or name the file was opened with.
func (sf *File) Name() string { return sf.name }

// Close closes the underlying file, if Open opened it. Reading after Close is an
// error, and so is a second Close; both wrap os.ErrClosed.
func (sf *File) Close() error {
	if sf.closed {
		return fmt.Errorf("safetensors: %s: %w", sf.name, os.ErrClosed)
	}
	sf.closed = true
	sf.mapping = nil // unmapped once no View's Mapping is kept either
	if sf.closer == nil {
		return nil
	}
	return sf.closer.Close()
}

// Names lists the tensors in file order.
func (sf *File) Names() []string { return slices.Clone(sf.order) }

// Info returns the description of the named tensor.
func (sf *File) Info(name string) (TensorInfo, bool) {
	t, ok := sf.tensors[name]
	t.Shape = slices.Clone(t.Shape)
	return t, ok
}

// Metadata returns the header's __metadata__ (nil if absent).
func (sf *File) Metadata() map[string]string { return sf.metadata }

func (sf *File) lookup(name string) (TensorInfo, error) {
	if sf.closed {
		return TensorInfo{}, fmt.Errorf("safetensors: %s: reading tensor %q: %w", sf.name, name, os.ErrClosed)
	}
	t, ok := sf.tensors[name]
	if !ok || sf.r == nil {
		return TensorInfo{}, fmt.Errorf("safetensors: %s: no tensor %q: %w", sf.name, name, ErrNoTensor)
	}
	return t, nil
}

// ReadRaw returns the named tensor's bytes as stored (little-endian).
func (sf *File) ReadRaw(name string) ([]byte, error) {
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

// ReadUint16 returns a BF16 or F16 tensor's raw 16-bit values, not widened.
func (sf *File) ReadUint16(name string) ([]uint16, error) {
	t, err := sf.lookup(name)
	if err != nil {
		return nil, err
	}
	if t.DType != BF16 && t.DType != F16 {
		return nil, fmt.Errorf("safetensors: %s: tensor %q is %s, not BF16 or F16: %w", sf.name, name, t.DType, ErrDType)
	}
	out := hugepage.Make[uint16](t.Numel())
	if err := sf.readAt(uint16Bytes(out), t.Offset, name); err != nil {
		return nil, err
	}
	fixEndian16(out)
	return out, nil
}

func (sf *File) readAt(b []byte, off int64, tensor string) error {
	if err := readFull(sf.r, b, off); err != nil {
		return fmt.Errorf("safetensors: %s: reading tensor %q: %w", sf.name, tensor, err)
	}
	return nil
}

// ReadFloat32 returns the named tensor widened to float32 with its shape: F32, BF16
// and F16 exactly; F8_E4M3 as the raw FP8 values (DeepSeek-V3's block scales are
// tensors of their own, which the caller applies: mla.Checkpoint does).
func (sf *File) ReadFloat32(name string) ([]float32, []int, error) {
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
		return nil, nil, fmt.Errorf("safetensors: %s: tensor %q is %s; only F32, BF16, F16 and F8_E4M3 convert to float32: %w", sf.name, name, t.DType, ErrDType)
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
