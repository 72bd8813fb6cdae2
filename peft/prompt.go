package peft

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/pointpeft/pointpeft/nn"
	"github.com/pointpeft/pointpeft/tensor"
)

// PointPriorPrompt is the Point-prior Prompt of one block: T learnable prompt tokens
// ("prompt_embeddings"), enhanced by the cache-prompt adapter ("cp_adapter") applied to
// the cache prompt that the parameter-free attention retrieved from the memory bank:
//
//	P_l = Dropout(E_l) + CPAdapter_l(cacheP)
//
// In prompt layers the tokens are inserted after the cls token and removed after the
// layer (VPT-deep style); other layers hold the parameters unused, as the authors' do.
type PointPriorPrompt struct {
	Embeddings *tensor.Tensor // [T, C]
	CPAdapter  *Adapter
	Dropout    float32
}

// NewPointPriorPrompt makes the prompt of block prefix (embeddings trunc-normal 0.02).
func NewPointPriorPrompt(prefix string, cfg Config, dim int, rng *rand.Rand) *PointPriorPrompt {
	return &PointPriorPrompt{
		Embeddings: tensor.NewParam(prefix+".prompt_embeddings", nn.TruncNormal(rng, cfg.NumTokens*dim, 0.02), cfg.NumTokens, dim),
		CPAdapter:  NewAdapter(prefix+".cp_adapter", dim, cfg.CPReduction, cfg.AdapterDropout, true, rng),
		Dropout:    cfg.PromptDropout,
	}
}

// Tokens returns the prompts of this layer for a batch [B, T, C]; cache is the cache
// prompt [B, T, C] (a constant) or nil when no memory bank is used.
func (p *PointPriorPrompt) Tokens(ctx *nn.Ctx, b int, cache *tensor.Tensor) *tensor.Tensor {
	t, c := p.Embeddings.Dim(0), p.Embeddings.Dim(1)
	e := tensor.Dropout(tensor.BroadcastTo(tensor.Reshape(p.Embeddings, 1, t, c), b, t, c), p.Dropout, ctx.Train, ctx.RNG)
	if cache == nil {
		return e
	}
	return tensor.Add(e, p.CPAdapter.Forward(ctx, cache))
}

// Params implements nn.Module.
func (p *PointPriorPrompt) Params() []*tensor.Tensor {
	return append([]*tensor.Tensor{p.Embeddings}, p.CPAdapter.Params()...)
}

// CachePrompt is the parameter-free attention of the Point-prior Prompt (spec §3.3):
// with q the prior feature of each sample [B, C] and the bank's unit-norm features,
//
//	s      = (q/‖q‖) · bankᵀ          cosine similarities [B, N]
//	sK, iK = topK(s)
//	w      = softmax(sK)              no temperature
//	a      = Σ_k w_k F_{iK_k}
//	cacheP = [q; a; F_{iK_1..K}]      [B, K+2, C], q not normalised
//
// It has no parameters and its inputs are constants, so it runs outside the graph.
func CachePrompt(q []float32, b int, bank *MemoryBank, k int) (*tensor.Tensor, error) {
	c := bank.Dim
	if len(q) != b*c {
		return nil, fmt.Errorf("cache prompt: %d query values for %d samples of width %d", len(q), b, c)
	}
	if k < 1 || k > bank.Len() {
		return nil, fmt.Errorf("cache prompt: K=%d retrieved features, but the memory bank holds %d", k, bank.Len())
	}
	qn := make([]float32, len(q))
	for i := 0; i < b; i++ {
		if norm, ok := unitInto(qn[i*c:(i+1)*c], q[i*c:(i+1)*c]); !ok {
			return nil, fmt.Errorf("cache prompt: prior feature of sample %d has norm %g", i, norm)
		}
	}
	var scores *tensor.Tensor
	tensor.NoGrad(func() {
		scores = tensor.MatMul(tensor.FromData(qn, b, c), tensor.FromData(bank.Features, bank.Len(), c), false, true)
	})
	vals, idx := tensor.TopK(scores, k)
	t := k + 2
	out := make([]float32, b*t*c)
	for i := 0; i < b; i++ {
		w := make([]float64, k)
		mx := float64(vals[i*k])
		var sum float64
		for j := 0; j < k; j++ {
			w[j] = math.Exp(float64(vals[i*k+j]) - mx)
			sum += w[j]
		}
		row := out[i*t*c : (i+1)*t*c]
		copy(row[:c], q[i*c:(i+1)*c])
		for j := 0; j < k; j++ {
			f := bank.Features[int(idx[i*k+j])*c : (int(idx[i*k+j])+1)*c]
			copy(row[(2+j)*c:(3+j)*c], f)
			wj := float32(w[j] / sum)
			for d, v := range f {
				row[c+d] += wj * v
			}
		}
	}
	return tensor.FromData(out, b, t, c), nil
}
