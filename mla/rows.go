package mla

import (
	"fmt"
	"unsafe"

	"github.com/mlasimd/mlasimd"
	"github.com/mlasimd/mlasimd/internal/hugepage"
)

// latentRows is one sequence's cached rows as a layer reads and extends them: a Cache,
// or a Sequence of a PagedCache. Its methods are the unchecked ones that run with
// the value held.
type latentRows interface {
	Len() int
	Start() int
	Next() int
	room(t int) error                         // an error unless t more rows fit
	append(rows []float32) error              // whole rows; changes nothing on an error
	truncate(n int) error                     // keeps the first n rows
	rows(j0, j1 int, dst []float32) []float32 // rows [j0, j1) as float32, a view or in dst
}

// rowStore holds cache rows [c | kr] in a cache DType: float32 values in f32, the
// raw bits of BF16 or F16 in u16, or I8 tiles (mlasimd.I8TileRows rows each, one
// scale per row for c and one for kr) in i8 and i8s. Cache and PagedCache keep their
// rows in one, so rows are rounded and widened the same way in both. Offsets count
// elements, and an I8 store's are whole rows.
type rowStore struct {
	dtype DType
	width int // values per row
	split int // d_c: where an I8 row's second scale starts
	f32   []float32
	u16   []uint16
	i8    []byte    // whole tiles: len covers the rows held
	i8s   []float32 // 2·I8TileRows scales per tile
	f8    []byte    // FP8 rows: E4M3 bytes, row-major
	f8s   []float32 // one scale per FP8 row
}

func newRowStore(d DType, width, split int) rowStore {
	return rowStore{dtype: d, width: width, split: split}
}

// tiles is the number of I8 tiles that hold rows rows.
func tiles(rows int) int { return (rows + mlasimd.I8TileRows - 1) / mlasimd.I8TileRows }

// bytesPerRow is what one row takes: its values, and an I8 row's two scales.
func (s *rowStore) bytesPerRow() int64 {
	switch s.dtype {
	case I8:
		return int64(s.width) + 8
	case FP8:
		return int64(s.width) + 4
	}
	return int64(s.width) * int64(s.dtype.Size())
}

// capRows is the number of rows the storage holds without growing.
func (s *rowStore) capRows() int {
	switch {
	case s.width == 0:
		return 0
	case s.dtype == F32:
		return cap(s.f32) / s.width
	case s.dtype == I8:
		return cap(s.i8) / mlasimd.I8TileBytes(s.width) * mlasimd.I8TileRows
	case s.dtype == FP8:
		return cap(s.f8) / s.width
	}
	return cap(s.u16) / s.width
}

// reserveRows makes room for rows rows, keeping the rows held.
func (s *rowStore) reserveRows(what string, rows int) error {
	if s.dtype == I8 {
		rows = tiles(rows) * mlasimd.I8TileRows
	}
	need, err := allocSize(what, rows, s.width)
	if err != nil || rows <= s.capRows() {
		return err
	}
	switch s.dtype {
	case F32:
		s.f32 = append(hugepage.Make[float32](need)[:0], s.f32...)
	case I8:
		s.i8 = append(hugepage.Make[byte](need)[:0], s.i8...)
		s.i8s = append(make([]float32, 0, 2*rows), s.i8s...)
	case FP8:
		s.f8 = append(hugepage.Make[byte](need)[:0], s.f8...)
		s.f8s = append(make([]float32, 0, rows), s.f8s...)
	default:
		s.u16 = append(hugepage.Make[uint16](need)[:0], s.u16...)
	}
	return nil
}

// setRows sets the length of the storage to n rows (within its capacity).
func (s *rowStore) setRows(n int) {
	switch s.dtype {
	case F32:
		s.f32 = s.f32[:n*s.width]
	case I8:
		s.i8 = s.i8[:tiles(n)*mlasimd.I8TileBytes(s.width)]
		s.i8s = s.i8s[:tiles(n)*2*mlasimd.I8TileRows]
	case FP8:
		s.f8, s.f8s = s.f8[:n*s.width], s.f8s[:n]
	default:
		s.u16 = s.u16[:n*s.width]
	}
}

