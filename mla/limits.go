package mla

import (
	"fmt"

	"github.com/mlasimd/mlasimd/internal/fileopen"
	"github.com/mlasimd/mlasimd/safetensors"
)

// Limits of the checkpoint loaders, beside those of the safetensors reader
// (safetensors.MaxHeaderBytes and the rest). Each is several times what any published
// checkpoint needs and far below what the format allows, so that a hostile or corrupt
// file is refused before it costs memory or time, with an error that names the limit.
const (
	// maxConfigBytes caps config.json. A DeepSeek config.json is about 2 KB; even the
	// configs of classifiers that carry id2label tables of tens of thousands of labels
	// stay under 1 MiB.
	maxConfigBytes = 4 << 20

	// maxIndexBytes caps model.safetensors.index.json, which holds one line per tensor
	// (DeepSeek-V3's is 9 MB): no more than a safetensors header describing the same
	// tensors, so the header's cap.
	maxIndexBytes = safetensors.MaxHeaderBytes

	// maxIndexTensors caps the index's weight_map: DeepSeek-V3 lists about 91
	// thousand tensors, models of its architecture with 384 experts about 140
	// thousand.
	maxIndexTensors = 1 << 19

	// maxShards caps the distinct shard files of an index (DeepSeek-V3 has 163), each
	// of which is checked when the checkpoint is opened.
	maxShards = 1 << 14

	// maxBlockSize caps quantization_config.weight_block_size (128 for DeepSeek-V3).
	maxBlockSize = 1 << 16
)

// DefaultMemoryLimit is the largest float32 weight memory a configuration may imply
// unless WithMemoryLimit raises it: 256 GiB, more than DeepSeek-V3 loaded as a dense
// model (about 150 GB), the largest configuration this package describes.
const DefaultMemoryLimit int64 = 256 << 30

// LoadOption configures OpenCheckpoint and OpenCheckpointFile.
type LoadOption func(*loadOptions)

type loadOptions struct {
	memoryLimit int64
	format      WeightFormat
}

// WithWeightFormat sets the format LoadLayer and LoadModel hold weight matrices in
// (default FormatKeep: each tensor's stored dtype, so a BF16 checkpoint stays 2 bytes
// per weight and is never widened; FP8 is dequantized to F32). FormatQ8_0 quantizes
// any checkpoint while loading, one tensor at a time.
func WithWeightFormat(f WeightFormat) LoadOption {
	return func(o *loadOptions) { o.format = f }
}

// WithMemoryLimit sets the most bytes of float32 weights a configuration may imply:
// OpenCheckpoint refuses a config.json whose single layer (or per-token cache) needs
// more, LoadModel one whose whole model does, and no tensor larger is read. The
// default is DefaultMemoryLimit; use math.MaxInt64 for none.
func WithMemoryLimit(bytes int64) LoadOption {
	return func(o *loadOptions) { o.memoryLimit = bytes }
}

func newLoadOptions(opts []LoadOption) (loadOptions, error) {
	o := loadOptions{memoryLimit: DefaultMemoryLimit}
	for _, f := range opts {
		if f != nil {
			f(&o)
		}
	}
	if o.memoryLimit <= 0 {
		return o, fmt.Errorf("mla: WithMemoryLimit(%d): want a positive number of bytes", o.memoryLimit)
	}
	if !o.format.valid() {
		return o, fmt.Errorf("mla: WithWeightFormat(%v): not a weight format", o.format)
	}
	return o, nil
}

// checkLayer refuses a Config whose layer weights or per-token cache exceed the limit.
func (o loadOptions) checkLayer(c Config) error {
	fp, err := c.Footprint()
	if err != nil {
		return err
	}
	if fp.LayerWeightBytes > o.memoryLimit {
		return fmt.Errorf("mla: config %q: one layer's attention weights take %s as float32, over the memory limit of %s; raise it with mla.WithMemoryLimit if that is intended",
			c.Name, byteSize(fp.LayerWeightBytes), byteSize(o.memoryLimit))
	}
	if fp.CacheBytesPerToken > o.memoryLimit {
		return fmt.Errorf("mla: config %q: one token's float32 cache rows take %s, over the memory limit of %s; raise it with mla.WithMemoryLimit if that is intended",
			c.Name, byteSize(fp.CacheBytesPerToken), byteSize(o.memoryLimit))
	}
	return nil
}

// checkModel refuses a Config whose whole model exceeds the limit.
func (o loadOptions) checkModel(c Config) error {
	fp, err := c.Footprint()
	if err != nil {
		return err
	}
	if fp.ModelWeightBytes > o.memoryLimit {
		return fmt.Errorf("mla: config %q: the model's %d layers take %s of float32 weights, over the memory limit of %s; raise it with mla.WithMemoryLimit if that is intended",
			c.Name, c.Layers, byteSize(fp.ModelWeightBytes), byteSize(o.memoryLimit))
	}
	return nil
}

// byteSize prints n exactly and in binary units.
func byteSize(n int64) string {
	units := []string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	if n < 1024 {
		return fmt.Sprintf("%d bytes", n)
	}
	v, u := float64(n)/1024, 0
	for v >= 1024 && u < len(units)-1 {
		v, u = v/1024, u+1
	}
	return fmt.Sprintf("%d bytes (%.1f %s)", n, v, units[u])
}

// readSmallFile reads the regular file at path (config.json, the shard index),
// refusing one over limit bytes; what names the limit in the error.
func readSmallFile(path string, limit int64, what string) ([]byte, error) {
	data, err := fileopen.ReadSmall(path, limit, what)
	if err != nil {
		return nil, fmt.Errorf("mla: %w", err)
	}
	return data, nil
}
