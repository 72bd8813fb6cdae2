// Package dapt is DAPT, "Dynamic Adapter Meets Prompt Tuning" (Zhou et al., CVPR 2024,
// github.com/LMD0311/DAPT), on a frozen Point-MAE backbone:
//
//   - the Dynamic Adapter (DynamicAdapter) runs beside each block's MLP: a bottleneck
//     whose output every token scales by its own learned, non-negative factor
//     s = ReLU(w·LN(x) + b), the token's significance to the task;
//   - Internal Prompts: each block turns its adapter's output into one prompt token,
//     the mean over the sequence of GELU(adapter), and inserts it after the cls token,
//     so the sequence grows by one token per block and later blocks attend to it;
//   - TFTS, a learned per-channel scale and shift (y = x·γ + β), follows every frozen
//     layer the method touches: the token encoder, both LayerNorms and both projections
//     of each block's attention and MLP, the internal prompt and the final norm;
//   - the head reads the cls token, the mean of the internal prompts (ScanObjectNN) and
//     the max over the patch tokens.
//
// The trainable set (Trains) is the cls token and position, the head, every TFTS and the
// adapters: 1.09 M of 22.8 M parameters for PB_T50_RS. Parameter names are the authors'
// module names (models/DAPT.py, PointTransformer_DAPT), so their fine-tuned checkpoints
// load.
//
// The model equals the released code, which has no bug on the paths its configs use, so
// there is no faithful/fixed choice; tools/oracle/README.md (DAPT) lists where the code
// says more than the paper (positions added once, prompts that accumulate) and its
// unreachable bugs.
package dapt

import (
	"fmt"
	"math/rand/v2"

	"github.com/pointpeft/pointpeft/model"
	"github.com/pointpeft/pointpeft/nn"
	"github.com/pointpeft/pointpeft/tensor"
)

// Model is a backbone with DAPT's modules: the authors' PointTransformer_DAPT.
type Model struct {
	Cfg      Config
	Backbone *model.PointTransformer // grouping, token encoder, cls token, positions, final norm
	// TokenTFTS ("tfts_*_1") scales the encoder's tokens, NormTFTS ("tfts_*_2") the
	// final norm's output.
	TokenTFTS, NormTFTS *TFTS
	Blocks              []*Block
	// Head is cls_head_finetune with an input of 2 or 3 token widths (Config.PromptToken);
	// the backbone's own head is not used.
	Head *model.Head
}

// New wraps a backbone holding pre-trained weights with DAPT's modules, initialised as
// the authors do, and freezes every parameter outside the authors' trainable set. An
// authors' fine-tuned checkpoint (e.g. scan_hardest.pth, saved from DataParallel with
// "module." keys) loads into the result with checkpoint.ReadPTH(path, "base_model"),
// checkpoint.MapKeys(sd, checkpoint.DetectFormat(sd)) and nn.LoadState.
func New(bb *model.PointTransformer, cfg Config, rng *rand.Rand) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := bb.Cfg.TransDim
	hcfg := bb.Cfg
	m := &Model{
		Cfg:       cfg,
		Backbone:  bb,
		TokenTFTS: NewTFTS("", "1", c, rng),
		NormTFTS:  NewTFTS("", "2", c, rng),
		Head:      model.NewHead(hcfg, rng),
	}
	if k := cfg.headChannels(); k != 2 {
		m.Head.FC1 = nn.NewLinear("cls_head_finetune.0", k*c, hcfg.HeadHidden, true, rng)
	}
	for i, dp := range model.DropPathRates(cfg.DropPath, bb.Cfg.Depth) {
		m.Blocks = append(m.Blocks, newBlock(fmt.Sprintf("blocks.blocks.%d", i), bb.Blocks[i], cfg, c, dp, rng))
	}
	for _, p := range m.Params() {
		p.SetTrainable(Trains(p.Name()))
	}
	return m, nil
}

// Params implements nn.Module in the authors' order (PyTorch's named_parameters: a
// module's own parameters before its children's).
func (m *Model) Params() []*tensor.Tensor {
	bb := m.Backbone
	ps := []*tensor.Tensor{bb.ClsToken, bb.ClsPos}
	ps = append(ps, nn.Collect(m.TokenTFTS, m.NormTFTS)...)
	ps = append(ps, bb.Encoder.Params()...)
	if bb.ReduceDim != nil {
		ps = append(ps, bb.ReduceDim.Params()...)
	}
	ps = append(ps, nn.Collect(bb.PosEmbed[0], bb.PosEmbed[1])...)
	for _, b := range m.Blocks {
		ps = append(ps, b.Params()...)
	}
	ps = append(ps, bb.Norm.Params()...)
	return append(ps, m.Head.Params()...)
}

// Buffers implements nn.Stateful: the BatchNorm statistics of the encoder and the head.
func (m *Model) Buffers() []nn.Buffer {
	var bs []nn.Buffer
	for _, bn := range append(m.Backbone.Encoder.BatchNorms(), m.Head.BatchNorms()...) {
		bs = append(bs, bn.Buffers()...)
	}
	return bs
}

