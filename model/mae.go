package model

import (
	"fmt"
	"math/rand/v2"
	"sort"

	"github.com/pointpeft/pointpeft/geom"
	"github.com/pointpeft/pointpeft/nn"
	"github.com/pointpeft/pointpeft/tensor"
)

// MAEConfig holds what Point-MAE pre-training adds to the encoder's Config.
type MAEConfig struct {
	// MaskRatio is the fraction of groups hidden from the encoder; int(MaskRatio·G)
	// of them per cloud, truncated as upstream does (int(0.6·64) = 38).
	MaskRatio float64 `yaml:"mask_ratio" json:"mask_ratio"`
	// MaskType is "rand" (uniformly chosen groups) or "block" (the groups nearest a
	// randomly chosen centre).
	MaskType        string  `yaml:"mask_type" json:"mask_type"`
	DecoderDepth    int     `yaml:"decoder_depth" json:"decoder_depth"`
	DecoderHeads    int     `yaml:"decoder_num_heads" json:"decoder_num_heads"`
	DecoderDropPath float32 `yaml:"decoder_drop_path_rate" json:"decoder_drop_path_rate"`
}

// DefaultMAEConfig is the authors' cfgs/pretrain.yaml: 60% random masking and a
// 4-block, 6-head decoder with drop path 0.1.
func DefaultMAEConfig() MAEConfig {
	return MAEConfig{MaskRatio: 0.6, MaskType: "rand", DecoderDepth: 4, DecoderHeads: 6, DecoderDropPath: 0.1}
}

// PointMAEPretrainConfig is the authors' pre-training encoder (ViT-S, 64 groups of 32
// points from 1024-point clouds). Classes is unused by pre-training.
func PointMAEPretrainConfig() Config {
	c := PointMAE(2, 64, 32)
	c.HeadDropout = 0
	return c
}

// NumMasked is how many of g groups a cloud gets masked: int(ratio·g) as upstream
// computes it (truncation, not rounding: 0.6·8 masks 4, not 5).
func (c MAEConfig) NumMasked(g int) int { return int(c.MaskRatio * float64(g)) }

// PointMAEPretrain is Point-MAE's pre-training model (upstream Point_MAE): a
// MaskTransformer encoder that sees only the visible groups, a light Transformer
// decoder that gets mask tokens in place of the hidden groups, and a 1×1 convolution
// that turns each decoded mask token into the M points of its group, scored with the
// Chamfer-L2 distance to the group's centred points.
//
// Parameter names are the official pre-training checkpoint's without "module.", so a
// saved state dict loads into New's classifier through checkpoint.MapKeys (the
// MAE_encoder.* keys become the classifier's encoder.*, pos_embed.*, blocks.blocks.*,
// norm.*).
type PointMAEPretrain struct {
	Cfg Config
	MAE MAEConfig

	Encoder  *Encoder      // MAE_encoder.encoder
	PosEmbed [2]*nn.Linear // MAE_encoder.pos_embed.{0,2}
	Blocks   []*nn.Block   // MAE_encoder.blocks.blocks.i
	Norm     *nn.LayerNorm // MAE_encoder.norm

	MaskToken       *tensor.Tensor // mask_token [1, 1, C]
	DecoderPosEmbed [2]*nn.Linear  // decoder_pos_embed.{0,2}
	DecoderBlocks   []*nn.Block    // MAE_decoder.blocks.i
	DecoderNorm     *nn.LayerNorm  // MAE_decoder.norm
	IncreaseDim     *nn.Conv1x1    // increase_dim.0: C → 3·M
}

