package peft

import (
	"math"
	"math/rand/v2"

	"github.com/pointpeft/pointpeft/nn"
	"github.com/pointpeft/pointpeft/tensor"
)

// Adapter is the authors' AdapterSuper bottleneck: ln2(Dropout(QuickGELU(ln1 x))), plus
// x itself when Residual (AdapterSuper) or not (AdapterSuper_f, the FFN adapter).
type Adapter struct {
	LN1, LN2 *nn.Linear
	Dropout  float32
	Residual bool
}

// NewAdapter makes an Adapter dim → hidden → dim with the authors' init: xavier-uniform
// weights and N(0, 1e-6²) biases.
func NewAdapter(name string, dim, hidden int, dropout float32, residual bool, rng *rand.Rand) *Adapter {
	lin := func(n string, in, out int) *nn.Linear {
		bias := make([]float32, out)
		for i := range bias {
			bias[i] = float32(rng.NormFloat64() * 1e-6)
		}
		return &nn.Linear{
			Weight: tensor.NewParam(name+"."+n+".weight", nn.XavierUniform(rng, out, in), out, in),
			Bias:   tensor.NewParam(name+"."+n+".bias", bias, out),
		}
	}
	return &Adapter{LN1: lin("ln1", dim, hidden), LN2: lin("ln2", hidden, dim), Dropout: dropout, Residual: residual}
}

// Forward applies the adapter to x [..., dim].
func (a *Adapter) Forward(ctx *nn.Ctx, x *tensor.Tensor) *tensor.Tensor {
	out := a.LN2.Forward(tensor.Dropout(tensor.QuickGELU(a.LN1.Forward(x)), a.Dropout, ctx.Train, ctx.RNG))
	if a.Residual {
		return tensor.Add(x, out)
	}
	return out
}

// Params implements nn.Module.
func (a *Adapter) Params() []*tensor.Tensor { return nn.Collect(a.LN1, a.LN2) }

// LocalAttention is the Geometry-aware Adapter's attention among the members of each
// spatial neighbourhood, with its pre-norm: the authors' Attention1 ("attn1": qkv
// Linear(C, 3·inner) without bias, heads of inner/heads channels, scale inner^-½, not
// per head, proj Linear(inner, C)) and LayerNorm "norm3". The authors' encoder holds
// one of each, shared by the adapters of all blocks.
type LocalAttention struct {
	QKV, Proj *nn.Linear
	Heads     int
	Scale     float32
	Norm      *nn.LayerNorm
}

// NewLocalAttention makes the shared prefix.attn1 and prefix.norm3.
func NewLocalAttention(prefix string, dim, inner, heads int, rng *rand.Rand) *LocalAttention {
	return &LocalAttention{
		QKV:   nn.NewLinear(prefix+".attn1.qkv", dim, 3*inner, false, rng),
		Proj:  nn.NewLinear(prefix+".attn1.proj", inner, dim, true, rng),
		Heads: heads,
		Scale: float32(1 / math.Sqrt(float64(inner))),
		Norm:  nn.NewLayerNorm(prefix+".norm3", dim),
	}
}

// Params implements nn.Module in the authors' registration order (attn1, then norm3).
func (l *LocalAttention) Params() []*tensor.Tensor { return nn.Collect(l.QKV, l.Proj, l.Norm) }

// GeometryAdapter is the Geometry-aware Adapter of one block. The FFN adapter, scaled by
// AdCof, adds to the MLP branch; the GA core then aggregates each token's spatial
// neighbourhood:
//
//	NB  = Y[idx]                               k nearest tokens of each coarse centre
//	NB  = NB + DropPath(attn1(norm3(NB)))      local attention (Local, shared by all blocks)
//	V   = GELU(BN(max_k NB)) + CenterCof·Y[cidx]
//	X'  = X + ProCof · Σ_s w_s V_s             w ∝ 1/‖x − c_s‖², all coarse centres
//
// and the residual adapter (adapter1) runs over every token afterwards.
type GeometryAdapter struct {
	FFN          *Adapter        // "adapter": AdapterSuper_f on the MLP output
	OutTransform *nn.BatchNorm1d // "out_transform.0", followed by GELU
	Post         *Adapter        // "adapter1": residual, over cls, prompts and tokens
	// Local is the neighbourhood attention and its norm, one for all blocks' adapters.
	Local                    *LocalAttention
	AdCof, CenterCof, ProCof float32
}

