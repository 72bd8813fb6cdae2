package peft

import (
	"fmt"
	"math/rand/v2"

	"github.com/pointpeft/pointpeft/geom"
	"github.com/pointpeft/pointpeft/model"
	"github.com/pointpeft/pointpeft/nn"
	"github.com/pointpeft/pointpeft/tensor"
)

// PointPEFT is a backbone with Point-PEFT's modules: the authors' PointTransformer_best.
type PointPEFT struct {
	Cfg      Config
	Backbone *model.PointTransformer // encoder, cls token, positional MLP, final norm, head
	Blocks   []*Block
	// PromptCor [T, 3] are the prompt tokens' learnable coordinates ("prompt_cor").
	PromptCor *tensor.Tensor
	// Prior and Bank make the Point-prior Prompt's cache prompt; with Bank nil the
	// prompts are the learned embeddings alone.
	Prior *PriorEncoder
	Bank  *MemoryBank
}

// New wraps a backbone holding pre-trained weights. The prior encoder is a snapshot of
// those weights; new modules get the authors' initialisations.
func New(backbone *model.PointTransformer, cfg Config, rng *rand.Rand) (*PointPEFT, error) {
	bc := backbone.Cfg
	cfg = cfg.Resolve(bc.Depth)
	if err := cfg.Validate(bc.Depth, bc.TransDim); err != nil {
		return nil, err
	}
	if cfg.Attn1Dim%bc.Heads != 0 {
		return nil, fmt.Errorf("point-peft: the local attention's width %d is not divisible by %d heads", cfg.Attn1Dim, bc.Heads)
	}
	if bc.NumGroup < 2 || bc.GroupSize < 2 {
		return nil, fmt.Errorf("point-peft: the backbone's %d×%d grouping is too small to halve", bc.NumGroup, bc.GroupSize)
	}
	prior, err := NewPriorEncoder(backbone, cfg.PriorGroups, cfg.PriorGroupSize)
	if err != nil {
		return nil, err
	}
	c := bc.TransDim
	m := &PointPEFT{
		Cfg:       cfg,
		Backbone:  backbone,
		PromptCor: tensor.NewParam("prompt_cor", nn.TruncNormal(rng, cfg.NumTokens*3, 0.02), cfg.NumTokens, 3),
		Prior:     prior,
	}
	local := NewLocalAttention("blocks", c, cfg.Attn1Dim, bc.Heads, rng)
	for i, base := range backbone.Blocks {
		m.Blocks = append(m.Blocks, newBlock(fmt.Sprintf("blocks.blocks.%d", i), base, cfg, c, local, rng))
	}
	return m, nil
}

// Params implements nn.Module in the authors' registration order.
func (m *PointPEFT) Params() []*tensor.Tensor {
	bb := m.Backbone
	ps := append(bb.Encoder.Params(), bb.ClsToken, bb.ClsPos)
	if bb.ReduceDim != nil {
		ps = append(ps, bb.ReduceDim.Params()...)
	}
	ps = append(ps, nn.Collect(bb.PosEmbed[0], bb.PosEmbed[1])...)
	ps = append(ps, m.PromptCor)
	for _, b := range m.Blocks {
		ps = append(ps, b.Params()...)
	}
	ps = append(ps, m.Blocks[0].GA.Local.Params()...) // shared: listed once
	ps = append(ps, bb.Norm.Params()...)
	return append(ps, bb.Head.Params()...)
}

// Buffers implements nn.Stateful.
func (m *PointPEFT) Buffers() []nn.Buffer {
	bs := m.Backbone.Buffers()
	for _, b := range m.Blocks {
		bs = append(bs, b.GA.OutTransform.Buffers()...)
	}
	return bs
}

// Forward classifies b clouds of n points and returns logits [B, classes].
func (m *PointPEFT) Forward(ctx *nn.Ctx, points []float32, b, n int) (*tensor.Tensor, error) {
	bb := m.Backbone
	g, err := bb.Group(points, b, n)
	if err != nil {
		return nil, err
	}
	var cache *tensor.Tensor
	if m.Bank != nil {
		q, err := m.Prior.Feature(points, b, n)
		if err != nil {
			return nil, err
		}
		if cache, err = CachePrompt(q, b, m.Bank, m.Cfg.K()); err != nil {
			return nil, err
		}
	}
	promptGeo, plainGeo, err := m.geometry(points, g)
	if err != nil {
		return nil, err
	}
	tok, pos := bb.Embed(ctx, g)
	x, p := bb.WithCls(tok, pos)
	for i, blk := range m.Blocks {
		prompt, geo := m.Cfg.isPromptLayer(i), plainGeo
		if prompt {
			geo = promptGeo
		}
		in := tensor.Add(x, p)
		y := blk.forward(ctx, in, prompt, geo, cache)
		// Dead now, unless a backward step reads them (Free checks).
		tensor.Free(x)
		tensor.Free(in)
		x = y
	}
	return bb.Head.Forward(ctx, model.Pool(bb.Norm.Forward(x))), nil
}

