package mla

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Checkpoint reads weights by their Hugging Face names from a model directory
// (config.json plus model.safetensors, or shards listed in
// model.safetensors.index.json) or from one safetensors file. Shards are opened when
// first needed. F32, BF16 and F16 tensors are widened to float32; F8_E4M3 tensors
// (DeepSeek-V3) are dequantized with their weight_scale_inv block scales.
type Checkpoint struct {
	dir        string
	cfg        Config
	blockRows  int // FP8 scale block, quantization_config.weight_block_size
	blockCols  int
	where      map[string]string // tensor name -> file name relative to dir
	files      map[string]*SafetensorsFile
	sourceName string // for errors: the index or the single file
}

// OpenCheckpoint opens the Hugging Face model directory dir: its config.json gives
// the Config, and the weights come from model.safetensors.index.json's shards or
// from model.safetensors.
func OpenCheckpoint(dir string) (*Checkpoint, error) {
	cfgPath := filepath.Join(dir, "config.json")
	raw, err := os.ReadFile(cfgPath)
	if err != nil {
		return nil, fmt.Errorf("mla: checkpoint %s: %w (a model directory needs config.json)", dir, err)
	}
	cfg, err := ParseHFConfig(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cfgPath, err)
	}
	ck := &Checkpoint{dir: dir, cfg: cfg, blockRows: 128, blockCols: 128, where: map[string]string{}, files: map[string]*SafetensorsFile{}}
	if err := ck.readQuantization(raw, cfgPath); err != nil {
		return nil, err
	}
	indexPath := filepath.Join(dir, "model.safetensors.index.json")
	if _, err := os.Stat(indexPath); err == nil {
		if err := ck.readIndex(indexPath); err != nil {
			return nil, err
		}
		return ck, nil
	}
	single := filepath.Join(dir, "model.safetensors")
	if _, err := os.Stat(single); err != nil {
		return nil, fmt.Errorf("mla: checkpoint %s has neither model.safetensors.index.json nor model.safetensors", dir)
	}
	if err := ck.addFile("model.safetensors"); err != nil {
		return nil, err
	}
	return ck, nil
}

// OpenCheckpointFile reads weights from the single safetensors file at path,
// described by cfg (a file alone carries no config).
func OpenCheckpointFile(path string, cfg Config) (*Checkpoint, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ck := &Checkpoint{dir: filepath.Dir(path), cfg: cfg, blockRows: 128, blockCols: 128, where: map[string]string{}, files: map[string]*SafetensorsFile{}}
	if err := ck.addFile(filepath.Base(path)); err != nil {
		return nil, err
	}
	return ck, nil
}

func (ck *Checkpoint) readQuantization(raw []byte, cfgPath string) error {
	var q struct {
		Quant *struct {
			Method    string `json:"quant_method"`
			BlockSize []int  `json:"weight_block_size"`
		} `json:"quantization_config"`
	}
	if err := json.Unmarshal(raw, &q); err != nil {
		return fmt.Errorf("mla: %s: quantization_config: %w", cfgPath, err)
	}
	if q.Quant == nil || q.Quant.BlockSize == nil {
		return nil
	}
	if b := q.Quant.BlockSize; len(b) != 2 || b[0] <= 0 || b[1] <= 0 {
		return fmt.Errorf("mla: %s: quantization_config.weight_block_size = %v, want [rows, cols], e.g. [128, 128]", cfgPath, b)
	}
	ck.blockRows, ck.blockCols = q.Quant.BlockSize[0], q.Quant.BlockSize[1]
	return nil
}

func (ck *Checkpoint) readIndex(path string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("mla: %w", err)
	}
	var idx struct {
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := json.Unmarshal(raw, &idx); err != nil {
		return fmt.Errorf("mla: %s: %w", path, err)
	}
	if len(idx.WeightMap) == 0 {
		return fmt.Errorf("mla: %s: empty or missing weight_map", path)
	}
	for name, file := range idx.WeightMap {
		// Shards live in the model directory; a path leaving it is hostile.
		if !filepath.IsLocal(file) || !strings.HasSuffix(file, ".safetensors") {
			return fmt.Errorf("mla: %s: tensor %q maps to %q, which is not a .safetensors file inside the model directory", path, name, file)
		}
		ck.where[name] = file
	}
	ck.sourceName = path
	return nil
}

