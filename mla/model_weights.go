package mla

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/mlasimd/mlasimd/internal/hugepage"
	"github.com/mlasimd/mlasimd/safetensors"
)

// BlockWeights is one decoder block: pre-norm, MLA, residual, pre-norm, SwiGLU FFN,
// residual (the dense layers of DeepSeek checkpoints; MoE layers are not supported).
type BlockWeights struct {
	InputNorm    []float32 // [D] input_layernorm
	Attn         *LayerWeights
	PostAttnNorm []float32 // [D] post_attention_layernorm
	Gate, Up     Matrix    // [I, D] mlp.gate_proj, mlp.up_proj
	Down         Matrix    // [D, I] mlp.down_proj
	// MoE is the FFN of a mixture-of-experts block (Config.IsMoELayer), which then
	// has no Gate, Up and Down.
	MoE *MoEWeights
}

// ModelWeights is a whole decoder. With SharedKVDown every block's Attn.KVAProj is
// the same slice. Like LayerWeights it is only read, and may back any number of
// Models on any number of goroutines.
type ModelWeights struct {
	Embed     Matrix // [V, D] model.embed_tokens
	Blocks    []BlockWeights
	FinalNorm []float32 // [D] model.norm
	LMHead    Matrix    // [V, D] lm_head
}

// modelTensor is one non-attention tensor of a model.
type modelTensor struct {
	name       string
	rows, cols int
	vec        *[]float32 // a norm gain (cols == 0)
	mat        *Matrix    // a linear map or the embedding table
	init       initKind
	gain       float64
	f32        bool // held as float32 whatever the weight format (a MoE gate)
}

func blockPrefix(i int) string { return "model.layers." + strconv.Itoa(i) + "." }

// sharedDownName is the checkpoint name of a model-wide KV down-projection.
func sharedDownName(c Config) string {
	for _, s := range layerTensorSpecs(c) {
		if s.sharedDown {
			return "model." + s.name
		}
	}
	return ""
}

// tensors lists w's non-attention tensors for c (fields must be addressable).
func (w *ModelWeights) tensors(c Config) []modelTensor {
	D, V, I := c.Hidden, c.Vocab, c.Intermediate
	t := []modelTensor{{"model.embed_tokens.weight", V, D, nil, &w.Embed, initXavier, 1, false}}
	for i := range w.Blocks {
		b, p := &w.Blocks[i], blockPrefix(i)
		t = append(t,
			modelTensor{p + "input_layernorm.weight", D, 0, &b.InputNorm, nil, initOnes, 0, false},
			modelTensor{p + "post_attention_layernorm.weight", D, 0, &b.PostAttnNorm, nil, initOnes, 0, false})
		if c.IsMoELayer(i) {
			moe := b.MoE
			if moe == nil {
				moe = &MoEWeights{}
			}
			t = append(t, moeTensors(c, p, moe)...)
			continue
		}
		t = append(t,
			modelTensor{p + "mlp.gate_proj.weight", I, D, nil, &b.Gate, initXavier, 1, false},
			modelTensor{p + "mlp.up_proj.weight", I, D, nil, &b.Up, initXavier, 1, false},
			modelTensor{p + "mlp.down_proj.weight", D, I, nil, &b.Down, initXavier, 1 / 1.4142135623730951, false})
	}
	return append(t,
		modelTensor{"model.norm.weight", D, 0, &w.FinalNorm, nil, initOnes, 0, false},
		modelTensor{"lm_head.weight", V, D, nil, &w.LMHead, initXavier, 1, false})
}