// Forward classifies b clouds of n points (flat xyz) and returns logits [B, classes].
func (m *Model) Forward(ctx *nn.Ctx, points []float32, b, n int) (*tensor.Tensor, error) {
	bb := m.Backbone
	g, err := bb.Group(points, b, n)
	if err != nil {
		return nil, err
	}
	tok, pos := bb.Embed(ctx, g)
	x, p := bb.WithCls(m.TokenTFTS.Forward(tok), pos)
	// The positions are added once, before the first block, not before every block as
	// in Point-MAE: the internal prompts have none.
	x = tensor.Add(x, p)
	for _, blk := range m.Blocks {
		y := blk.Forward(ctx, x)
		tensor.Free(x) // dead now, unless a backward step reads it (Free checks)
		x = y
	}
	return m.Head.Forward(ctx, m.features(m.NormTFTS.Forward(bb.Norm.Forward(x)))), nil
}

// features is the head's input from x [B, 1+L+G, C] = [cls; L internal prompts; G
// patch tokens]: concat(cls, pooled prompts, max over patches).
func (m *Model) features(x *tensor.Tensor) *tensor.Tensor {
	b, t, c := x.Dim(0), x.Dim(1), x.Dim(2)
	l := len(m.Blocks)
	parts := []*tensor.Tensor{tensor.Reshape(tensor.Slice(x, 1, 0, 1), b, c)}
	prompts := tensor.Slice(x, 1, 1, 1+l)
	switch m.Cfg.PromptToken {
	case "mean":
		parts = append(parts, tensor.Mean(prompts, 1))
	case "max":
		mx, _ := tensor.Max(prompts, 1)
		parts = append(parts, mx)
	}
	patches, _ := tensor.Max(tensor.Slice(x, 1, 1+l, t), 1)
	return tensor.Concat(1, append(parts, patches)...)
}

// TFTS is a learned per-channel scale and shift y = x·γ + β over the last axis
// ("tfts_gamma_<i>", "tfts_beta_<i>"), initialised γ ~ N(1, 0.02²), β ~ N(0, 0.02²).
type TFTS struct {
	Gamma, Beta *tensor.Tensor
}

// NewTFTS makes the pair tfts_gamma_<i>, tfts_beta_<i> of width dim under prefix.
func NewTFTS(prefix, i string, dim int, rng *rand.Rand) *TFTS {
	if prefix != "" {
		prefix += "."
	}
	gamma, beta := make([]float32, dim), make([]float32, dim)
	for j := range gamma {
		gamma[j] = float32(1 + 0.02*rng.NormFloat64())
	}
	for j := range beta {
		beta[j] = float32(0.02 * rng.NormFloat64())
	}
	return &TFTS{
		Gamma: tensor.NewParam(prefix+"tfts_gamma_"+i, gamma, dim),
		Beta:  tensor.NewParam(prefix+"tfts_beta_"+i, beta, dim),
	}
}

// Forward applies the scale and shift to x [..., dim].
func (f *TFTS) Forward(x *tensor.Tensor) *tensor.Tensor {
	return tensor.Add(tensor.Mul(x, f.Gamma), f.Beta)
}

// Params implements nn.Module.
func (f *TFTS) Params() []*tensor.Tensor { return []*tensor.Tensor{f.Gamma, f.Beta} }

// DynamicAdapter is the authors' Adapter ("Adapter_MLP"), run on the MLP's input:
//
//	x' = LN(x)
//	s  = ReLU(scale(x'))                       one factor per token
//	A  = s · up(Dropout(GELU(down(x'))))
type DynamicAdapter struct {
	Norm     *nn.LayerNorm // adapter_layer_norm_before
	Scale    *nn.Linear    // dim → 1
	Down, Up *nn.Linear    // dim → rank → dim
	Dropout  float32
}

// NewDynamicAdapter makes an adapter with the authors' init: down and scale weights
// kaiming-uniform (a=√5), their biases zero; up all zero, so that a new adapter adds
// nothing.
func NewDynamicAdapter(name string, dim, rank int, dropout float32, rng *rand.Rand) *DynamicAdapter {
	a := &DynamicAdapter{
		Norm:    nn.NewLayerNorm(name+".adapter_layer_norm_before", dim),
		Scale:   nn.NewLinear(name+".scale", dim, 1, true, rng),
		Down:    nn.NewLinear(name+".down_proj", dim, rank, true, rng),
		Up:      nn.NewLinear(name+".up_proj", rank, dim, true, rng),
		Dropout: dropout,
	}
	for _, p := range []*tensor.Tensor{a.Scale.Bias, a.Down.Bias, a.Up.Weight, a.Up.Bias} {
		clear(p.Data)
	}
	return a
}

// Forward applies the adapter to x [B, T, dim].
func (a *DynamicAdapter) Forward(ctx *nn.Ctx, x *tensor.Tensor) *tensor.Tensor {
	x = a.Norm.Forward(x)
	s := tensor.ReLU(a.Scale.Forward(x)) // [B, T, 1]
	h := tensor.Dropout(tensor.GELU(a.Down.Forward(x)), a.Dropout, ctx.Train, ctx.RNG)
	return tensor.Mul(a.Up.Forward(h), s)
}

