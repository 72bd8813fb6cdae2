package tensor

import (
	"fmt"

	"github.com/pointpeft/pointpeft/internal/blas"
)

// Attention is multi-head scaled dot-product self-attention straight from a packed qkv
// projection: qkv is [B, T, 3C] laid out as timm's Attention makes it (q, k, v, each
// split into heads of C/heads channels), and the result is [B, T, C] with the heads
// concatenated, ready for the output projection. Each head's GEMMs read q, k and v in
// place through BLAS row strides, so no reshapes or permutes are materialised; only the
// attention probabilities [B, heads, T, T] are kept for the backward pass.
func Attention(qkv *Tensor, heads int, scale float32) *Tensor {
	if qkv.Rank() != 3 || heads < 1 || qkv.Dim(2)%(3*heads) != 0 {
		shapeErr("Attention", fmt.Sprintf("want [B, T, 3C] with C divisible by %d heads", heads), qkv)
	}
	b, t, c3 := qkv.Dim(0), qkv.Dim(1), qkv.Dim(2)
	c := c3 / 3
	d := c / heads
	probs := alloc(b * heads * t * t)
	out := alloc(b * t * c)
	batched(b*heads, t*t*d, func(i int) {
		bi, h := i/heads, i%heads
		base := bi * t * c3
		p := probs[i*t*t : (i+1)*t*t]
		blas.Sgemm(false, true, t, t, d, scale, qkv.Data[base+h*d:], c3, qkv.Data[base+c+h*d:], c3, 0, p, t)
		for r := 0; r < t; r++ {
			softmaxRow(p[r*t:(r+1)*t], p[r*t:(r+1)*t])
		}
		blas.Sgemm(false, false, t, d, t, 1, p, t, qkv.Data[base+2*c+h*d:], c3, 0, out[bi*t*c+h*d:], c)
	})
	res := result([]int{b, t, c}, out, qkv)
	if res.requiresGrad {
		res.backward = func() {
			g := qkv.grad()
			dO := res.Grad
			batched(b*heads, t*t*d, func(i int) {
				bi, h := i/heads, i%heads
				base := bi * t * c3
				p := probs[i*t*t : (i+1)*t*t]
				do := dO[bi*t*c+h*d:]
				ds := alloc(t * t)
				// dV = Pᵀ·dO
				blas.Sgemm(true, false, t, d, t, 1, p, t, do, c, 1, g[base+2*c+h*d:], c3)
				// dP = dO·Vᵀ, then the softmax backward dS = P∘(dP − rowsum(dP∘P)).
				blas.Sgemm(false, true, t, t, d, 1, do, c, qkv.Data[base+2*c+h*d:], c3, 0, ds, t)
				for r := 0; r < t; r++ {
					pr, dr := p[r*t:(r+1)*t], ds[r*t:(r+1)*t]
					var dot float32
					for j := range pr {
						dot += pr[j] * dr[j]
					}
					for j := range pr {
						dr[j] = pr[j] * (dr[j] - dot)
					}
				}
				// dQ = scale·dS·K, dK = scale·dSᵀ·Q
				blas.Sgemm(false, false, t, d, t, scale, ds, t, qkv.Data[base+c+h*d:], c3, 1, g[base+h*d:], c3)
				blas.Sgemm(true, false, t, d, t, scale, ds, t, qkv.Data[base+h*d:], c3, 1, g[base+c+h*d:], c3)
			})
		}
	}
	return res
}