// NewPointMAEPretrain builds a randomly initialised pre-training model (PyTorch
// default inits, mask token trunc-normal 0.02). cfg must be a Point-MAE Config; its
// Classes and head fields are ignored.
func NewPointMAEPretrain(cfg Config, mae MAEConfig, rng *rand.Rand) (*PointMAEPretrain, error) {
	if cfg.Arch == "" {
		cfg.Arch = "point-mae"
	}
	if cfg.EncoderDims == 0 {
		cfg.EncoderDims = cfg.TransDim
	}
	v := cfg
	v.Classes = max(v.Classes, 2) // the classifier's check; pre-training has no classes
	if err := v.Validate(); err != nil {
		return nil, err
	}
	if cfg.Arch != "point-mae" {
		return nil, fmt.Errorf("model: pre-training is Point-MAE's, not %s's", cfg.Arch)
	}
	if err := mae.validate(cfg); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	c := cfg.TransDim
	m := &PointMAEPretrain{
		Cfg:      cfg,
		MAE:      mae,
		Encoder:  NewEncoder("MAE_encoder.encoder", cfg.EncoderHidden, c, rng),
		PosEmbed: posEmbed("MAE_encoder.pos_embed", cfg, rng),
		Norm:     nn.NewLayerNorm("MAE_encoder.norm", c),

		MaskToken:       tensor.NewParam("mask_token", nn.TruncNormal(rng, c, 0.02), 1, 1, c),
		DecoderPosEmbed: posEmbed("decoder_pos_embed", cfg, rng),
		DecoderNorm:     nn.NewLayerNorm("MAE_decoder.norm", c),
		IncreaseDim:     nn.NewConv1x1("increase_dim.0", c, 3*cfg.GroupSize, rng),
	}
	for i, dp := range DropPathRates(cfg.DropPath, cfg.Depth) {
		m.Blocks = append(m.Blocks, nn.NewBlock(fmt.Sprintf("MAE_encoder.blocks.blocks.%d", i), c, cfg.Heads, c*cfg.MLPRatio, cfg.QKVBias, dp, rng))
	}
	for i, dp := range DropPathRates(mae.DecoderDropPath, mae.DecoderDepth) {
		m.DecoderBlocks = append(m.DecoderBlocks, nn.NewBlock(fmt.Sprintf("MAE_decoder.blocks.%d", i), c, mae.DecoderHeads, c*cfg.MLPRatio, cfg.QKVBias, dp, rng))
	}
	return m, nil
}

func posEmbed(prefix string, cfg Config, rng *rand.Rand) [2]*nn.Linear {
	return [2]*nn.Linear{nn.NewLinear(prefix+".0", 3, cfg.PosHidden, true, rng), nn.NewLinear(prefix+".2", cfg.PosHidden, cfg.TransDim, true, rng)}
}

func (c MAEConfig) validate(cfg Config) error {
	switch {
	case c.MaskType != "rand" && c.MaskType != "block":
		return fmt.Errorf("model: mask_type %q is neither rand nor block", c.MaskType)
	case c.MaskRatio <= 0 || c.MaskRatio >= 1:
		return fmt.Errorf("model: mask_ratio %g must be in (0,1)", c.MaskRatio)
	case c.NumMasked(cfg.NumGroup) < 1 || c.NumMasked(cfg.NumGroup) >= cfg.NumGroup:
		return fmt.Errorf("model: mask_ratio %g of %d groups masks %d: need at least one masked and one visible", c.MaskRatio, cfg.NumGroup, c.NumMasked(cfg.NumGroup))
	case c.DecoderDepth < 1 || c.DecoderHeads < 1 || cfg.TransDim%c.DecoderHeads != 0:
		return fmt.Errorf("model: decoder depth %d and heads %d must be positive, heads dividing trans_dim %d", c.DecoderDepth, c.DecoderHeads, cfg.TransDim)
	case c.DecoderDropPath < 0 || c.DecoderDropPath >= 1:
		return fmt.Errorf("model: decoder drop path %g must be in [0,1)", c.DecoderDropPath)
	}
	return nil
}

// Params implements nn.Module, in the upstream registration order.
func (m *PointMAEPretrain) Params() []*tensor.Tensor {
	ps := append(m.Encoder.Params(), nn.Collect(m.PosEmbed[0], m.PosEmbed[1])...)
	for _, b := range m.Blocks {
		ps = append(ps, b.Params()...)
	}
	ps = append(append(ps, m.Norm.Params()...), m.MaskToken)
	ps = append(ps, nn.Collect(m.DecoderPosEmbed[0], m.DecoderPosEmbed[1])...)
	for _, b := range m.DecoderBlocks {
		ps = append(ps, b.Params()...)
	}
	return append(append(ps, m.DecoderNorm.Params()...), m.IncreaseDim.Params()...)
}