// RandomModelWeights returns deterministic random weights for a whole decoder
// (Xavier-uniform linears, unit norm gains), as RandomLayerWeights does per layer.
func RandomModelWeights(c Config, seed uint64) (*ModelWeights, error) {
	if err := c.validateModel(); err != nil {
		return nil, err
	}
	if err := checkModelSizes(c); err != nil {
		return nil, err
	}
	w := &ModelWeights{Blocks: make([]BlockWeights, c.Layers)}
	w.prepareMoE(c)
	var shared Matrix
	if c.SharedKVDown {
		buf := hugepage.Make[float32](c.CacheRowWidth() * c.Hidden)
		runFills(seed, []fillJob{{dst: buf, name: sharedDownName(c),
			spec: tensorSpec{rows: c.CacheRowWidth(), cols: c.Hidden, init: initXavier, gain: 1}}})
		shared = NewMatrix(c.CacheRowWidth(), c.Hidden, buf)
	}
	for i := range w.Blocks {
		w.Blocks[i].Attn = randomLayer(c, seed, i, shared)
	}
	var fills []fillJob
	for _, t := range w.tensors(c) {
		buf := hugepage.Make[float32](t.rows * max(t.cols, 1))
		if t.mat != nil {
			*t.mat = NewMatrix(t.rows, t.cols, buf)
		} else {
			*t.vec = buf
		}
		fills = append(fills, fillJob{dst: buf, name: t.name, spec: tensorSpec{rows: t.rows, cols: t.cols, init: t.init, gain: t.gain}})
	}
	runFills(seed, fills)
	return w, nil
}

// checkModelSizes adds to checkWeightSizes the blocks, whose number decides an
// allocation too.
func checkModelSizes(c Config) error {
	if err := checkWeightSizes(c); err != nil {
		return err
	}
	what := "config " + strconv.Quote(c.Name) + ": weights of the layers' FFNs"
	if c.MoE == nil {
		_, err := allocSize(what, c.Layers, 3, c.Intermediate, c.Hidden)
		return err
	}
	n, err := c.ffnParams()
	if err != nil {
		return err
	}
	_, err = allocSize(what, n)
	return err
}

// Check returns an error naming every tensor whose length does not fit c.
func (w *ModelWeights) Check(c Config) (err error) {
	defer func() { err = shapeErr(err) }()
	if w == nil {
		return errors.New("mla: nil ModelWeights")
	}
	if err := c.validateModel(); err != nil {
		return err
	}
	if err := checkModelSizes(c); err != nil {
		return err
	}
	if len(w.Blocks) != c.Layers {
		return fmt.Errorf("mla: model weights have %d blocks, config %q has %d layers", len(w.Blocks), c.Name, c.Layers)
	}
	errs := []error{w.checkMoEBlocks(c)}
	for _, t := range w.tensors(c) {
		if t.mat != nil {
			if err := t.mat.checkShape("model weight "+t.name, t.rows, t.cols); err != nil {
				errs = append(errs, err)
			} else if t.f32 && t.mat.Format() != FormatF32 {
				errs = append(errs, fmt.Errorf("mla: model weight %s is %v, want float32", t.name, t.mat.Format()))
			}
		} else if len(*t.vec) != t.rows {
			errs = append(errs, fmt.Errorf("mla: model weight %s has %d values, want %d", t.name, len(*t.vec), t.rows))
		}
	}
	for i := range w.Blocks {
		if err := w.Blocks[i].Attn.Check(c); err != nil {
			errs = append(errs, fmt.Errorf("layer %d: %w", i, err))
		}
	}
	return errors.Join(errs...)
}

