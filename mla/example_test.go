package mla_test

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"

	"github.com/mlasimd/mlasimd/mla"
	"github.com/mlasimd/mlasimd/safetensors"
)

// A DeepSeek-V2-Lite-shaped layer with random weights: prefill a prompt, then decode
// with weight absorption over a bf16 latent cache.
func Example() {
	cfg := mla.DeepSeekV2Lite()
	w, err := mla.RandomLayerWeights(cfg, 1)
	if err != nil {
		panic(err)
	}
	layer, err := mla.NewLayer(cfg, w, mla.WithWorkers(2))
	if err != nil {
		panic(err)
	}
	defer layer.Close()
	cache, err := layer.NewCache(mla.CacheOptions{DType: mla.BF16, Capacity: 64})
	if err != nil {
		panic(err)
	}

	prompt := make([]float32, 8*cfg.Hidden) // 8 tokens' input_layernorm outputs
	for i := range prompt {
		prompt[i] = float32(i%7) - 3
	}
	out := make([]float32, len(prompt))
	if err := layer.Prefill(out, prompt, cache); err != nil {
		panic(err)
	}
	step := make([]float32, cfg.Hidden)
	if err := layer.Decode(step, prompt[:cfg.Hidden], cache); err != nil {
		panic(err)
	}
	fmt.Printf("%d rows of %d values, %d bytes; an MHA cache would take %d (%.2fx)\n",
		cache.Len(), cache.Width(), cache.Bytes(), cache.MHABytes(), 1/cfg.CacheSizeRatio())
	fmt.Printf("softmax scale %.6f\n", cfg.SoftmaxScale())
	// Output:
	// 9 rows of 576 values, 10368 bytes; an MHA cache would take 92160 (8.89x)
	// softmax scale 0.114721
}

// Reading a Hugging Face config.json: q_lora_rank null means no query LoRA.
func ExampleParseHFConfig() {
	cfg, err := mla.ParseHFConfig([]byte(`{"model_type": "deepseek_v2", "hidden_size": 2048,
		"num_attention_heads": 16, "q_lora_rank": null, "kv_lora_rank": 512,
		"qk_nope_head_dim": 128, "qk_rope_head_dim": 64, "v_head_dim": 128,
		"rope_scaling": {"type": "yarn", "factor": 40, "original_max_position_embeddings": 4096,
		"mscale": 0.707, "mscale_all_dim": 0.707}}`))
	if err != nil {
		panic(err)
	}
	low, high := cfg.YaRNRange()
	fmt.Println(cfg.QLoRARank, cfg.CacheRowWidth(), low, high)
	// Output: 0 576 10 23
}

// Validate says what is wrong and how to fix it.
func ExampleConfig_Validate() {
	fmt.Println(mla.Seed(768, 12, 1024).Validate())
	// Output: mla: config "seed": KVLoRARank 1024 is not smaller than the per-token K/V width 768 (12 heads x 64): the latent compresses nothing; use about width/32 = 24
}

