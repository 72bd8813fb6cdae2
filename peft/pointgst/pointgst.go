// Package pointgst is PointGST (Liang et al., "Parameter-Efficient Fine-Tuning in
// Spectral Domain for Point Cloud Learning", TPAMI 2025) on a frozen Point-MAE /
// Point-BERT backbone: every block gets a Point Cloud Spectral Adapter (PCSA) beside its
// MLP. The adapter projects tokens to a small rank, moves them into the spectral domain
// of two point graphs built from the token centres, a global one over all tokens and
// local ones over runs of the tokens' z-order, refines the spectral coefficients with a
// shared linear layer, and brings them back. The graphs' Fourier bases (Laplacian
// eigenvectors) depend only on the geometry and are computed once per forward pass
// without gradient (graph.go).
//
// Parameter names follow the authors' state dicts (github.com/jerryfeng2003/PointGST,
// models/PointTransformer.py and models/PGST.py), so their fine-tuned checkpoints load.
// Where the released code is not reproducible (its graph scale is a rounding residue
// of torch.cdist; eigenvector signs are the eigensolver's choice) both modes use exact
// distances and canonical signs; docs/pointgst.md explains and measures this.
package pointgst

import (
	"fmt"
	"github.com/pointpeft/pointpeft/peft"
	"math/rand/v2"
	"strings"

	"github.com/pointpeft/pointpeft/model"
	"github.com/pointpeft/pointpeft/nn"
	"github.com/pointpeft/pointpeft/tensor"
)

// Mode selects between the authors' released computation and the corrected one.
type Mode = peft.Mode

const (
	// Faithful is the released code: the "Fourier transform" multiplies by U instead
	// of Uᵀ (the authors kept it to reproduce their paper), and the graph scale s is
	// the smallest pairwise distance over the whole batch, so a cloud's logits depend
	// on the other clouds of its batch.
	Faithful = peft.Faithful
	// Fixed transforms with Uᵀ (coefficients on the eigenvectors) and scales every
	// graph by its own smallest distance.
	Fixed = peft.Fixed
)

// Config holds PointGST's hyper-parameters.
type Config struct {
	Mode Mode `yaml:"mode" json:"mode"`
	// Rank is the adapter's bottleneck width r (the authors' "rank").
	Rank int `yaml:"rank" json:"rank"`
	// Local is the number of z-order-consecutive tokens in each local graph (the
	// authors' "local"); it must divide the backbone's number of groups.
	Local int `yaml:"local" json:"local"`
}

// ScanObjectNN is the authors' PB_T50_RS configuration on Point-MAE
// (cfgs/mae/finetune_scan_hardest_pgst.yaml): rank 36, local graphs of 32 tokens, on
// the 128×32 grouping of 2048 points.
func ScanObjectNN(mode Mode) Config { return Config{Mode: mode, Rank: 36, Local: 32} }

// ModelNet40 is the authors' ModelNet40 configuration (finetune_modelnet_pgst.yaml):
// the same adapter on the 64×32 grouping of 1024 points.
func ModelNet40(mode Mode) Config { return Config{Mode: mode, Rank: 36, Local: 32} }

// Validate reports the first value that does not fit a backbone of g groups.
func (c Config) Validate(groups int) error {
	switch {
	case c.Mode != Faithful && c.Mode != Fixed:
		return fmt.Errorf("pointgst config: mode %q is neither faithful nor fixed", c.Mode)
	case c.Rank < 1:
		return fmt.Errorf("pointgst config: rank %d must be positive", c.Rank)
	case c.Local < 2 || groups%c.Local != 0:
		return fmt.Errorf("pointgst config: local graphs of %d tokens do not split the backbone's %d groups", c.Local, groups)
	}
	return nil
}

// Model is a backbone with a PCSA in every block: the authors' PointTransformer_PGST.
type Model struct {
	Cfg      Config
	Backbone *model.PointTransformer // encoder, cls token, positional MLP, final norm, head
	Blocks   []*Block
}