// addFile opens a safetensors file and maps all its tensors to it.
func (ck *Checkpoint) addFile(rel string) error {
	sf, err := ck.open(rel)
	if err != nil {
		return err
	}
	for _, name := range sf.Names() {
		ck.where[name] = rel
	}
	ck.sourceName = sf.Name()
	return nil
}

func (ck *Checkpoint) open(rel string) (*SafetensorsFile, error) {
	if sf, ok := ck.files[rel]; ok {
		return sf, nil
	}
	sf, err := OpenSafetensors(filepath.Join(ck.dir, rel))
	if err != nil {
		return nil, err
	}
	ck.files[rel] = sf
	return sf, nil
}

// Config is the checkpoint's configuration.
func (ck *Checkpoint) Config() Config { return ck.cfg }

// Names lists the tensor names the checkpoint has.
func (ck *Checkpoint) Names() []string {
	var names []string
	for n := range ck.where {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Has reports whether the checkpoint lists the tensor.
func (ck *Checkpoint) Has(name string) bool { _, ok := ck.where[name]; return ok }

// Close closes every opened file.
func (ck *Checkpoint) Close() error {
	var errs []error
	for _, sf := range ck.files {
		errs = append(errs, sf.Close())
	}
	return errors.Join(errs...)
}

// Tensor returns the named tensor as float32, checking that its shape is shape.
func (ck *Checkpoint) Tensor(name string, shape ...int) ([]float32, error) {
	rel, ok := ck.where[name]
	if !ok {
		return nil, fmt.Errorf("mla: checkpoint %s: tensor %s not found (want shape %v)", ck.sourceName, name, shape)
	}
	sf, err := ck.open(rel)
	if err != nil {
		return nil, err
	}
	info, ok := sf.Info(name)
	if !ok {
		return nil, fmt.Errorf("mla: %s: the index places tensor %s in this file, but it is not there", sf.Name(), name)
	}
	if !slices.Equal(info.Shape, shape) {
		return nil, fmt.Errorf("mla: %s: tensor %s has shape %v (%s), want %v for config %q", sf.Name(), name, info.Shape, info.DType, shape, ck.cfg.Name)
	}
	v, _, err := sf.ReadFloat32(name)
	if err != nil {
		return nil, err
	}
	if info.DType != F8E4M3 {
		return v, nil
	}
	if len(shape) != 2 {
		return nil, fmt.Errorf("mla: %s: FP8 tensor %s has shape %v; block scales need a matrix", sf.Name(), name, shape)
	}
	scaleName := name + "_scale_inv"
	scaleRel, ok := ck.where[scaleName]
	if !ok {
		return nil, fmt.Errorf("mla: %s: tensor %s is F8_E4M3 but its block scales %s are missing", sf.Name(), name, scaleName)
	}
	ssf, err := ck.open(scaleRel)
	if err != nil {
		return nil, err
	}
	if si, _ := ssf.Info(scaleName); si.DType == F8E4M3 {
		return nil, fmt.Errorf("mla: %s: scale tensor %s must be F32, BF16 or F16, not F8_E4M3", ssf.Name(), scaleName)
	}
	scale, scaleShape, err := ssf.ReadFloat32(scaleName)
	if err != nil {
		return nil, err
	}
	if err := dequantizeBlocks(v, shape[0], shape[1], scale, scaleShape, ck.blockRows, ck.blockCols); err != nil {
		return nil, fmt.Errorf("mla: %s: tensor %s: %v", ssf.Name(), scaleName, err)
	}
	return v, nil
}

// LoadLayer reads layer i's attention weights (model.layers.i.self_attn.*). All
// missing or mis-shaped tensors are reported together.
func (ck *Checkpoint) LoadLayer(i int) (*LayerWeights, error) {
	if ck.cfg.Layers > 0 && (i < 0 || i >= ck.cfg.Layers) {
		return nil, fmt.Errorf("mla: checkpoint %s: layer %d outside [0, %d)", ck.sourceName, i, ck.cfg.Layers)
	}
	return ck.loadLayer(i, nil)
}

func (ck *Checkpoint) loadLayer(i int, shared []float32) (*LayerWeights, error) {
	c := ck.cfg
	w := &LayerWeights{}
	var errs []error
	var kPart, vPart []float32
	for _, s := range layerTensorSpecs(c) {
		name := layerPrefix(i) + s.name
		if s.sharedDown && c.SharedKVDown {
			if shared != nil {
				*s.field(w) = shared
				continue
			}
			name = sharedDownName(c)
		}
		v, err := ck.Tensor(name, s.shape()...)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		switch s.part {
		case keyRows:
			kPart = v
		case valueRows:
			vPart = v
		default:
			*s.field(w) = v
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if kPart != nil {
		w.KVBProj = interleaveKV(c, kPart, vPart)
	}
	return w, nil
}

// LoadModel reads a whole decoder: embeddings, every block (dense SwiGLU FFN only),
// the final norm and the LM head.
func (ck *Checkpoint) LoadModel() (*ModelWeights, error) {
	c := ck.cfg
	if err := c.validateModel(); err != nil {
		return nil, err
	}
	w := &ModelWeights{Blocks: make([]BlockWeights, c.Layers)}
	var shared []float32
	var errs []error
	for i := range w.Blocks {
		if !ck.Has(blockPrefix(i)+"mlp.gate_proj.weight") && ck.Has(blockPrefix(i)+"mlp.experts.0.gate_proj.weight") {
			return nil, fmt.Errorf("mla: checkpoint %s: layer %d is a mixture-of-experts layer (mlp.experts.*); Model runs dense SwiGLU layers only, use LoadLayer for its attention", ck.sourceName, i)
		}
		a, err := ck.loadLayer(i, shared)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if c.SharedKVDown && shared == nil {
			shared = a.KVAProj
		}
		w.Blocks[i].Attn = a
	}
	for _, t := range w.tensors(c) {
		shape := []int{t.rows}
		if t.cols > 0 {
			shape = append(shape, t.cols)
		}
		v, err := ck.Tensor(t.name, shape...)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		*t.field = v
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return w, nil
}

// WriteCheckpoint writes a model directory: config.json and the model's tensors as
// dt, in one model.safetensors or, with shards > 1, split over that many files with a
// model.safetensors.index.json, as Hugging Face lays them out.
func WriteCheckpoint(dir string, c Config, w *ModelWeights, dt DType, shards int) error {
	js, err := MarshalHFConfig(c)
	if err != nil {
		return err
	}
	tensors, err := w.Tensors(c, dt)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("mla: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), js, 0o644); err != nil {
		return fmt.Errorf("mla: %w", err)
	}
	if shards <= 1 {
		return WriteSafetensors(filepath.Join(dir, "model.safetensors"), tensors, map[string]string{"format": "pt"})
	}
	weightMap := map[string]string{}
	for s := range shards {
		lo, hi := span(len(tensors), s, shards, 1)
		file := fmt.Sprintf("model-%05d-of-%05d.safetensors", s+1, shards)
		for _, t := range tensors[lo:hi] {
			weightMap[t.Name] = file
		}
		if err := WriteSafetensors(filepath.Join(dir, file), tensors[lo:hi], map[string]string{"format": "pt"}); err != nil {
			return err
		}
	}
	idx, err := json.MarshalIndent(map[string]any{"metadata": map[string]any{}, "weight_map": weightMap}, "", "  ")
	if err != nil {
		return fmt.Errorf("mla: %w", err)
	}
	return os.WriteFile(filepath.Join(dir, "model.safetensors.index.json"), idx, 0o644)
}
