package peft

import (
	"math/rand/v2"

	"github.com/pointpeft/pointpeft/nn"
	"github.com/pointpeft/pointpeft/tensor"
)

// Block is a backbone block with Point-PEFT's modules around it (spec §4.2):
//
//	z = [cls; P_l; X]                     prompt layers only (P_l: Point-prior Prompt)
//	z = z + Attn(LN1(z))                  no drop path on this branch, as the authors
//	f = DropPath(MLP(LN2(z)))
//	z = z + f + AdCof·FFNAdapter(f)
//	X = X + ProCof·Interp(GA core)        Geometry-aware Adapter
//	z = Adapter1([cls; P'; X])            then the prompts are dropped again
type Block struct {
	Base   *nn.Block // norm1, attn, norm2, mlp of the backbone (frozen but for biases)
	Prompt *PointPriorPrompt
	GA     *GeometryAdapter
	// ADGate is the authors' ad_gate, zeros(1): unused by the Point-MAE model but kept
	// so that state dicts and parameter counts match theirs.
	ADGate *tensor.Tensor
}

func newBlock(prefix string, base *nn.Block, cfg Config, dim int, local *LocalAttention, rng *rand.Rand) *Block {
	return &Block{
		Base:   base,
		Prompt: NewPointPriorPrompt(prefix, cfg, dim, rng),
		GA:     newGeometryAdapter(prefix, cfg, dim, local, rng),
		ADGate: tensor.NewParam(prefix+".ad_gate", make([]float32, 1), 1),
	}
}

// forward runs the block on x [B, 1+G, C] (positions already added); cache is the cache
// prompt or nil, geo the neighbourhoods for this layer kind. It is a tensor.Segment: what
// the backward pass does not read is dropped when it returns.
func (blk *Block) forward(ctx *nn.Ctx, x *tensor.Tensor, promptLayer bool, geo *Geometry, cache *tensor.Tensor) *tensor.Tensor {
	return tensor.Segment(func() *tensor.Tensor { return blk.forwardAll(ctx, x, promptLayer, geo, cache) })
}

func (blk *Block) forwardAll(ctx *nn.Ctx, x *tensor.Tensor, promptLayer bool, geo *Geometry, cache *tensor.Tensor) *tensor.Tensor {
	b, n := x.Dim(0), x.Dim(1)
	t := 0
	z := x
	if promptLayer {
		t = blk.Prompt.Embeddings.Dim(0)
		z = tensor.Concat(1, tensor.Slice(x, 1, 0, 1), blk.Prompt.Tokens(ctx, b, cache), tensor.Slice(x, 1, 1, n))
	}
	base := blk.Base
	z = tensor.Add(z, base.AttnBranch(ctx, z))
	f := tensor.DropPath(base.MlpBranch(ctx, z), base.DropPath, ctx.Train, ctx.RNG)
	z = tensor.Add(tensor.Add(z, f), tensor.Scale(blk.GA.FFN.Forward(ctx, f), blk.GA.AdCof))

	cls := tensor.Slice(z, 1, 0, 1)
	tokens := tensor.Slice(z, 1, 1+t, n+t)
	table := tokens
	var prompts *tensor.Tensor
	if promptLayer {
		prompts = tensor.Slice(z, 1, 1, 1+t)
		table = tensor.Concat(1, prompts, tokens)
	}
	tokens = blk.GA.core(ctx, table, tokens, geo, base.DropPath)
	if !promptLayer {
		return blk.GA.Post.Forward(ctx, tensor.Concat(1, cls, tokens))
	}
	z = blk.GA.Post.Forward(ctx, tensor.Concat(1, cls, prompts, tokens))
	return tensor.Concat(1, tensor.Slice(z, 1, 0, 1), tensor.Slice(z, 1, 1+t, n+t))
}

// Params implements nn.Module in the authors' registration order.
func (blk *Block) Params() []*tensor.Tensor {
	ps := append(blk.Base.Norm1.Params(), blk.Prompt.CPAdapter.Params()...)
	ps = append(ps, blk.Base.Norm2.Params()...)
	ps = append(ps, blk.Base.Mlp.Params()...)
	ps = append(ps, blk.GA.FFN.Params()...)
	ps = append(ps, blk.GA.Post.Params()...)
	ps = append(ps, blk.Base.Attn.Params()...)
	ps = append(ps, blk.ADGate)
	ps = append(ps, blk.GA.OutTransform.Params()...)
	return append(ps, blk.Prompt.Embeddings)
}