// Block is a backbone block with its adapter (the authors' Block with adapt=True):
//
//	x = x + DropPath(Attn(LN1(x)))
//	t = PCSA(x)
//	x = x + DropPath(MLP(LN2(x))) + t
type Block struct {
	Base    *nn.Block
	Adapter *PCSA // "gft_adapter"
}

// PCSA is the Point Cloud Spectral Adapter. With h = down(x) the r-wide tokens:
//
//	x̂ = F(h)                 global graph Fourier transform over all tokens
//	x̂ = x̂ + SiLU(adapt1(norm_ly1(x̂)))
//	ŝ = F_local(zsort(h))    local graphs: runs of Local tokens in z-order
//	ŝ = ŝ + SiLU(adapt1(norm_ly2(ŝ)))   adapt1 is shared by both
//	out = up(SiLU(h) + F⁻¹(x̂) + unsort(F_local⁻¹(ŝ)))
//
// on the point tokens; the cls token gets up(SiLU(h)) alone.
type PCSA struct {
	NormLy1, NormLy2 *nn.LayerNorm
	Down, Up, Adapt1 *nn.Linear
}

// NewPCSA makes an adapter of width dim and rank r with the authors' initialisation:
// down Xavier-uniform (bias PyTorch default), up and adapt1 zero, so that a new
// adapter adds nothing.
func NewPCSA(name string, dim, r int, rng *rand.Rand) *PCSA {
	a := &PCSA{
		NormLy1: nn.NewLayerNorm(name+".norm_ly1", r),
		NormLy2: nn.NewLayerNorm(name+".norm_ly2", r),
		Down:    nn.NewLinear(name+".down", dim, r, true, rng),
		Up:      nn.NewLinear(name+".up", r, dim, true, rng),
		Adapt1:  nn.NewLinear(name+".adapt1", r, r, true, rng),
	}
	copy(a.Down.Weight.Data, nn.XavierUniform(rng, r, dim))
	for _, p := range append(a.Up.Params(), a.Adapt1.Params()...) {
		clear(p.Data)
	}
	return a
}

// Params implements nn.Module in the authors' registration order.
func (a *PCSA) Params() []*tensor.Tensor {
	return nn.Collect(a.NormLy1, a.NormLy2, a.Down, a.Up, a.Adapt1)
}

// Forward adapts x [B, 1+G, C] with the batch's spectra.
func (a *PCSA) Forward(x *tensor.Tensor, sp *Spectra, mode Mode) *tensor.Tensor {
	b, g, l := sp.B, sp.G, sp.L
	h := a.Down.Forward(x)
	r := h.Dim(2)
	tok := tensor.Slice(h, 1, 1, 1+g)
	act := silu(h)

	glob := a.spectral(tok, tensor.FromData(sp.U, b, g, g), a.NormLy1, mode)
	sub := tensor.Reshape(tensor.IndexSelect(tensor.Reshape(tok, b*g, r), sp.Order), b*g/l, l, r)
	sub = a.spectral(sub, tensor.FromData(sp.SubU, b*g/l, l, l), a.NormLy2, mode)
	local := tensor.Reshape(tensor.IndexSelect(tensor.Reshape(sub, b*g, r), sp.Inverse), b, g, r)

	tok = tensor.Add(tensor.Add(glob, local), tensor.Slice(act, 1, 1, 1+g))
	return a.Up.Forward(tensor.Concat(1, tensor.Slice(act, 1, 0, 1), tok))
}

// spectral is F⁻¹(x̂ + SiLU(adapt1(norm(x̂)))), x̂ = F(x), for signals x [N, k, r] on
// graphs with bases u [N, k, k]: F is Uᵀ· (Fixed) or U· as released (Faithful), F⁻¹
// its transpose.
func (a *PCSA) spectral(x, u *tensor.Tensor, norm *nn.LayerNorm, mode Mode) *tensor.Tensor {
	fixed := mode == Fixed
	f := tensor.MatMul(u, x, fixed, false)
	f = tensor.Add(f, silu(a.Adapt1.Forward(norm.Forward(f))))
	return tensor.MatMul(u, f, !fixed, false)
}

