package model

import (
	"fmt"
	"math/rand/v2"

	"github.com/pointpeft/pointpeft/geom"
	"github.com/pointpeft/pointpeft/nn"
	"github.com/pointpeft/pointpeft/tensor"
)

// PointTransformer is the fine-tuning classifier of Point-MAE and Point-BERT: points are
// grouped (FPS + kNN), each group becomes a token (mini-PointNet), a cls token is
// prepended, and pre-norm Transformer blocks run with the centres' positional embedding
// re-added before every block; the head reads concat(cls, max over tokens).
type PointTransformer struct {
	Cfg       Config
	Encoder   *Encoder
	ReduceDim *nn.Linear // Point-BERT only: encoder_dims → trans_dim
	ClsToken  *tensor.Tensor
	ClsPos    *tensor.Tensor
	PosEmbed  [2]*nn.Linear // pos_embed.0 (3 → 128) and pos_embed.2 (128 → C), GELU between
	Blocks    []*nn.Block   // blocks.blocks.i
	Norm      *nn.LayerNorm
	Head      *Head
}

// New builds a randomly initialised PointTransformer (PyTorch default inits; cls token
// and position trunc-normal 0.02 as the authors' code).
func New(cfg Config, rng *rand.Rand) (*PointTransformer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	c := cfg.TransDim
	m := &PointTransformer{
		Cfg:      cfg,
		Encoder:  NewEncoder("encoder", cfg.EncoderHidden, cfg.EncoderDims, rng),
		ClsToken: tensor.NewParam("cls_token", nn.TruncNormal(rng, c, 0.02), 1, 1, c),
		ClsPos:   tensor.NewParam("cls_pos", nn.TruncNormal(rng, c, 0.02), 1, 1, c),
		PosEmbed: posEmbed("pos_embed", cfg, rng),
		Norm:     nn.NewLayerNorm("norm", c),
		Head:     NewHead(cfg, rng),
	}
	if cfg.Arch == "point-bert" {
		m.ReduceDim = nn.NewLinear("reduce_dim", cfg.EncoderDims, c, true, rng)
	}
	for i, dp := range DropPathRates(cfg.DropPath, cfg.Depth) {
		m.Blocks = append(m.Blocks, nn.NewBlock(fmt.Sprintf("blocks.blocks.%d", i), c, cfg.Heads, c*cfg.MLPRatio, cfg.QKVBias, dp, rng))
	}
	return m, nil
}

// DropPathRates is the stochastic-depth schedule linspace(0, rate, depth).
func DropPathRates(rate float32, depth int) []float32 {
	out := make([]float32, depth)
	for i := range out {
		if depth > 1 {
			out[i] = rate * float32(i) / float32(depth-1)
		}
	}
	return out
}

// Params implements nn.Module, in the authors' registration order.
func (m *PointTransformer) Params() []*tensor.Tensor {
	ps := append(m.Encoder.Params(), m.ClsToken, m.ClsPos)
	if m.ReduceDim != nil {
		ps = append(ps, m.ReduceDim.Params()...)
	}
	ps = append(ps, nn.Collect(m.PosEmbed[0], m.PosEmbed[1])...)
	for _, b := range m.Blocks {
		ps = append(ps, b.Params()...)
	}
	return append(append(ps, m.Norm.Params()...), m.Head.Params()...)
}

// Buffers implements nn.Stateful: the BatchNorm statistics of the encoder and the head.
func (m *PointTransformer) Buffers() []nn.Buffer {
	var bs []nn.Buffer
	for _, bn := range append(m.Encoder.BatchNorms(), m.Head.BatchNorms()...) {
		bs = append(bs, bn.Buffers()...)
	}
	return bs
}

// Group runs the Point-MAE grouping of b clouds of n points with the configured sizes.
func (m *PointTransformer) Group(points []float32, b, n int) (*geom.Groups, error) {
	return m.Cfg.group(points, b, n)
}

// Embed turns groups into tokens [B, G, C] and their positional embeddings [B, G, C].
func (m *PointTransformer) Embed(ctx *nn.Ctx, g *geom.Groups) (tok, pos *tensor.Tensor) {
	nb := tensor.FromData(g.Neighborhood, g.B*g.G, g.M, 3)
	// A frozen encoder's per-point activations are not needed once its tokens exist.
	tok = tensor.Scratch(func() *tensor.Tensor { return m.Encoder.Forward(ctx, nb) })
	if m.ReduceDim != nil {
		tok = m.ReduceDim.Forward(tok)
	}
	tok = tensor.Reshape(tok, g.B, g.G, m.Cfg.TransDim)
	return tok, m.PosEmbedding(tensor.FromData(g.Center, g.B, g.G, 3))
}

// PosEmbedding maps centres [B, G, 3] to positional embeddings [B, G, C].
func (m *PointTransformer) PosEmbedding(center *tensor.Tensor) *tensor.Tensor {
	return embed(m.PosEmbed, center)
}

// Tokens runs the encoder as Point-MAE's pre-training encoder does, without the cls
// token: the group tokens, the positional embedding re-added before every block, and
// the final LayerNorm, giving [B, G, C]. Each block's intermediates go as soon as it is
// done when nothing differentiates through them (tensor.Scratch).
func (m *PointTransformer) Tokens(ctx *nn.Ctx, g *geom.Groups) *tensor.Tensor {
	x, pos := m.Embed(ctx, g)
	for _, blk := range m.Blocks {
		y := tensor.Scratch(func() *tensor.Tensor { return blk.Forward(ctx, tensor.Add(x, pos)) })
		tensor.Free(x)
		x = y
	}
	return m.Norm.Forward(x)
}

