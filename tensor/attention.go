package tensor

import (
	"fmt"

	"github.com/pointpeft/pointpeft/internal/blas"
	"github.com/pointpeft/pointpeft/internal/vmath"
)

// Attention is multi-head scaled dot-product self-attention straight from a packed qkv
// projection: qkv is [B, T, 3C] laid out as timm's Attention makes it (q, k, v, each
// split into heads of C/heads channels), and the result is [B, T, C] with the heads
// concatenated, ready for the output projection. Each head's GEMMs read q, k and v in
// place through BLAS row strides, so no reshapes or permutes are materialised. The
// backward pass keeps only qkv and recomputes each head's probabilities from it: that
// costs one small GEMM per head (about 2% of a Transformer block) and saves the
// [B, heads, T, T] probabilities, which at T=139 outweigh qkv itself.
func Attention(qkv *Tensor, heads int, scale float32) *Tensor {
	if qkv.Rank() != 3 || heads < 1 || qkv.Dim(2)%(3*heads) != 0 {
		shapeErr("Attention", fmt.Sprintf("want [B, T, 3C] with C divisible by %d heads", heads), qkv)
	}
	b, t, c3 := qkv.Dim(0), qkv.Dim(1), qkv.Dim(2)
	c := c3 / 3
	d := c / heads
	if d <= smallHeadDim && t <= smallTokens {
		return attentionSmall(qkv, heads, scale)
	}
	// probs computes head i's attention probabilities into p [T, T].
	probs := func(i int, p []float32) {
		base := i / heads * t * c3
		h := i % heads
		blas.Sgemm(false, true, t, t, d, scale, qkv.Data[base+h*d:], c3, qkv.Data[base+c+h*d:], c3, 0, p, t)
		vmath.SoftmaxRows(p, p, t)
	}
	out := allocFull(b * t * c)
	batchedScratch(b*heads, t*t*d, t*t, func(i int, p []float32) {
		bi, h := i/heads, i%heads
		probs(i, p)
		blas.Sgemm(false, false, t, d, t, 1, p, t, qkv.Data[bi*t*c3+2*c+h*d:], c3, 0, out[bi*t*c+h*d:], c)
	})
	res := resultSaving(saves(qkv), []int{b, t, c}, out, qkv)
	if res.requiresGrad {
		res.backward = func() {
			g := qkv.grad()
			dO := res.Grad
			batchedScratch(b*heads, t*t*d, 2*t*t, func(i int, scratch []float32) {
				bi, h := i/heads, i%heads
				base := bi * t * c3
				p, ds := scratch[:t*t], scratch[t*t:]
				probs(i, p)
				do := dO[bi*t*c+h*d:]
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

// Attention takes its fused kernel (vmath.AttentionSmall) when each head's product is a
// few thousand multiply-adds: heads of at most smallHeadDim channels over at most
// smallTokens tokens, where a BLAS call's overhead would outweigh its arithmetic.
const smallHeadDim, smallTokens = 8, 64

// attentionSmall is Attention by whole groups through vmath's fused kernels, the groups
// split over goroutines.
func attentionSmall(qkv *Tensor, heads int, scale float32) *Tensor {
	b, t, c3 := qkv.Dim(0), qkv.Dim(1), qkv.Dim(2)
	c := c3 / 3
	d := c / heads
	grain := grainElems/(heads*t*t*d+1) + 1
	out := allocFull(b * t * c)
	parallelFor(b, grain, func(lo, hi int) {
		vmath.AttentionSmall(out[lo*t*c:hi*t*c], qkv.Data[lo*t*c3:hi*t*c3], hi-lo, t, heads, d, scale, make([]float32, vmath.AttentionSmallScratch(t, d)))
	})
	res := resultSaving(saves(qkv), []int{b, t, c}, out, qkv)
	if res.requiresGrad {
		res.backward = func() {
			g := qkv.grad()
			parallelFor(b, grain, func(lo, hi int) {
				vmath.AttentionSmallGrad(g[lo*t*c3:hi*t*c3], res.Grad[lo*t*c:hi*t*c], qkv.Data[lo*t*c3:hi*t*c3], hi-lo, t, heads, d, scale, make([]float32, vmath.AttentionSmallScratch(t, d)))
			})
		}
	}
	return res
}