// silu is x·σ(x), PyTorch's nn.SiLU.
func silu(x *tensor.Tensor) *tensor.Tensor { return tensor.Mul(x, tensor.Sigmoid(x)) }

// New wraps a backbone holding pre-trained weights with a new adapter in every block.
func New(bb *model.PointTransformer, cfg Config, rng *rand.Rand) (*Model, error) {
	if err := cfg.Validate(bb.Cfg.NumGroup); err != nil {
		return nil, err
	}
	m := &Model{Cfg: cfg, Backbone: bb}
	for i, base := range bb.Blocks {
		name := fmt.Sprintf("blocks.blocks.%d.gft_adapter", i)
		m.Blocks = append(m.Blocks, &Block{Base: base, Adapter: NewPCSA(name, bb.Cfg.TransDim, cfg.Rank, rng)})
	}
	return m, nil
}

// Trains is the authors' trainable filter (optimizer part "adapt" in tools/builder.py):
// every name containing "adapt" (the adapters) or "cls" (cls token and position, head).
func Trains(name string) bool {
	return strings.Contains(name, "adapt") || strings.Contains(name, "cls")
}

// SetTrainable freezes every parameter that Trains rejects and unfreezes the others.
func (m *Model) SetTrainable() {
	for _, p := range m.Params() {
		p.SetTrainable(Trains(p.Name()))
	}
}

// Params implements nn.Module in the authors' registration order.
func (m *Model) Params() []*tensor.Tensor {
	bb := m.Backbone
	ps := append(bb.Encoder.Params(), bb.ClsToken, bb.ClsPos)
	if bb.ReduceDim != nil {
		ps = append(ps, bb.ReduceDim.Params()...)
	}
	ps = append(ps, nn.Collect(bb.PosEmbed[0], bb.PosEmbed[1])...)
	for _, blk := range m.Blocks {
		b := blk.Base
		ps = append(ps, nn.Collect(b.Norm1, b.Norm2, b.Mlp, b.Attn, blk.Adapter)...)
	}
	return append(append(ps, bb.Norm.Params()...), bb.Head.Params()...)
}

// Buffers implements nn.Stateful: the backbone's BatchNorm statistics.
func (m *Model) Buffers() []nn.Buffer { return m.Backbone.Buffers() }

// Forward classifies b clouds of n points (flat xyz) and returns logits [B, classes].
func (m *Model) Forward(ctx *nn.Ctx, points []float32, b, n int) (*tensor.Tensor, error) {
	bb := m.Backbone
	g, err := bb.Group(points, b, n)
	if err != nil {
		return nil, err
	}
	sp, err := NewSpectra(g.Center, b, g.G, m.Cfg.Local, m.Cfg.Mode)
	if err != nil {
		return nil, err
	}
	tok, pos := bb.Embed(ctx, g)
	x, p := bb.WithCls(tok, pos)
	for _, blk := range m.Blocks {
		in := tensor.Add(x, p)
		y := blk.Forward(ctx, in, sp, m.Cfg.Mode)
		// Dead now, unless a backward step reads them (Free checks).
		tensor.Free(x)
		tensor.Free(in)
		x = y
	}
	return bb.Head.Forward(ctx, model.Pool(bb.Norm.Forward(x))), nil
}

// Forward runs the block on x [B, 1+G, C] (positions already added). It is a
// tensor.Segment: what the backward pass does not read is dropped when it returns.
func (blk *Block) Forward(ctx *nn.Ctx, x *tensor.Tensor, sp *Spectra, mode Mode) *tensor.Tensor {
	base := blk.Base
	return tensor.Segment(func() *tensor.Tensor {
		x := tensor.Add(x, tensor.DropPath(base.AttnBranch(ctx, x), base.DropPath, ctx.Train, ctx.RNG))
		t := blk.Adapter.Forward(x, sp, mode)
		x = tensor.Add(x, tensor.DropPath(base.MlpBranch(ctx, x), base.DropPath, ctx.Train, ctx.RNG))
		return tensor.Add(x, t)
	})
}
