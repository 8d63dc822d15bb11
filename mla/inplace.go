package mla

import (
	"encoding/binary"
	"unsafe"

	"github.com/mlasimd/mlasimd/safetensors"
)

// littleEndian: safetensors stores little-endian values, which a little-endian host
// can use as they lie in the file.
var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// viewBytes returns tensor name's bytes in place in sf's memory map, with the
// Mapping to keep alongside them; false when sf is not mapped.
func viewBytes(sf *safetensors.File, name string) ([]byte, *safetensors.Mapping, bool) {
	if !sf.Mapped() {
		return nil, nil, false
	}
	b, m, err := sf.View(name)
	if err != nil {
		return nil, nil, false
	}
	return b, m, true
}

// viewUint16 is viewBytes for 16-bit values: false also on a big-endian host or for
// bytes at an odd address (a tensor's offset in the file is any byte).
func viewUint16(sf *safetensors.File, name string) ([]uint16, *safetensors.Mapping, bool) {
	b, m, ok := viewBytes(sf, name)
	if !ok || !littleEndian || uintptr(unsafe.Pointer(unsafe.SliceData(b)))%2 != 0 {
		return nil, nil, false
	}
	return unsafe.Slice((*uint16)(unsafe.Pointer(unsafe.SliceData(b))), len(b)/2), m, true
}