// newGeometryAdapter makes the adapter of block prefix around the shared local attention.
func newGeometryAdapter(prefix string, cfg Config, dim int, local *LocalAttention, rng *rand.Rand) *GeometryAdapter {
	return &GeometryAdapter{
		FFN:          NewAdapter(prefix+".adapter", dim, cfg.AdapterDim, cfg.AdapterDropout, false, rng),
		OutTransform: nn.NewBatchNorm1d(prefix+".out_transform.0", dim),
		Post:         NewAdapter(prefix+".adapter1", dim, cfg.AdapterDim, cfg.AdapterDropout, true, rng),
		Local:        local,
		AdCof:        cfg.AdCof,
		CenterCof:    cfg.CenterCof,
		ProCof:       cfg.ProCof,
	}
}

// Geometry is where the GA core of one block finds its neighbourhoods: the flat
// indices into the token table it gathers from, and the coordinates that weight the
// propagation. It is computed once per forward pass (model.go).
type Geometry struct {
	// Idx [B·G2·k] and CenterIdx [B·G2] are flat row indices into the table [B·R, C].
	Idx, CenterIdx []int32
	G2, K          int
	// Target [B, G, 3] are the positions of the G point tokens, Source [B, G2, 3] those
	// of the coarse centres; either may depend on the learnable prompt coordinates.
	Target, Source *tensor.Tensor
	// W [B, G, G2] are the propagation weights from Source to Target, the same in
	// every block of the layer kind (see newGeometry).
	W *tensor.Tensor
}

// core runs the GA core: table [B, R, C] is what neighbourhoods are gathered from (the
// tokens, or prompts and tokens), x [B, G, C] the tokens that receive the propagation.
//
// norm3 and attn1's qkv projection act on each row alone, so they run on the R table
// rows and their result is gathered, rather than on the G2·k gathered rows (k/2 times
// as many for 128 tokens, 64 centres and k=16): the same numbers, a fraction of the
// work. The local attention is recomputed in the backward pass from the table rather
// than keeping its per-neighbourhood activations, a few percent of a block's work for
// most of its memory.
func (g *GeometryAdapter) core(ctx *nn.Ctx, table, x *tensor.Tensor, geo *Geometry, dropPath float32) *tensor.Tensor {
	b, r, c := table.Dim(0), table.Dim(1), table.Dim(2)
	flat := tensor.Reshape(table, b*r, c)
	attn := g.Local
	local := tensor.Recompute(flat, func(flat *tensor.Tensor) *tensor.Tensor {
		qkv := attn.QKV.Forward(attn.Norm.Forward(flat))
		qkv = tensor.Reshape(tensor.IndexSelect(qkv, geo.Idx), b*geo.G2, geo.K, qkv.Dim(1))
		return attn.Proj.Forward(tensor.Attention(qkv, attn.Heads, attn.Scale))
	})
	// max_k(NB + DropPath(local)) in one pass, NB = the gathered table rows.
	pooled := tensor.GatherAddMax(flat, geo.Idx, local, tensor.DropPathScales(b*geo.G2, dropPath, ctx.Train, ctx.RNG)) // [B·G2, C]
	v := tensor.GELU(g.OutTransform.Forward(ctx, pooled))
	v = tensor.Add(v, tensor.Scale(tensor.IndexSelect(flat, geo.CenterIdx), g.CenterCof))
	interp := tensor.MatMul(geo.W, tensor.Reshape(v, b, geo.G2, c), false, false)
	return tensor.Add(x, tensor.Scale(interp, g.ProCof))
}

// Params implements nn.Module: the block's own parameters, without the shared Local.
func (g *GeometryAdapter) Params() []*tensor.Tensor { return nn.Collect(g.FFN, g.OutTransform, g.Post) }