// Params implements nn.Module.
func (a *DynamicAdapter) Params() []*tensor.Tensor { return nn.Collect(a.Norm, a.Scale, a.Down, a.Up) }

// Block is a frozen backbone block with DAPT's modules:
//
//	x = x + DropPath(TFTS(proj(Attn(TFTS(qkv(TFTS(LN1 x)))))))
//	h = TFTS(LN2 x)
//	A = DynamicAdapter(h)
//	x = x + DropPath(TFTS(fc2(GELU(TFTS(fc1 h)))) + A)
//	p = TFTS(mean over tokens of GELU(A))      the internal prompt
//	x = [cls; p; rest of x]
type Block struct {
	Base *nn.Block // norm1, attn, norm2, mlp (frozen)
	// Norm1TFTS, Norm2TFTS and PromptTFTS are the block's tfts_*_1, _2, _3; QKVTFTS and
	// ProjTFTS attn.tfts_*_1, _2; FC1TFTS and FC2TFTS mlp.tfts_*_1, _2.
	Norm1TFTS, Norm2TFTS, PromptTFTS *TFTS
	QKVTFTS, ProjTFTS                *TFTS
	FC1TFTS, FC2TFTS                 *TFTS
	Adapter                          *DynamicAdapter // Adapter_MLP
	DropPath                         float32
}

func newBlock(prefix string, base *nn.Block, cfg Config, dim int, dropPath float32, rng *rand.Rand) *Block {
	hidden := base.Mlp.FC1.Weight.Dim(0)
	return &Block{
		Base:       base,
		Norm1TFTS:  NewTFTS(prefix, "1", dim, rng),
		Norm2TFTS:  NewTFTS(prefix, "2", dim, rng),
		PromptTFTS: NewTFTS(prefix, "3", dim, rng),
		QKVTFTS:    NewTFTS(prefix+".attn", "1", 3*dim, rng),
		ProjTFTS:   NewTFTS(prefix+".attn", "2", dim, rng),
		FC1TFTS:    NewTFTS(prefix+".mlp", "1", hidden, rng),
		FC2TFTS:    NewTFTS(prefix+".mlp", "2", dim, rng),
		Adapter:    NewDynamicAdapter(prefix+".Adapter_MLP", dim, cfg.Rank, cfg.AdapterDropout, rng),
		DropPath:   dropPath,
	}
}

// Forward runs the block on x [B, T, C] and returns [B, T+1, C]. It is a
// tensor.Segment: what the backward pass does not read is dropped when it returns.
func (blk *Block) Forward(ctx *nn.Ctx, x *tensor.Tensor) *tensor.Tensor {
	return tensor.Segment(func() *tensor.Tensor {
		base := blk.Base
		attn := blk.ProjTFTS.Forward(base.Attn.Proj.Forward(nn.RecomputeIf(ctx.RecomputeAttn(), x, func(x *tensor.Tensor) *tensor.Tensor {
			qkv := blk.QKVTFTS.Forward(base.Attn.QKV.Forward(blk.Norm1TFTS.Forward(base.Norm1.Forward(x))))
			return tensor.Attention(qkv, base.Attn.Heads, base.Attn.Scale)
		})))
		x = tensor.Add(x, tensor.DropPath(attn, blk.DropPath, ctx.Train, ctx.RNG))
		h := blk.Norm2TFTS.Forward(base.Norm2.Forward(x))
		ad := blk.Adapter.Forward(ctx, h)
		mlp := blk.FC2TFTS.Forward(base.Mlp.FC2.Forward(nn.RecomputeIf(ctx.RecomputeHidden(), h, func(h *tensor.Tensor) *tensor.Tensor {
			return tensor.GELU(blk.FC1TFTS.Forward(base.Mlp.FC1.Forward(h)))
		})))
		x = tensor.Add(x, tensor.DropPath(tensor.Add(mlp, ad), blk.DropPath, ctx.Train, ctx.RNG))
		b, t, c := x.Dim(0), x.Dim(1), x.Dim(2)
		prompt := blk.PromptTFTS.Forward(tensor.Reshape(tensor.Mean(tensor.GELU(ad), 1), b, 1, c))
		return tensor.Concat(1, tensor.Slice(x, 1, 0, 1), prompt, tensor.Slice(x, 1, 1, t))
	})
}

// Params implements nn.Module in the authors' order.
func (blk *Block) Params() []*tensor.Tensor {
	base := blk.Base
	ps := nn.Collect(blk.Norm1TFTS, blk.Norm2TFTS, blk.PromptTFTS, base.Norm1, base.Norm2, blk.FC1TFTS, blk.FC2TFTS,
		base.Mlp, blk.QKVTFTS, blk.ProjTFTS, base.Attn)
	return append(ps, blk.Adapter.Params()...)
}