// Tensors returns the layer's weights under their checkpoint names (prefix of layer
// i), encoded as dt (F32, BF16 or F16), ready for safetensors.Write.
func (w *LayerWeights) Tensors(c Config, layer int, dt DType) ([]safetensors.Tensor, error) {
	if err := w.Check(c); err != nil {
		return nil, err
	}
	var out []safetensors.Tensor
	for _, s := range layerTensorSpecs(c) {
		var v []float32
		switch {
		case s.part != wholeTensor:
			// FP8's scale bands need not line up with the heads: split its values.
			kvb := w.KVBProj
			if kvb.Format() == FormatFP8 {
				kvb = NewMatrix(kvb.rows, kvb.cols, kvb.Widen())
			}
			m, err := splitKV(c, kvb, s.part)
			if err != nil {
				return nil, err
			}
			v = m.values()
		case s.mat != nil:
			v = s.mat(w).values()
		default:
			v = *s.vec(w)
		}
		t, err := safetensors.NewTensor(layerPrefix(layer)+s.name, s.shape(), v, dt)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// Tensors returns all of the model's weights under their checkpoint names, encoded as
// dt; a shared KV down-projection is written once, as model.<name>.
func (w *ModelWeights) Tensors(c Config, dt DType) ([]safetensors.Tensor, error) {
	if err := w.Check(c); err != nil {
		return nil, err
	}
	var out []safetensors.Tensor
	for i := range w.Blocks {
		ts, err := w.Blocks[i].Attn.Tensors(c, i, dt)
		if err != nil {
			return nil, err
		}
		for _, t := range ts {
			if c.SharedKVDown && t.Name == layerPrefix(i)+sharedDownName(c)[len("model."):] {
				if i == 0 {
					t.Name = sharedDownName(c)
					out = append(out, t)
				}
				continue
			}
			out = append(out, t)
		}
	}
	for _, t := range w.tensors(c) {
		shape := []int{t.rows}
		if t.cols > 0 {
			shape = append(shape, t.cols)
		}
		var v []float32
		if t.mat != nil {
			v = t.mat.values()
		} else {
			v = *t.vec
		}
		enc, err := safetensors.NewTensor(t.name, shape, v, dt)
		if err != nil {
			return nil, err
		}
		out = append(out, enc)
	}
	return out, nil
}

// Convert returns the weights with every matrix (the attention's, the FFNs', the
// embedding table and the LM head) in format f; matrices already in f are shared, and
// a shared KV down-projection stays shared.
func (w *ModelWeights) Convert(f WeightFormat) (*ModelWeights, error) {
	if w == nil {
		return nil, errors.New("mla: nil ModelWeights")
	}
	out := &ModelWeights{FinalNorm: w.FinalNorm, Blocks: make([]BlockWeights, len(w.Blocks))}
	var err error
	if out.Embed, err = w.Embed.Convert(f); err != nil {
		return nil, fmt.Errorf("model.embed_tokens: %w", err)
	}
	if out.LMHead, err = w.LMHead.Convert(f); err != nil {
		return nil, fmt.Errorf("lm_head: %w", err)
	}
	var sharedIn, sharedOut Matrix
	for i, b := range w.Blocks {
		o := &out.Blocks[i]
		o.InputNorm, o.PostAttnNorm = b.InputNorm, b.PostAttnNorm
		if o.MoE, err = b.MoE.convert(f); err != nil {
			return nil, fmt.Errorf("layer %d MoE: %w", i, err)
		}
		for _, m := range []struct{ dst, src *Matrix }{{&o.Gate, &b.Gate}, {&o.Up, &b.Up}, {&o.Down, &b.Down}} {
			if b.MoE != nil && m.src.rows == 0 {
				continue
			}
			if *m.dst, err = m.src.Convert(f); err != nil {
				return nil, fmt.Errorf("layer %d FFN: %w", i, err)
			}
		}
		if b.Attn == nil {
			continue
		}
		if o.Attn, err = b.Attn.Convert(f); err != nil {
			return nil, fmt.Errorf("layer %d attention: %w", i, err)
		}
		// Keep one copy of a model-wide KV down-projection.
		if i == 0 {
			sharedIn, sharedOut = b.Attn.KVAProj, o.Attn.KVAProj
		} else if sameStorage(b.Attn.KVAProj, sharedIn) {
			o.Attn.KVAProj = sharedOut
		}
	}
	return out, nil
}

// Bytes is the memory the model's weights hold, a shared KV down-projection once.
func (w *ModelWeights) Bytes() int64 {
	n := w.Embed.Bytes() + w.LMHead.Bytes() + 4*int64(len(w.FinalNorm))
	for i, b := range w.Blocks {
		n += b.Gate.Bytes() + b.Up.Bytes() + b.Down.Bytes() + 4*int64(len(b.InputNorm)+len(b.PostAttnNorm)) + b.MoE.Bytes()
		if b.Attn != nil {
			n += b.Attn.Bytes()
			if i > 0 && w.Blocks[0].Attn != nil && sameStorage(b.Attn.KVAProj, w.Blocks[0].Attn.KVAProj) {
				n -= b.Attn.KVAProj.Bytes()
			}
		}
	}
	return n
}
