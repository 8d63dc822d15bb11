// Package safetensors reads and writes the safetensors format of Hugging Face
// checkpoints, for Go inference code that loads weights: it knows nothing about the
// models the tensors belong to (package mla builds its checkpoint loading on it).
//
// A file is an 8-byte little-endian header length N, an N-byte JSON header, then the
// tensors' bytes. The header maps each tensor name to its dtype, shape and
// data_offsets [begin, end) within the data, plus an optional "__metadata__" map of
// strings to strings:
//
//	{"__metadata__":{"format":"pt"},"w":{"dtype":"BF16","shape":[2,3],"data_offsets":[0,12]}}
//
// Open and Read validate the header as the reference Rust crate does: the header is
// valid UTF-8 JSON; every dtype is known and every shape matches its byte size with
// checked arithmetic; and the tensors, sorted by offset, tile the data exactly (no
// gap, overlap, leading or trailing byte). Its JSON is read more strictly than
// encoding/json reads it: keys match exactly (a key that differs from "dtype",
// "shape" or "data_offsets" only in case is an error, not an alias), no key appears
// twice at any level, and lone UTF-16 surrogates are refused, so that no two readers
// can see different tensors in one file. Unknown keys in an entry are skipped, as the
// reference crate skips them.
//
// Limits (MaxHeaderBytes, MaxTensors, MaxRank, MaxDimension, MaxMetadataEntries) sit
// several times above what published checkpoints need, so a hostile or corrupt file
// is refused before it costs memory or time. Reading a tensor allocates only what
// its validated size implies; Open accepts only regular files (a FIFO or a device
// would block or never end). Every error names the file ("safetensors: <file>: ...")
// and the tensor where there is one.
//
// File.ReadFloat32 widens F32, BF16, F16 and F8_E4M3 to float32 (the SIMD
// conversions of package mlasimd); ReadRaw returns any tensor's bytes. NewTensor,
// Encode and Write produce files, refusing before the first byte anything the
// reader would refuse; Write goes through a temporary file so that a failed write
// leaves nothing behind.
package safetensors
