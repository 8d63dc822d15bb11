package safetensors

// Limits of the reader, which the writer also enforces so that what it writes reads
// back. Each is several times what any published checkpoint needs and far below what
// the format allows, so that a hostile or corrupt file is refused before it costs
// memory or time, with an error that names the limit.
const (
	// MaxHeaderBytes caps the JSON header, as the reference implementation does
	// (100 MB): a real header takes about 150 bytes per tensor.
	MaxHeaderBytes = 100_000_000

	// MaxTensors caps the tensors of one file. A DeepSeek-V3 shard holds 1-2
	// thousand; the whole of DeepSeek-V3 with its FP8 scales is about 91 thousand, so
	// even that model in one file fits. A 100 MB header could otherwise describe two
	// million empty tensors, each costing a map entry.
	MaxTensors = 1 << 17

	// MaxRank caps a tensor's dimensions. Checkpoint tensors have rank 4 at most
	// (convolutions); 8 leaves room for video models' 5-D kernels and matches the
	// reference implementation's own tests.
	MaxRank = 8

	// MaxDimension caps one dimension (2^40, four TB of float32 along one axis).
	// Every dimension of a non-empty tensor is already bounded by the file's size; the
	// cap also bounds the dimensions of empty tensors, whose product checks nothing.
	MaxDimension = 1 << 40

	// MaxMetadataEntries caps the header's __metadata__ map, which writers fill with
	// a handful of strings ("format": "pt").
	MaxMetadataEntries = 1 << 14
)
