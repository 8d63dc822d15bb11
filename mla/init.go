package mla

import (
	"hash/fnv"
	"math"
	"math/rand/v2"
	"runtime"
	"strconv"
	"sync"

	"github.com/mlasimd/mlasimd/internal/hugepage"
)

// initChunk is the number of values one random stream fills. Streams are seeded by
// (seed, tensor name, chunk index), so the values do not depend on how many
// goroutines fill them.
const initChunk = 1 << 20

// RandomLayerWeights returns deterministic random weights for one layer, initialized
// as the seed does: Xavier-uniform linears (o_proj with gain 1/sqrt(2)), norm gains 1,
// biases 0. The same seed and Config always give the same values.
func RandomLayerWeights(c Config, seed uint64) (*LayerWeights, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if err := checkWeightSizes(c); err != nil {
		return nil, err
	}
	return randomLayer(c, seed, 0, Matrix{}), nil
}

// randomLayer fills a layer in float32; shared, when it has rows, is the model-wide
// KV down-projection. The caller has checked c's sizes with checkWeightSizes.
func randomLayer(c Config, seed uint64, layer int, shared Matrix) *LayerWeights {
	w := &LayerWeights{}
	var fills []fillJob
	var kPart, vPart Matrix
	for _, s := range layerTensorSpecs(c) {
		if s.sharedDown && shared.rows > 0 {
			*s.mat(w) = shared
			continue
		}
		buf := hugepage.Make[float32](s.numel())
		switch {
		case s.part == keyRows:
			kPart = NewMatrix(s.rows, s.cols, buf)
		case s.part == valueRows:
			vPart = NewMatrix(s.rows, s.cols, buf)
		case s.mat != nil:
			*s.mat(w) = NewMatrix(s.rows, s.cols, buf)
		default:
			*s.vec(w) = buf
		}
		fills = append(fills, fillJob{dst: buf, name: layerPrefix(layer) + s.name, spec: s})
	}
	runFills(seed, fills)
	if kPart.rows > 0 {
		// Both parts are F32 with d_c columns, so stacking cannot fail.
		w.KVBProj, _ = interleaveKV(c, kPart, vPart)
	}
	return w
}

type fillJob struct {
	dst  []float32
	name string
	spec tensorSpec
}

// runFills fills every tensor, chunk by chunk, on up to GOMAXPROCS goroutines.
func runFills(seed uint64, fills []fillJob) {
	type chunk struct {
		job   *fillJob
		index int
	}
	var chunks []chunk
	for i := range fills {
		for k := 0; k*initChunk < len(fills[i].dst); k++ {
			chunks = append(chunks, chunk{&fills[i], k})
		}
	}
	next := make(chan chunk)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), max(len(chunks), 1)) {
		wg.Go(func() {
			for ch := range next {
				lo := ch.index * initChunk
				hi := min(lo+initChunk, len(ch.job.dst))
				fillTensor(ch.job.dst[lo:hi], ch.job.spec, seed, ch.job.name, ch.index)
			}
		})
	}
	for _, ch := range chunks {
		next <- ch
	}
	close(next)
	wg.Wait()
}

func fillTensor(dst []float32, s tensorSpec, seed uint64, name string, chunk int) {
	switch s.init {
	case initOnes:
		for i := range dst {
			dst[i] = 1
		}
		return
	case initZeros:
		clear(dst)
		return
	}
	// Xavier uniform: U(-a, a) with a = gain·sqrt(6/(fan_in+fan_out)).
	a := float32(s.gain * math.Sqrt(6/float64(s.rows+s.cols)))
	h := fnv.New64a()
	h.Write([]byte(name))
	r := rand.New(rand.NewPCG(seed, h.Sum64()^uint64(chunk)*0x9e3779b97f4a7c15))
	for i := range dst {
		dst[i] = (2*r.Float32() - 1) * a
	}
}

// layerPrefix is the Hugging Face name prefix of layer i's attention tensors.
func layerPrefix(i int) string { return "model.layers." + strconv.Itoa(i) + ".self_attn." }