// geometry computes the neighbourhoods of the GA core once per forward pass (spec §4.3):
// FPS to G/2 coarse centres, each with its M/2 nearest tokens. Non-prompt layers group
// the G token centres. Prompt layers differ by mode:
//   - faithful: FPS of G points over [prompt_cor; raw points] (centerP), grouped again,
//     with indices of stride G used on a table of stride T+G, and propagation from
//     centerP, exactly as the released code;
//   - fixed: grouping over the token coordinates [prompt_cor; centres] with stride T+G,
//     propagation back to the tokens' own centres.
//
// Coordinates that depend on prompt_cor are graph tensors, so it gets its gradient
// through the propagation weights, as in the authors' code.
func (m *PointPEFT) geometry(points []float32, g *geom.Groups) (prompt, plain *Geometry, err error) {
	b, gn := g.B, g.G
	g2, k := gn/2, g.M/2
	center := tensor.FromData(g.Center, b, gn, 3)
	l2, err := geom.Group(g.Center, b, gn, g2, k)
	if err != nil {
		return nil, nil, fmt.Errorf("point-peft: level-2 grouping: %w", err)
	}
	plain = newGeometry(l2, g2, k, center, tensor.FromData(l2.Center, b, g2, 3))
	if len(m.Cfg.PromptLayers) == 0 {
		return nil, plain, nil
	}
	t := m.Cfg.NumTokens
	cor := tensor.BroadcastTo(tensor.Reshape(m.PromptCor, 1, t, 3), b, t, 3)
	switch m.Cfg.Mode {
	case Faithful:
		n := g.N
		ppts := tensor.Concat(1, cor, tensor.FromData(points, b, n, 3)) // [B, T+N, 3]
		pidx, err := geom.FPS(ppts.Data, b, t+n, gn)
		if err != nil {
			return nil, nil, fmt.Errorf("point-peft: prompt grouping: %w", err)
		}
		flat, err := geom.FlatIndex(pidx, b, t+n, gn)
		if err != nil {
			return nil, nil, err
		}
		centerP := tensor.Reshape(tensor.IndexSelect(tensor.Reshape(ppts, b*(t+n), 3), flat), b, gn, 3)
		l2p, err := geom.Group(centerP.Data, b, gn, g2, k)
		if err != nil {
			return nil, nil, fmt.Errorf("point-peft: prompt level-2 grouping: %w", err)
		}
		// The bug: l2p's flat indices have stride G, the table they index has T+G.
		source := tensor.Reshape(tensor.IndexSelect(tensor.Reshape(centerP, b*gn, 3), l2p.CenterIdx), b, g2, 3)
		prompt = newGeometry(l2p, g2, k, centerP, source)
	case Fixed:
		tokxyz := tensor.Concat(1, cor, center) // [B, T+G, 3], the [P'; X] table's order
		l2p, err := geom.Group(tokxyz.Data, b, t+gn, g2, k)
		if err != nil {
			return nil, nil, fmt.Errorf("point-peft: prompt level-2 grouping: %w", err)
		}
		source := tensor.Reshape(tensor.IndexSelect(tensor.Reshape(tokxyz, b*(t+gn), 3), l2p.CenterIdx), b, g2, 3)
		prompt = newGeometry(l2p, g2, k, center, source)
	}
	return prompt, plain, nil
}

// newGeometry is the Geometry of the level-2 grouping l2, with the inverse-squared-
// distance weights from source to target computed once for every block that uses it.
func newGeometry(l2 *geom.Groups, g2, k int, target, source *tensor.Tensor) *Geometry {
	return &Geometry{Idx: l2.Idx, CenterIdx: l2.CenterIdx, G2: g2, K: k, Target: target, Source: source,
		W: tensor.InvSqDistWeights(target, source, 1e-8)}
}