// WithCls prepends the cls token and its position: x, pos [B, G, C] → [B, 1+G, C].
func (m *PointTransformer) WithCls(tok, pos *tensor.Tensor) (x, p *tensor.Tensor) {
	b, c := tok.Dim(0), m.Cfg.TransDim
	x = tensor.Concat(1, tensor.BroadcastTo(m.ClsToken, b, 1, c), tok)
	p = tensor.Concat(1, tensor.BroadcastTo(m.ClsPos, b, 1, c), pos)
	return x, p
}

// Pool is the head's input: concat(x[:,0], max over x[:,1:]) for x [B, 1+G, C] → [B, 2C].
func Pool(x *tensor.Tensor) *tensor.Tensor {
	b, t, c := x.Dim(0), x.Dim(1), x.Dim(2)
	mx, _ := tensor.Max(tensor.Slice(x, 1, 1, t), 1)
	return tensor.Concat(1, tensor.Reshape(tensor.Slice(x, 1, 0, 1), b, c), mx)
}

// Forward classifies b clouds of n points (flat xyz) and returns logits [B, classes].
func (m *PointTransformer) Forward(ctx *nn.Ctx, points []float32, b, n int) (*tensor.Tensor, error) {
	g, err := m.Group(points, b, n)
	if err != nil {
		return nil, err
	}
	tok, pos := m.Embed(ctx, g)
	x, p := m.WithCls(tok, pos)
	return m.Head.Forward(ctx, Pool(m.Norm.Forward(RunBlocks(ctx, m.Blocks, x, p)))), nil
}

// RunBlocks runs blocks in turn on x [B, T, C], re-adding the positions p [B, T, C]
// before each, as Point-MAE does.
func RunBlocks(ctx *nn.Ctx, blocks []*nn.Block, x, p *tensor.Tensor) *tensor.Tensor {
	for _, blk := range blocks {
		in := tensor.Add(x, p)
		y := blk.Forward(ctx, in)
		// Dead now, unless a backward step reads them (Free checks).
		tensor.Free(x)
		tensor.Free(in)
		x = y
	}
	return x
}

// Head is cls_head_finetune. Point-MAE: Linear(2C,256)-BN-ReLU-Dropout-Linear(256,256)-
// BN-ReLU-Dropout-Linear(256,classes); Point-BERT: Linear(2C,256)-ReLU-Dropout-
// Linear(256,classes). Fields are nil where the architecture has no such layer.
type Head struct {
	FC1, FC2, Out *nn.Linear
	BN1, BN2      *nn.BatchNorm1d
	Dropout       float32
}

// NewHead builds the head for cfg with PyTorch default inits.
func NewHead(cfg Config, rng *rand.Rand) *Head { return NewHeadFrom(cfg, 2*cfg.TransDim, rng) }

// NewHeadFrom builds the head for cfg over pooled features of width in, for methods
// that pool more than concat(cls, max) (IDPT adds its prompt token: 3C).
func NewHeadFrom(cfg Config, in int, rng *rand.Rand) *Head {
	cfg = cfg.withDefaults()
	h := cfg.HeadHidden
	if cfg.Arch == "point-bert" {
		return &Head{
			FC1:     nn.NewLinear("cls_head_finetune.0", in, h, true, rng),
			Out:     nn.NewLinear("cls_head_finetune.3", h, cfg.Classes, true, rng),
			Dropout: cfg.HeadDropout,
		}
	}
	return &Head{
		FC1:     nn.NewLinear("cls_head_finetune.0", in, h, true, rng),
		BN1:     nn.NewBatchNorm1d("cls_head_finetune.1", h),
		FC2:     nn.NewLinear("cls_head_finetune.4", h, h, true, rng),
		BN2:     nn.NewBatchNorm1d("cls_head_finetune.5", h),
		Out:     nn.NewLinear("cls_head_finetune.8", h, cfg.Classes, true, rng),
		Dropout: cfg.HeadDropout,
	}
}

// Forward maps pooled features [B, 2C] to logits [B, classes].
func (h *Head) Forward(ctx *nn.Ctx, f *tensor.Tensor) *tensor.Tensor {
	x := h.FC1.Forward(f)
	if h.BN1 != nil {
		x = h.BN1.Forward(ctx, x)
	}
	x = tensor.Dropout(tensor.ReLU(x), h.Dropout, ctx.Train, ctx.RNG)
	if h.FC2 != nil {
		x = h.FC2.Forward(x)
		if h.BN2 != nil {
			x = h.BN2.Forward(ctx, x)
		}
		x = tensor.Dropout(tensor.ReLU(x), h.Dropout, ctx.Train, ctx.RNG)
	}
	return h.Out.Forward(x)
}

// Params implements nn.Module.
func (h *Head) Params() []*tensor.Tensor {
	ps := h.FC1.Params()
	if h.BN1 != nil {
		ps = append(ps, h.BN1.Params()...)
	}
	if h.FC2 != nil {
		ps = append(ps, h.FC2.Params()...)
	}
	if h.BN2 != nil {
		ps = append(ps, h.BN2.Params()...)
	}
	return append(ps, h.Out.Params()...)
}

// BatchNorms lists the head's BatchNorm layers.
func (h *Head) BatchNorms() []*nn.BatchNorm1d {
	var out []*nn.BatchNorm1d
	for _, bn := range []*nn.BatchNorm1d{h.BN1, h.BN2} {
		if bn != nil {
			out = append(out, bn)
		}
	}
	return out
}
