package mla

import "errors"

// The errors callers branch on, matched with errors.Is (ErrClosed and ErrBusy, of
// the lifecycle, are in lifecycle.go; ErrNoToken, of the samplers, in sampler.go).
// Each is added to an error without changing its message, which still names the file,
// the tensor, the position or the sizes; the underlying causes (fs.ErrNotExist,
// safetensors.ErrFormat, ...) stay in the chain.
var (
	// ErrConfig: a Config, or a Hugging Face config.json, that the library cannot
	// run (Validate's errors, ParseHFConfig's, ReadHFConfig's).
	ErrConfig = errors.New("mla: bad config")
	// ErrCheckpoint: a checkpoint that cannot be loaded: a missing, malformed or
	// mis-shaped file or tensor (OpenCheckpoint's errors and the Checkpoint's loads).
	ErrCheckpoint = errors.New("mla: bad checkpoint")
	// ErrCacheFull: a cache with no room for more rows (MaxCachePositions).
	ErrCacheFull = errors.New("mla: cache full")
	// ErrShape: an argument whose length or range does not fit the call (input and
	// output lengths, token ids, cache geometry and ranges, sizes).
	ErrShape = errors.New("mla: bad argument shape")
	// ErrNonFinite: an input, a cache row or a hidden state that is NaN or infinite;
	// the call appended nothing.
	ErrNonFinite = errors.New("mla: value not finite")
)

// kindError adds a sentinel for errors.Is to err, keeping err's message and chain.
type kindError struct{ err, kind error }

func (e *kindError) Error() string   { return e.err.Error() }
func (e *kindError) Unwrap() []error { return []error{e.err, e.kind} }

// withKind returns err marked with kind (nil stays nil; a mark is added once).
func withKind(err, kind error) error {
	if err == nil || errors.Is(err, kind) {
		return err
	}
	return &kindError{err, kind}
}

// checkpointErr marks a Checkpoint's error as ErrCheckpoint, unless it is about the
// Checkpoint's lifecycle (ErrClosed) rather than its files.
func checkpointErr(err error) error {
	if err == nil || errors.Is(err, ErrClosed) {
		return err
	}
	return withKind(err, ErrCheckpoint)
}

// configErr marks a config's error as ErrConfig.
func configErr(err error) error { return withKind(err, ErrConfig) }

// shapeErr marks an argument's error as ErrShape.
func shapeErr(err error) error { return withKind(err, ErrShape) }