// Loading a layer's weights from a safetensors file and decoding with them. The file
// here is written first from random weights (in bf16, as DeepSeek checkpoints ship);
// for a Hugging Face model directory use OpenCheckpoint(dir), which reads the Config
// from its config.json.
func ExampleOpenCheckpointFile() {
	// A DeepSeek-shaped layer, shrunk so the example runs in milliseconds.
	cfg := mla.DeepSeekV2Lite()
	cfg.Name, cfg.Hidden, cfg.Heads = "tiny", 256, 4
	cfg.KVLoRARank, cfg.QKNopeHeadDim, cfg.QKRopeHeadDim, cfg.VHeadDim = 64, 32, 16, 32

	dir, err := os.MkdirTemp("", "mla-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "layer0.safetensors")
	random, err := mla.RandomLayerWeights(cfg, 1)
	if err != nil {
		panic(err)
	}
	tensors, err := random.Tensors(cfg, 0, mla.BF16)
	if err != nil {
		panic(err)
	}
	if err := safetensors.Write(path, tensors, map[string]string{"format": "pt"}); err != nil {
		panic(err)
	}

	// Load: the checkpoint checks every tensor's name and shape against cfg and
	// widens bf16 to float32.
	ck, err := mla.OpenCheckpointFile(path, cfg)
	if err != nil {
		panic(err)
	}
	defer ck.Close()
	for _, name := range ck.Names() {
		fmt.Println(name)
	}
	w, err := ck.LoadLayer(0)
	if err != nil {
		panic(err)
	}

	// Decode: prefill a 4-token prompt, then 3 tokens, each fed the last output.
	layer, err := mla.NewLayer(cfg, w, mla.WithWorkers(2))
	if err != nil {
		panic(err)
	}
	defer layer.Close()
	cache, err := layer.NewCache(mla.CacheOptions{DType: mla.BF16, Capacity: 16})
	if err != nil {
		panic(err)
	}
	prompt := make([]float32, 4*cfg.Hidden)
	for i := range prompt {
		prompt[i] = float32(i%5) - 2
	}
	out := make([]float32, len(prompt))
	if err := layer.Prefill(out, prompt, cache); err != nil {
		panic(err)
	}
	x := slices.Clone(out[len(out)-cfg.Hidden:])
	step := make([]float32, cfg.Hidden)
	for range 3 {
		if err := layer.Decode(step, x, cache); err != nil {
			panic(err)
		}
		copy(x, step)
	}

	// DecodeNaive, the decompressing reference, gives the same step to rounding: over
	// a BF16 cache, Decode rounds the absorbed queries and each tile's probabilities
	// to bfloat16 (2^-8 relative each), DecodeNaive computes in float32.
	naive := make([]float32, cfg.Hidden)
	if err := layer.DecodeNaive(naive, x, cache); err != nil {
		panic(err)
	}
	if err := cache.Truncate(cache.Len() - 1); err != nil { // roll the token back
		panic(err)
	}
	if err := layer.Decode(step, x, cache); err != nil {
		panic(err)
	}
	var diff, size float64
	for i := range step {
		diff = max(diff, math.Abs(float64(step[i]-naive[i])))
		size = max(size, math.Abs(float64(naive[i])))
	}
	fmt.Printf("%d tokens cached, %d values per row, %d bytes (MHA: %d)\n", cache.Len(), cache.Width(), cache.Bytes(), cache.MHABytes())
	fmt.Println("output width:", len(step), "absorbed == naive:", diff <= 4*0x1p-8*size)
	// Output:
	// model.layers.0.self_attn.kv_a_layernorm.weight
	// model.layers.0.self_attn.kv_a_proj_with_mqa.weight
	// model.layers.0.self_attn.kv_b_proj.weight
	// model.layers.0.self_attn.o_proj.weight
	// model.layers.0.self_attn.q_proj.weight
	// 8 tokens cached, 80 values per row, 1280 bytes (MHA: 5120)
	// output width: 256 absorbed == naive: true
}

// A latent cache against the caches of multi-head and grouped-query attention.
func ExampleCache_GQABytes() {
	cfg := mla.DeepSeekV2Lite()
	cache, err := mla.NewCache(cfg, mla.CacheOptions{DType: mla.BF16, Capacity: 4096})
	if err != nil {
		panic(err)
	}
	if err := cache.Append(make([]float32, 4096*cache.Width())); err != nil {
		panic(err)
	}
	fmt.Printf("%d tokens: MLA %d bytes, MHA %d, GQA-8 %d\n", cache.Len(), cache.Bytes(), cache.MHABytes(), cache.GQABytes(8))
	fmt.Printf("all %d layers: %d bytes per token in bf16\n", cfg.Layers, cfg.ModelCacheBytesPerToken(mla.BF16))
	// Output:
	// 4096 tokens: MLA 4718592 bytes, MHA 41943040, GQA-8 20971520
	// all 27 layers: 31104 bytes per token in bf16
}

// The work of one decode step: arithmetic and the bytes it must read.
func ExampleConfig_DecodeCost() {
	cfg := mla.DeepSeekV2Lite()
	for _, s := range []int{1024, 16384} {
		abs, naive := cfg.DecodeCost(s, mla.F32), cfg.NaiveDecodeCost(s, mla.F32)
		fmt.Printf("S=%d: absorbed %.1f MFLOP, naive %.0f MFLOP, %.1f MB read (weights %.1f, cache %.1f)\n",
			s, abs.FLOPs/1e6, naive.FLOPs/1e6, float64(abs.Bytes())/1e6, float64(abs.WeightBytes)/1e6, float64(abs.CacheBytes)/1e6)
	}
	// Output:
	// S=1024: absorbed 63.2 MFLOP, naive 4329 MFLOP, 57.4 MB read (weights 55.1, cache 2.4)
	// S=16384: absorbed 598.0 MFLOP, naive 68911 MFLOP, 92.8 MB read (weights 55.1, cache 37.7)
}
