package nn

import (
	"math"
	"math/rand/v2"

	"github.com/pointpeft/pointpeft/tensor"
)

// Attention is timm's multi-head self-attention: qkv projection (no bias in Point-MAE),
// scaled dot-product attention per head, output projection.
type Attention struct {
	QKV, Proj *Linear
	Heads     int
	Scale     float32
}

// NewAttention makes an Attention of width dim with the given heads.
func NewAttention(name string, dim, heads int, qkvBias bool, rng *rand.Rand) *Attention {
	return &Attention{
		QKV:   NewLinear(join(name, "qkv"), dim, 3*dim, qkvBias, rng),
		Proj:  NewLinear(join(name, "proj"), dim, dim, true, rng),
		Heads: heads,
		Scale: float32(1 / math.Sqrt(float64(dim/heads))),
	}
}

// Params implements Module.
func (a *Attention) Params() []*tensor.Tensor { return Collect(a.QKV, a.Proj) }

// Mlp is timm's two-layer perceptron with GELU: fc1 → GELU → fc2.
type Mlp struct {
	FC1, FC2 *Linear
}

// NewMlp makes an Mlp dim → hidden → dim.
func NewMlp(name string, dim, hidden int, rng *rand.Rand) *Mlp {
	return &Mlp{
		FC1: NewLinear(join(name, "fc1"), dim, hidden, true, rng),
		FC2: NewLinear(join(name, "fc2"), hidden, dim, true, rng),
	}
}

// Params implements Module.
func (m *Mlp) Params() []*tensor.Tensor { return Collect(m.FC1, m.FC2) }

// Block is the pre-norm ViT block of Point-MAE's encoder:
// x = x + DropPath(Attn(LN1(x))); x = x + DropPath(MLP(LN2(x))).
type Block struct {
	Norm1    *LayerNorm
	Attn     *Attention
	Norm2    *LayerNorm
	Mlp      *Mlp
	DropPath float32
}

// NewBlock makes a Block with timm's names (norm1, attn.qkv, attn.proj, norm2, mlp.fc1,
// mlp.fc2) under name.
func NewBlock(name string, dim, heads, hidden int, qkvBias bool, dropPath float32, rng *rand.Rand) *Block {
	return &Block{
		Norm1:    NewLayerNorm(join(name, "norm1"), dim),
		Attn:     NewAttention(join(name, "attn"), dim, heads, qkvBias, rng),
		Norm2:    NewLayerNorm(join(name, "norm2"), dim),
		Mlp:      NewMlp(join(name, "mlp"), dim, hidden, rng),
		DropPath: dropPath,
	}
}

// Forward applies the block to x [B, T, dim]. It is a tensor.Segment: the activations
// that its backward pass does not read are dropped when it returns.
func (b *Block) Forward(ctx *Ctx, x *tensor.Tensor) *tensor.Tensor {
	return tensor.Segment(func() *tensor.Tensor {
		x := tensor.Add(x, tensor.DropPath(b.AttnBranch(ctx, x), b.DropPath, ctx.Train, ctx.RNG))
		return tensor.Add(x, tensor.DropPath(b.MlpBranch(ctx, x), b.DropPath, ctx.Train, ctx.RNG))
	})
}

// AttnBranch is Attn(Norm1(x)), the block's attention branch before drop path. When
// ctx recomputes it (RecomputeAll) only x is kept for the backward pass: the
// normalisation, qkv projection and attention run again there (the output projection
// reads nothing back when frozen).
func (b *Block) AttnBranch(ctx *Ctx, x *tensor.Tensor) *tensor.Tensor {
	return b.Attn.Proj.Forward(RecomputeIf(ctx.RecomputeAttn(), x, func(x *tensor.Tensor) *tensor.Tensor {
		return tensor.Attention(b.Attn.QKV.Forward(b.Norm1.Forward(x)), b.Attn.Heads, b.Attn.Scale)
	}))
}

// MlpBranch is Mlp(Norm2(x)), the block's MLP branch before drop path; when ctx
// recomputes the hidden layer (RecomputeMLP, RecomputeAll) the normalisation, fc1 and
// GELU run again in the backward pass.
func (b *Block) MlpBranch(ctx *Ctx, x *tensor.Tensor) *tensor.Tensor {
	return b.Mlp.FC2.Forward(RecomputeIf(ctx.RecomputeHidden(), x, func(x *tensor.Tensor) *tensor.Tensor {
		return tensor.GELU(b.Mlp.FC1.Forward(b.Norm2.Forward(x)))
	}))
}

// RecomputeIf is f(x), under tensor.Recompute when on: only x is kept for the backward
// pass, and f runs again there. Blocks pass ctx.RecomputeAttn or ctx.RecomputeHidden.
func RecomputeIf(on bool, x *tensor.Tensor, f func(*tensor.Tensor) *tensor.Tensor) *tensor.Tensor {
	if on {
		return tensor.Recompute(x, f)
	}
	return f(x)
}

// Params implements Module.
func (b *Block) Params() []*tensor.Tensor { return Collect(b.Norm1, b.Attn, b.Norm2, b.Mlp) }
