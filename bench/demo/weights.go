package main

import (
	"fmt"
	"os"

	"github.com/mlasimd/mlasimd/mla"
	"github.com/mlasimd/mlasimd/safetensors"
)

func presetConfig(name string) (mla.Config, error) {
	switch name {
	case "v2lite", "v2-lite":
		return mla.DeepSeekV2Lite(), nil
	case "v2":
		return mla.DeepSeekV2(), nil
	case "v3":
		return mla.DeepSeekV3(), nil
	}
	return mla.Config{}, fmt.Errorf("-model %q: want v2lite, v2 or v3", name)
}

// loadLayer returns the layer's config and weights and a description of where they
// came from: random, a model directory (its config.json decides the shape) or one
// safetensors file (the -model preset decides it).
func loadLayer(f flags, format mla.WeightFormat) (mla.Config, *mla.LayerWeights, string, error) {
	cfg, err := presetConfig(f.model)
	if err != nil {
		return cfg, nil, "", err
	}
	if f.weights == "" {
		w, err := mla.RandomLayerWeights(cfg, f.seed)
		return cfg, w, fmt.Sprintf("random weights (seed %d)", f.seed), err
	}
	st, err := os.Stat(f.weights)
	if err != nil {
		return cfg, nil, "", err
	}
	var ck *mla.Checkpoint
	if st.IsDir() {
		ck, err = mla.OpenCheckpoint(f.weights, mla.WithWeightFormat(format))
	} else {
		cfg.Layers = 0 // a lone file may hold any layer index
		ck, err = mla.OpenCheckpointFile(f.weights, cfg, mla.WithWeightFormat(format))
	}
	if err != nil {
		return cfg, nil, "", err
	}
	defer ck.Close()
	w, err := ck.LoadLayer(f.layer)
	if err != nil {
		return cfg, nil, "", err
	}
	return ck.Config(), w, fmt.Sprintf("layer %d of %s", f.layer, f.weights), nil
}

func writeLayer(path string, cfg mla.Config, w *mla.LayerWeights, layer int) error {
	ts, err := w.Tensors(cfg, layer, mla.BF16)
	if err != nil {
		return err
	}
	if err := safetensors.Write(path, ts, map[string]string{"format": "pt"}); err != nil {
		return err
	}
	fmt.Printf("wrote layer %d of %s (bf16) to %s; run with -weights %s -layer %d\n", layer, cfg.Name, path, path, layer)
	return nil
}