// Buffers implements nn.Stateful: the mini-PointNet's BatchNorm statistics.
func (m *PointMAEPretrain) Buffers() []nn.Buffer {
	var bs []nn.Buffer
	for _, bn := range m.Encoder.BatchNorms() {
		bs = append(bs, bn.Buffers()...)
	}
	return bs
}

// Group runs the Point-MAE grouping of b clouds of n points with the configured sizes.
func (m *PointMAEPretrain) Group(points []float32, b, n int) (*geom.Groups, error) {
	return m.Cfg.group(points, b, n)
}

// RandomMask draws the mask [B·G] (true = masked) of MAE.MaskType for the groups:
// exactly NumMasked(G) masked groups in every cloud.
func (m *PointMAEPretrain) RandomMask(g *geom.Groups, rng *rand.Rand) []bool {
	k := m.MAE.NumMasked(g.G)
	mask := make([]bool, g.B*g.G)
	for bi := 0; bi < g.B; bi++ {
		row := mask[bi*g.G : (bi+1)*g.G]
		var order []int
		if m.MAE.MaskType == "block" {
			order = nearestFirst(g.Center[bi*g.G*3:(bi+1)*g.G*3], rng.IntN(g.G))
		} else {
			order = rng.Perm(g.G)
		}
		for _, j := range order[:k] {
			row[j] = true
		}
	}
	return mask
}

// nearestFirst orders the centres [G·3] by distance to centre c (upstream's block
// masking argsorts the same distances; ties keep the lower index here).
func nearestFirst(center []float32, c int) []int {
	g := len(center) / 3
	d := make([]float32, g)
	for j := range d {
		dx, dy, dz := center[3*j]-center[3*c], center[3*j+1]-center[3*c+1], center[3*j+2]-center[3*c+2]
		d[j] = dx*dx + dy*dy + dz*dz
	}
	order := make([]int, g)
	for j := range order {
		order[j] = j
	}
	sort.SliceStable(order, func(i, j int) bool { return d[order[i]] < d[order[j]] })
	return order
}

// maskRows splits the B·G groups by the mask into flat row indices of the visible and
// of the masked groups, each in the original order within a cloud (as tok[~mask] and
// tok[mask] flatten them), and checks that every cloud masks the same number, which
// the [B, ·, C] reshapes need.
func maskRows(mask []bool, b, g int) (vis, msk []int32, err error) {
	if len(mask) != b*g {
		return nil, nil, fmt.Errorf("model: mask has %d entries for %d clouds of %d groups", len(mask), b, g)
	}
	nm := -1
	for bi := 0; bi < b; bi++ {
		cnt := 0
		for j := 0; j < g; j++ {
			r := int32(bi*g + j)
			if mask[r] {
				msk = append(msk, r)
				cnt++
			} else {
				vis = append(vis, r)
			}
		}
		if nm >= 0 && cnt != nm {
			return nil, nil, fmt.Errorf("model: cloud %d masks %d groups, cloud 0 masks %d", bi, cnt, nm)
		}
		nm = cnt
	}
	if nm < 1 || nm >= g {
		return nil, nil, fmt.Errorf("model: the mask hides %d of %d groups: need at least one masked and one visible", nm, g)
	}
	return vis, msk, nil
}

// gatherRows copies rows (of width w) of src into a new [len(rows)·w] slice.
func gatherRows(src []float32, rows []int32, w int) []float32 {
	out := make([]float32, len(rows)*w)
	for i, r := range rows {
		copy(out[i*w:(i+1)*w], src[int(r)*w:(int(r)+1)*w])
	}
	return out
}

// EncodeVisible is the MaskTransformer: the mini-PointNet tokenises all groups (as
// upstream does, so train-mode BatchNorm statistics span every group), the visible
// tokens and their centres' positional embedding go through the blocks with
// x = blk(x + pos), then the final LayerNorm. vis are the visible rows of maskRows;
// the result is [B, len(vis)/B, C].
func (m *PointMAEPretrain) EncodeVisible(ctx *nn.Ctx, g *geom.Groups, vis []int32) *tensor.Tensor {
	c := m.Cfg.TransDim
	nv := len(vis) / g.B
	tok := m.Encoder.Forward(ctx, tensor.FromData(g.Neighborhood, g.B*g.G, g.M, 3)) // [BG, C]
	x := tensor.Reshape(tensor.IndexSelect(tok, vis), g.B, nv, c)
	pos := embed(m.PosEmbed, tensor.FromData(gatherRows(g.Center, vis, 3), g.B, nv, 3))
	for _, blk := range m.Blocks {
		x = blk.Forward(ctx, tensor.Add(x, pos))
	}
	return m.Norm.Forward(x)
}