// put writes src, rounded to the store's dtype, at elements [lo, lo+len(src)). It
// fails only for a value an I8 store cannot quantize (NaN or infinite), which the
// callers have refused already.
func (s *rowStore) put(lo int, src []float32) error {
	hi := lo + len(src)
	switch s.dtype {
	case F32:
		copy(s.f32[lo:hi], src)
	case BF16:
		mlasimd.F32ToBF16(s.u16[lo:hi], src)
	case F16:
		mlasimd.F32ToF16(s.u16[lo:hi], src)
	case I8:
		if err := mlasimd.QuantizeI8Rows(s.i8, s.i8s, src, lo/s.width, s.width, s.split); err != nil {
			return fmt.Errorf("mla: cache row: %w", err)
		}
	case FP8:
		putFP8Rows(s.f8[lo:hi], s.f8s[lo/s.width:hi/s.width], src, s.width)
	}
	return nil
}

// get returns elements [lo, hi) as float32: a view of an F32 store (not to be
// modified), or the narrow values widened into dst, which must hold hi-lo values.
func (s *rowStore) get(lo, hi int, dst []float32) []float32 {
	switch s.dtype {
	case BF16:
		mlasimd.BF16ToF32(dst[:hi-lo], s.u16[lo:hi])
	case F16:
		mlasimd.F16ToF32(dst[:hi-lo], s.u16[lo:hi])
	case I8:
		mlasimd.DequantizeI8Rows(dst[:hi-lo], s.i8, s.i8s, lo/s.width, hi/s.width, s.width, s.split)
	case FP8:
		getFP8Rows(dst[:hi-lo], s.f8[lo:hi], s.f8s[lo/s.width:hi/s.width], s.width)
	default:
		return s.f32[lo:hi:hi]
	}
	return dst[:hi-lo]
}

// move copies elements [src, src+n) to [dst, dst+n) without converting them. In an
// I8 store both start on a tile (pages are whole tiles) and the tiles are copied.
func (s *rowStore) move(dst, src, n int) {
	switch s.dtype {
	case F32:
		copy(s.f32[dst:dst+n], s.f32[src:src+n])
	case I8:
		tb, w := mlasimd.I8TileBytes(s.width), s.width
		t, d, r := tiles(n/w), dst/w/mlasimd.I8TileRows, src/w/mlasimd.I8TileRows
		copy(s.i8[d*tb:(d+t)*tb], s.i8[r*tb:(r+t)*tb])
		ts := 2 * mlasimd.I8TileRows
		copy(s.i8s[d*ts:(d+t)*ts], s.i8s[r*ts:(r+t)*ts])
	case FP8:
		copy(s.f8[dst:dst+n], s.f8[src:src+n])
		copy(s.f8s[dst/s.width:(dst+n)/s.width], s.f8s[src/s.width:(src+n)/s.width])
	default:
		copy(s.u16[dst:dst+n], s.u16[src:src+n])
	}
}

// i8View is rows [j0, j1) of an I8 store, j0 on a tile: its tiles and scales.
func (s *rowStore) i8View(j0, j1 int) (tiles8 []byte, scales []float32) {
	t0, t1 := j0/mlasimd.I8TileRows, tiles(j1)
	tb, ts := mlasimd.I8TileBytes(s.width), 2*mlasimd.I8TileRows
	return s.i8[t0*tb : t1*tb], s.i8s[t0*ts : t1*ts]
}

// raw returns the memory that holds elements [lo, hi) as float32s, for
// GemmNTPrefetch to prefetch: the values themselves in an F32 store; in a narrow one
// its raw elements, never to be read as numbers. It is nil when lo >= hi.
func (s *rowStore) raw(lo, hi int) []float32 {
	if lo >= hi {
		return nil
	}
	switch s.dtype {
	case F32:
		return s.f32[lo:hi]
	case I8:
		b, _ := s.i8View(lo/s.width/mlasimd.I8TileRows*mlasimd.I8TileRows, hi/s.width)
		return bytesAsF32(b)
	case FP8:
		return bytesAsF32(s.f8[lo&^3 : hi])
	}
	bits := s.u16[lo&^1 : hi] // from an even element: 4-byte aligned
	if len(bits) < 2 {
		return nil
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&bits[0])), len(bits)/2)
}

// bytesAsF32 views b (4-byte aligned, as hugepage memory is) as float32s to prefetch.
func bytesAsF32(b []byte) []float32 {
	if len(b) < 4 {
		return nil
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), len(b)/4)
}
