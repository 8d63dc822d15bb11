package mla

import (
	"fmt"

	"github.com/mlasimd/mlasimd/safetensors"
)

// ResidentBytes is the memory LoadModel's weights will hold in the checkpoint's
// weight format (WithWeightFormat), computed from the tensors' headers without
// reading any weights, so that a caller can refuse a model that does not fit before
// loading it (ModelWeights.Bytes after the load equals it). Each tensor's shape is
// checked as LoadModel checks it.
func (ck *Checkpoint) ResidentBytes() (int64, error) {
	if err := ck.usable(); err != nil {
		return 0, err
	}
	c := ck.cfg
	if err := c.validateModel(); err != nil {
		return 0, err
	}
	var total int64
	ok := true
	add := func(n int64) {
		if n > 0 && total > (1<<63-1)-n {
			ok = false
		}
		total += n
	}
	var errs loadErrors
	for i := range c.Layers {
		for _, s := range layerTensorSpecs(c) {
			name := layerPrefix(i) + s.name
			if s.sharedDown && c.SharedKVDown {
				if i > 0 {
					continue
				}
				name = sharedDownName(c)
			}
			n, err := ck.heldBytes(name, s.rows, s.cols, false)
			if err != nil {
				errs.add(err)
			}
			add(n)
		}
	}
	w := &ModelWeights{Blocks: make([]BlockWeights, c.Layers)}
	w.prepareMoE(c)
	for _, t := range w.tensors(c) {
		n, err := ck.heldBytes(t.name, t.rows, t.cols, t.f32)
		if err != nil {
			errs.add(err)
		}
		add(n)
	}
	if err := errs.err(); err != nil {
		return 0, err
	}
	if !ok {
		return 0, fmt.Errorf("mla: checkpoint %s: the model's size overflows an int64", ck.sourceName)
	}
	return total, nil
}

// heldBytes is the memory tensor name (rows x cols, a vector when cols is 0) takes
// once loaded, as Checkpoint.Matrix or Tensor will hold it.
func (ck *Checkpoint) heldBytes(name string, rows, cols int, f32 bool) (int64, error) {
	shape := []int{rows}
	if cols > 0 {
		shape = append(shape, cols)
	}
	_, info, err := ck.locate(name, shape)
	if err != nil {
		return 0, err
	}
	n := int64(rows) * int64(max(cols, 1)) // locate bounded it
	if cols == 0 || f32 {
		return 4 * n, nil
	}
	f := ck.opts.format
	switch {
	case info.DType == safetensors.F8E4M3 && (f == FormatKeep || f == FormatFP8):
		return n + 4*int64(ceilDiv(rows, ck.blockRows))*int64(ceilDiv(cols, ck.blockCols)), nil
	case f == FormatKeep:
		if _, half := halfFormat(info.DType); half {
			return 2 * n, nil
		}
		f = FormatF32
	case f == FormatFP8:
		return 0, fmt.Errorf("mla: checkpoint %s: tensor %s is %s; only F8_E4M3 tensors are held as fp8", ck.sourceName, name, info.DType)
	}
	rb, ok := f.rowBytes(cols)
	if !ok {
		return 0, fmt.Errorf("mla: checkpoint %s: tensor %s: %d columns cannot be held as %v", ck.sourceName, name, cols, f)
	}
	return int64(rb) * int64(rows), nil
}