func embed(pe [2]*nn.Linear, center *tensor.Tensor) *tensor.Tensor {
	return pe[1].Forward(tensor.GELU(pe[0].Forward(center)))
}

// Decode is the MAE decoder: mask tokens are appended after the visible tokens xVis
// [B, Nv, C], every token gets the decoder positional embedding of its centre (visible
// centres, then masked ones, in the order of vis and msk), the blocks run with
// x = blk(x + pos), and the last Nm tokens, layer-normalised, come out: [B, Nm, C].
func (m *PointMAEPretrain) Decode(ctx *nn.Ctx, g *geom.Groups, xVis *tensor.Tensor, vis, msk []int32) *tensor.Tensor {
	c := m.Cfg.TransDim
	nv, nm := len(vis)/g.B, len(msk)/g.B
	x := tensor.Concat(1, xVis, tensor.BroadcastTo(m.MaskToken, g.B, nm, c))
	pos := tensor.Concat(1,
		embed(m.DecoderPosEmbed, tensor.FromData(gatherRows(g.Center, vis, 3), g.B, nv, 3)),
		embed(m.DecoderPosEmbed, tensor.FromData(gatherRows(g.Center, msk, 3), g.B, nm, 3)))
	for _, blk := range m.DecoderBlocks {
		x = blk.Forward(ctx, tensor.Add(x, pos))
	}
	// Upstream normalises x[:, -N:], after the slice; LayerNorm is per token, so this
	// only saves work.
	return m.DecoderNorm.Forward(tensor.Slice(x, 1, nv, nv+nm))
}

// MAEOutput is one pre-training forward pass. Loss carries the graph; the rest are
// for inspection and visualisation.
type MAEOutput struct {
	Loss *tensor.Tensor // Chamfer-L2, scalar
	// Rebuild [B·Nm, M, 3] are the predicted centred points of the masked groups, and
	// GT [B·Nm, M, 3] their true centred points, masked groups in row-major order.
	Rebuild, GT *tensor.Tensor
	XVis        *tensor.Tensor // encoder output of the visible tokens [B, Nv, C]
	XRec        *tensor.Tensor // decoder output of the masked tokens [B, Nm, C]
	Mask        []bool         // [B·G], true = masked
	Groups      *geom.Groups
}

// Forward runs pre-training on b clouds of n points (flat xyz). mask [B·G] (true =
// masked, the same count in every cloud) fixes which groups are hidden; nil draws one
// with RandomMask from ctx.RNG, as upstream draws one per batch in train and eval mode.
func (m *PointMAEPretrain) Forward(ctx *nn.Ctx, points []float32, b, n int, mask []bool) (*MAEOutput, error) {
	g, err := m.Group(points, b, n)
	if err != nil {
		return nil, err
	}
	if mask == nil {
		if ctx.RNG == nil {
			return nil, fmt.Errorf("model: no mask given and no random source in the context")
		}
		mask = m.RandomMask(g, ctx.RNG)
	}
	vis, msk, err := maskRows(mask, g.B, g.G)
	if err != nil {
		return nil, err
	}
	nm := len(msk) / b
	xVis := m.EncodeVisible(ctx, g, vis)
	xRec := m.Decode(ctx, g, xVis, vis, msk)
	// Channel k of increase_dim is coordinate k%3 of point k/3, so channels-last output
	// [B, Nm, 3M] is already [B·Nm, M, 3] in memory.
	rebuild := tensor.Reshape(m.IncreaseDim.Forward(xRec), b*nm, g.M, 3)
	gt := tensor.FromData(gatherRows(g.Neighborhood, msk, g.M*3), b*nm, g.M, 3)
	return &MAEOutput{Loss: tensor.ChamferL2(rebuild, gt), Rebuild: rebuild, GT: gt, XVis: xVis, XRec: xRec, Mask: mask, Groups: g}, nil
}
