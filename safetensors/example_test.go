package safetensors_test

import (
	"bytes"
	"fmt"

	"github.com/mlasimd/mlasimd/safetensors"
)

// Encode a bf16 tensor, then read it back widened to float32.
func Example() {
	w, err := safetensors.NewTensor("model.norm.weight", []int{2, 2}, []float32{1, 0.5, -2, 3}, safetensors.BF16)
	if err != nil {
		panic(err)
	}
	var buf bytes.Buffer
	if err := safetensors.Encode(&buf, []safetensors.Tensor{w}, map[string]string{"format": "pt"}); err != nil {
		panic(err)
	}

	// Read validates the whole header first; Open does the same for a file on disk.
	f, err := safetensors.Read(bytes.NewReader(buf.Bytes()), int64(buf.Len()), "in-memory")
	if err != nil {
		panic(err)
	}
	defer f.Close()
	for _, name := range f.Names() {
		info, _ := f.Info(name)
		v, shape, err := f.ReadFloat32(name)
		if err != nil {
			panic(err)
		}
		fmt.Println(name, info.DType, shape, v)
	}
	// Output:
	// model.norm.weight BF16 [2 2] [1 0.5 -2 3]
}
