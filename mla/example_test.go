package mla_test

import (
	"fmt"

	"github.com/mlasimd/mlasimd/mla"
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
