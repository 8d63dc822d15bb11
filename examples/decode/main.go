// Command decode uses mlasimd and its mla package the way a program outside the
// repository would: it builds one attention layer of DeepSeek-V2-Lite's shape with
// random weights, prefills a prompt and decodes a few tokens, then says which
// instruction-set Level ran and how small the latent cache stayed.
//
//	go run .                 # from examples/decode
//	MLASIMD_ISA=generic go run .
package main

import (
	"flag"
	"fmt"
	"log"
	"slices"
	"time"

	"github.com/mlasimd/mlasimd"
	"github.com/mlasimd/mlasimd/mla"
)

func main() {
	prompt := flag.Int("prompt", 16, "prompt tokens")
	tokens := flag.Int("tokens", 8, "tokens to decode")
	flag.Parse()

	cfg := mla.DeepSeekV2Lite()
	w, err := mla.RandomLayerWeights(cfg, 1) // or mla.OpenCheckpoint(dir) and LoadLayer(i)
	if err != nil {
		log.Fatal(err)
	}
	layer, err := mla.NewLayer(cfg, w)
	if err != nil {
		log.Fatal(err)
	}
	defer layer.Close()
	cache, err := layer.NewCache(mla.CacheOptions{DType: mla.BF16, Capacity: *prompt + *tokens})
	if err != nil {
		log.Fatal(err)
	}

	// The prompt's hidden states (a real model would embed tokens and normalize).
	D := cfg.Hidden
	x := make([]float32, *prompt*D)
	for i := range x {
		x[i] = float32(i%13)/6 - 1
	}
	out := make([]float32, len(x))
	if err := layer.Prefill(out, x, cache); err != nil {
		log.Fatal(err)
	}

	// Decode: each step's input is the last output, RMS-normalized with the kernel.
	gain := make([]float32, D)
	for i := range gain {
		gain[i] = 1
	}
	in, step := make([]float32, D), slices.Clone(out[len(out)-D:])
	start := time.Now()
	for range *tokens {
		mlasimd.RMSNorm(in, step, gain, 1e-6)
		if err := layer.Decode(step, in, cache); err != nil {
			log.Fatal(err)
		}
	}
	perToken := time.Since(start) / time.Duration(max(*tokens, 1))

	fmt.Printf("%s attention layer on %s (available: %v)\n", cfg.Name, mlasimd.Active(), mlasimd.Available())
	fmt.Printf("prefilled %d tokens, decoded %d at %v per token\n", *prompt, *tokens, perToken.Round(10*time.Microsecond))
	fmt.Printf("latent cache: %d tokens, %d bytes (an MHA cache would take %d, GQA-8 %d)\n",
		cache.Len(), cache.Bytes(), cache.MHABytes(), cache.GQABytes(8))
	fmt.Printf("last output: %d values, Dot with itself %.3g\n", len(step), mlasimd.Dot(step, step))
}
