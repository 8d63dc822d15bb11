package safetensors

import "fmt"

// DType is the element type of a tensor: every type the format defines. File.ReadFloat32
// converts F32, BF16, F16 and F8E4M3 (DeepSeek-V3's FP8); the others are read as raw
// bytes (File.ReadRaw).
type DType int

const (
	F32 DType = iota
	BF16
	F16
	F8E4M3
	F8E5M2
	F64
	I64
	I32
	I16
	I8
	U8
	U16
	U32
	U64
	Bool
)

var dtypeInfo = [...]struct {
	name string // the safetensors spelling
	size int    // bytes per element
}{
	F32: {"F32", 4}, BF16: {"BF16", 2}, F16: {"F16", 2}, F8E4M3: {"F8_E4M3", 1},
	F8E5M2: {"F8_E5M2", 1}, F64: {"F64", 8}, I64: {"I64", 8}, I32: {"I32", 4},
	I16: {"I16", 2}, I8: {"I8", 1}, U8: {"U8", 1}, U16: {"U16", 2}, U32: {"U32", 4},
	U64: {"U64", 8}, Bool: {"BOOL", 1},
}

func (d DType) valid() bool { return d >= 0 && int(d) < len(dtypeInfo) }

// String returns the safetensors name of d ("F32", "BF16", "F8_E4M3", ...).
func (d DType) String() string {
	if !d.valid() {
		return fmt.Sprintf("DType(%d)", int(d))
	}
	return dtypeInfo[d].name
}

// Size returns the bytes per element of d (0 for an invalid DType).
func (d DType) Size() int {
	if !d.valid() {
		return 0
	}
	return dtypeInfo[d].size
}

// ParseDType returns the DType with the given safetensors name.
func ParseDType(name string) (DType, error) {
	for d, info := range dtypeInfo {
		if info.name == name {
			return DType(d), nil
		}
	}
	return 0, fmt.Errorf("unknown dtype %q (safetensors names: F32, BF16, F16, F8_E4M3, F8_E5M2, F64, I64, I32, I16, I8, U8, U16, U32, U64, BOOL)", name)
}
