package safetensors

import "errors"

// The errors callers branch on, matched with errors.Is; every message still names
// the file, the tensor and the sizes.
var (
	// ErrFormat is wrapped by Read's and Open's errors for data that is not a valid
	// safetensors file (bad header, overlapping or missing bytes, limits passed).
	ErrFormat = errors.New("safetensors: malformed file")
	// ErrNoTensor is wrapped by the error of reading a tensor the file lacks.
	ErrNoTensor = errors.New("safetensors: no such tensor")
	// ErrDType is wrapped by the error of reading a tensor as a type it cannot give.
	ErrDType = errors.New("safetensors: wrong dtype")
	// ErrNotMapped is wrapped by View's error for a file that is not memory-mapped.
	ErrNotMapped = errors.New("safetensors: file not memory-mapped")
)

// errNoMap: this system or file cannot be memory-mapped; OpenMapped then reads.
var errNoMap = errors.New("safetensors: no memory map")

// kindError adds a sentinel for errors.Is to err, keeping err's message and chain.
type kindError struct{ err, kind error }

func (e *kindError) Error() string   { return e.err.Error() }
func (e *kindError) Unwrap() []error { return []error{e.err, e.kind} }
