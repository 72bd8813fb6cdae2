package optim

import (
	"math"

	"github.com/pointpeft/pointpeft/tensor"
)

// ClipGradNorm is torch.nn.utils.clip_grad_norm_ with norm_type 2: it computes the L2
// norm of all gradients together (tensors whose Grad is nil, such as frozen parameters,
// are ignored) and, when the clip coefficient maxNorm/(total+1e-6) is below 1,
// multiplies every gradient by it. It returns the norm before clipping. A NaN or Inf
// norm is returned as is, so the caller can stop a diverged run; with a NaN norm the
// gradients are left untouched.
//
// The sum of squares is accumulated in float64: with ~10^6 gradient entries a float32
// sum would lose the digits that decide whether clipping happens at all.
func ClipGradNorm(params []*tensor.Tensor, maxNorm float64) float64 {
	var sum float64
	for _, p := range params {
		for _, g := range p.Grad {
			sum += float64(g) * float64(g)
		}
	}
	total := math.Sqrt(sum)
	// torch multiplies by clamp(coef, max=1); multiplying by exactly 1 changes
	// nothing, so only coef < 1 needs the pass over the gradients.
	coef := maxNorm / (total + 1e-6)
	if coef < 1 {
		c := float32(coef)
		for _, p := range params {
			for i := range p.Grad {
				p.Grad[i] *= c
			}
		}
	}
	return total
}
