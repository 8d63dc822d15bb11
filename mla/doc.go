// Package mla implements Multi-Head Latent Attention (MLA) inference on the
// dispatched float32 kernels of package mlasimd: the attention of DeepSeek-V2-Lite,
// DeepSeek-V2 and DeepSeek-V3, and a simplified single-latent variant, called "the
// seed" in this package (preset Seed): one LayerNorm'd latent shared by keys and
// values, separate key and value up-projections, no RoPE unless asked for.
//
// A Config describes the attention (presets DeepSeekV2Lite, DeepSeekV2, DeepSeekV3
// and Seed; ParseHFConfig reads a Hugging Face config.json). LayerWeights holds one
// layer's matrices, from RandomLayerWeights (deterministic Xavier init, float32) or
// from a checkpoint (OpenCheckpoint: safetensors, one file or sharded, with bf16, f16,
// f32 and DeepSeek-V3's block-scaled FP8 tensors, read with package safetensors).
// Each matrix is a Matrix held in a WeightFormat: F32, BF16, F16, Q8_0 (GGUF's
// blocks of 32 int8 with an f16 scale) or FP8 (DeepSeek-V3's E4M3 bytes with 128x128
// block scales). A checkpoint's BF16, F16 and FP8 tensors stay as stored by default,
// WithWeightFormat converts at load (Q8_0 from any dtype),
// and LayerWeights.Convert and ModelWeights.Convert convert built weights. Every path
// (Prefill, Decode, DecodeNaive, the Model's FFN, embedding and LM head) multiplies
// the held format: GEMVs widen it in registers, GEMMs of several tokens a tile of
// rows at a time in cache; the only error a format adds is its rounding of each
// weight (BF16: 2^-8 relative, F16: 2^-11, Q8_0: at most max|block|·(1+2^-10)/254). A
// Cache holds, per token, only the normalized latent and the rotated shared rope key,
// [c | kr], in f32, bf16 or f16 (DType, an alias of safetensors.DType).
//
// A Layer runs the attention:
//
//   - Prefill processes T new tokens on top of whatever the cache holds (chunked
//     prefill), causally, with the decompressed ("naive") algorithm over bounded
//     chunks of context.
//   - Decode processes one token with weight absorption: the query is mapped into
//     the latent space once per head, every cached row is read once for all heads
//     (GemmNT for the scores, GemmNNAdd for the weighted sum), with an online
//     softmax (OnlineSoftmax) over tiles of rows, split over goroutines. The cache is never up-projected.
//     Decode allocates nothing once the layer exists and the cache has capacity.
//   - DecodeNaive is the decompressed reference the absorbed path is tested against.
//
// # Serving many sequences
//
// A PagedCache is a pool of fixed-size pages of [c | kr] rows, allocated once;
// each Sequence maps its rows onto pages through a page table. Sequences are
// created, appended to, truncated and freed independently, freed pages return to
// the pool, and a pool out of pages returns errors wrapping ErrCacheFull, never
// grows. Sequence.Fork shares pages copy-on-write (parallel sampling, a common
// prompt paid for once). Layer.DecodeBatch runs one token for each of B sequences of
// any lengths: every projection is one multi-token product over the batch (each
// weight row read once per step), the absorbed attention runs per sequence with the
// rows of all sequences split among the workers, and the batch may change between
// steps. PrefillSequence and PrefillBatch prefill prompts into sequences (after a
// fork, on top of the shared prompt). Model.ForwardBatch, ForwardSequence and
// GenerateBatch do the same for a whole decoder over a ModelPagedCache.
//
//	pool, err := mla.NewPagedCache(cfg, mla.PagedCacheOptions{Pages: 1024})
//	a, err := pool.NewSequence(0)
//	err = layer.PrefillSequence(out, prompt, a)
//	b, err := a.Fork()                               // shares a's pages
//	err = layer.DecodeBatch(outs, xs, []*mla.Sequence{a, b}) // xs: 2 tokens
//
// # Loading weights and decoding
//
// With a Hugging Face DeepSeek-V2/V3 directory (config.json and safetensors shards):
//
//	ck, err := mla.OpenCheckpoint("path/to/DeepSeek-V2-Lite")
//	...
//	defer ck.Close()
//	w, err := ck.LoadLayer(0) // model.layers.0.self_attn.*, kept in the stored bf16
//	layer, err := mla.NewLayer(ck.Config(), w)
//	defer layer.Close()
//	cache, err := layer.NewCache(mla.CacheOptions{DType: mla.BF16, Capacity: 4096})
//	err = layer.Prefill(out, prompt, cache) // T tokens: len(prompt) = len(out) = T·Hidden
//	err = layer.Decode(step, x, cache)      // then one token at a time
//
// Inputs are the layer's hidden states after input_layernorm; outputs are the
// attention's, before the residual add. ExampleOpenCheckpointFile runs the same on a
// single safetensors file; the Cache and Config examples show the cache sizes and the
// cost of a step. Every step checks its shapes and returns an error naming them.
//
// # Lifecycle and loading limits
//
// A Checkpoint (OpenCheckpoint, OpenCheckpointFile) reads tensors into LayerWeights
// or ModelWeights, which do not depend on it once loaded. NewLayer and
// NewModel bind weights to scratch space and a worker Pool; a Cache per sequence
// holds the latents; Close on the Layer, Model and Checkpoint releases workers and
// files. Files are untrusted input: safetensors headers (package safetensors),
// config.json and the shard index are parsed strictly (exact keys, no duplicates)
// under fixed size caps, every tensor's shape and byte range is checked before it is
// read, and WithMemoryLimit
// (DefaultMemoryLimit) bounds the weight memory a configuration may imply, so a
// hostile file costs an error, not memory.
//
// Model stacks layers into a decoder (embedding, pre-RMSNorm blocks with MLA and
// a SwiGLU FFN, final norm, LM head) with greedy generation over the latent cache.
// With Config.MoE (read from config.json's n_routed_experts and the keys beside it)
// blocks from first_k_dense_replace on are DeepSeek's mixture of experts, gated as
// each model type's Hugging Face code gates (MoEConfig documents the differences and
// the tie rule), so OpenCheckpoint and LoadModel run published DeepSeek-V2(-Lite) and
// V3 checkpoints (ResidentBytes tells their size in the load format beforehand).
// Decode reads only the selected experts, in their resident format; a step of many
// tokens groups them by expert so each expert's weights are read once. MoEBlock runs
// one such FFN on its own.
//
// # Goroutines, Close and failed steps
//
// Weights (LayerWeights, ModelWeights) are only read: any number of Layers and Models
// on any number of goroutines may share them. A Layer (its scratch), a Model and a
// Cache (with the ModelCache holding it) must each be used by one goroutine at a
// time; a call that starts while another goroutine is inside one returns an error
// wrapping ErrBusy, without touching it. A Pool may be shared: it runs one task at
// a time. After Close, a Layer, Model or Pool returns errors wrapping ErrClosed.
//
// A step that fails (bad shapes, a cache of another geometry, an input or cache row
// holding a NaN or an infinity, a closed pool) leaves every cache as it was, so one
// bad token cannot poison a sequence. A Cache holds positions below
// MaxCachePositions, and every size that decides an allocation is checked: an absurd
// capacity or dimension is an error, not an attempt to allocate it. The zero value of
// each type is safe: its methods return errors or zeros.
//
// Conventions: weights are [out, in] row-major as in
// PyTorch's nn.Linear; RoPE for DeepSeek uses interleaved pairs on the raw projection
// outputs; YaRN frequencies and angles are formed in float32 as the references do; the
// softmax scale is d_qk^-1/2 times mscale² (from mscale_all_dim).
//
// The math runs only through package mlasimd, so it speeds up with whatever
// instruction-set Level mlasimd has selected (see Level).
package mla
