package kernels

// RoPE rotates the interleaved pairs (x[2i], x[2i+1]) by the angle whose cosine and
// sine are cos[i] and sin[i], in place:
//
//	x[2i]   = x[2i]*cos[i] - x[2i+1]*sin[i]
//	x[2i+1] = x[2i]*sin[i] + x[2i+1]*cos[i]
//
// This is the layout DeepSeek's checkpoints were trained with (adjacent pairs).
// len(x) must be 2*len(cos) and len(cos) == len(sin).
func RoPE(x, cos, sin []float32) {
	CheckRoPE("RoPE", len(x), len(cos), len(sin))
	sin = sin[:len(cos)]
	for i, c := range cos {
		s := sin[i]
		a, b := x[2*i], x[2*i+1]
		x[2*i] = float32(a*c) - float32(b*s)
		x[2*i+1] = float32(a*s) + float32(b*c)
	}
}

// RoPEHalf rotates the half-split pairs (x[i], x[i+h]) with h = len(x)/2, in place:
//
//	x[i]   = x[i]*cos[i] - x[i+h]*sin[i]
//	x[i+h] = x[i]*sin[i] + x[i+h]*cos[i]
//
// This is the NeoX "rotate_half" layout that Hugging Face's DeepSeek-V3 code uses
// after permuting the rope dimensions. len(x) must be 2*len(cos).
func RoPEHalf(x, cos, sin []float32) {
	CheckRoPE("RoPEHalf", len(x), len(cos), len(sin))
	h := len(cos)
	lo, hi := x[:h], x[h:2*h]
	sin = sin[:h]
	for i, c := range cos {
		s := sin[i]
		a, b := lo[i], hi[i]
		lo[i] = float32(a*c) - float32(b*s)
		hi[i] = float32(a*s) + float32(b*c)
	}
}
