// Package pointlora is PointLoRA (Wang et al., "PointLoRA: Low-Rank Adaptation with
// Token Selection for Point Cloud Learning", CVPR 2025) on a Point-MAE backbone, as
// released in github.com/songw-zju/PointLoRA (models/PointLoRA.py, utils/lora.py,
// tools/runner_finetune_pointlora.py):
//
//   - LoRA on the attention's qkv and output projections of every block (the released
//     code adapts these two; the MLP keeps its frozen weights): W x + B A x, with a
//     shared prompt MLP added to each projection's output (LoRALinear);
//   - multi-scale token selection: the cloud is grouped again at two scales (128×32 and
//     64×64), the frozen-but-for-first_conv token encoder embeds both, a mask predictor
//     scores each token, and the top 32 and top 8 join the sequence (Forward);
//   - prompt MLPs on the point tokens and on the selected tokens before every block;
//   - an entropy term of the mask probabilities added to the loss, weight 0.004.
//
// Parameter names are the authors' module names after their LoRA injection
// (blocks.blocks.i.attn.qkv.linear.weight, …qkv.lora_A, lora_mask_predictor.fc1, …), so
// their fine-tuned checkpoints load, and Trains is their trainable filter. Differences
// from the released code, none of which changes numbers at the authors' settings, are
// listed in README.md next to this file.
package pointlora

import (
	"fmt"
	"math/rand/v2"

	"github.com/pointpeft/pointpeft/geom"
	"github.com/pointpeft/pointpeft/model"
	"github.com/pointpeft/pointpeft/nn"
	"github.com/pointpeft/pointpeft/tensor"
)

// Model is a Point-MAE PointTransformer with PointLoRA's modules: the authors'
// PointTransformer_PointLoRA after inject_pointlora2pt.
type Model struct {
	Cfg      Config
	Backbone *model.PointTransformer // encoder, cls token, positional MLP, norms, MLPs, head
	// MaskPredictor scores the tokens of the two extra scales ("lora_mask_predictor").
	MaskPredictor *MaskPredictor
	Blocks        []*Block
	// The prompt MLPs, shared by all blocks ("blocks.prompt_*_mlp"): on the point tokens
	// and on the selected tokens before each block, and inside every adapted qkv and
	// output projection.
	PromptMLP, PromptPosMLP, PromptQKVMLP, PromptProjMLP *PromptMLP
	// merged is set by Merge: every B is zero, its update folded into W.
	merged bool
}

// Block is a backbone block whose attention projections are LoRALinear.
type Block struct {
	Base      *nn.Block // norm1, norm2, mlp and drop path of the backbone
	QKV, Proj *LoRALinear
}

// LoRALinear is the authors' LoRALinear around a frozen projection W:
//
//	y = W x + b + (α/r)·B A x + gate·PromptMLP(x)
//
// A [r, in] is Kaiming-uniform, B [out, r] zero, so training starts from the
// pre-trained projection plus the prompt MLP; gate is a frozen 1 ("weight").
type LoRALinear struct {
	Linear  *nn.Linear     // the frozen projection, renamed "….linear.weight/bias"
	A, B    *tensor.Tensor // lora_A, lora_B
	Gate    *tensor.Tensor // "weight", shape [1]
	Scaling float32        // α/r
}

// PromptMLP is Linear(C, h) → GELU → Linear(h, out), named ".0" and ".2".
type PromptMLP struct{ FC1, FC2 *nn.Linear }

// MaskPredictor is sigmoid(fc2(ReLU(fc1(token)))), one probability per token.
type MaskPredictor struct{ FC1, FC2 *nn.Linear }

// New wraps a backbone holding pre-trained weights. The backbone's qkv and output
// projections become the frozen W of LoRALinear layers that share their data (so
// Merge changes the backbone too); new modules get the authors' initialisations.
func New(bb *model.PointTransformer, cfg Config, rng *rand.Rand) (*Model, error) {
	c := bb.Cfg.TransDim
	if err := cfg.Validate(bb.Cfg.NumGroup); err != nil {
		return nil, err
	}
	m := &Model{
		Cfg:      cfg,
		Backbone: bb,
		MaskPredictor: &MaskPredictor{
			FC1: nn.NewLinear("lora_mask_predictor.fc1", c, c/2, true, rng),
			FC2: nn.NewLinear("lora_mask_predictor.fc2", c/2, 1, true, rng),
		},
		PromptMLP:     newPromptMLP("blocks.prompt_mlp", c, cfg.PromptHidden, c, rng),
		PromptPosMLP:  newPromptMLP("blocks.prompt_pos_mlp", c, cfg.PromptHidden, c, rng),
		PromptProjMLP: newPromptMLP("blocks.prompt_proj_mlp", c, cfg.PromptHidden, c, rng),
		PromptQKVMLP:  newPromptMLP("blocks.prompt_qkv_mlp", c, cfg.PromptHidden, 3*c, rng),
	}
	for i, base := range bb.Blocks {
		prefix := fmt.Sprintf("blocks.blocks.%d", i)
		m.Blocks = append(m.Blocks, &Block{
			Base: base,
			QKV:  newLoRALinear(prefix+".attn.qkv", base.Attn.QKV, cfg, rng),
			Proj: newLoRALinear(prefix+".attn.proj", base.Attn.Proj, cfg, rng),
		})
	}
	return m, nil
}

func newLoRALinear(name string, l *nn.Linear, cfg Config, rng *rand.Rand) *LoRALinear {
	out, in := l.Weight.Dim(0), l.Weight.Dim(1)
	alias := func(t *tensor.Tensor, leaf string) *tensor.Tensor {
		if t == nil {
			return nil
		}
		p := tensor.NewParam(name+".linear."+leaf, t.Data, t.Shape()...)
		p.SetTrainable(t.RequiresGrad())
		return p
	}
	return &LoRALinear{
		Linear: &nn.Linear{Weight: alias(l.Weight, "weight"), Bias: alias(l.Bias, "bias")},
		// kaiming_uniform_(a=√5) on [r, in]: bound 1/√in.
		A:       tensor.NewParam(name+".lora_A", nn.Uniform(rng, cfg.Rank*in, 1/sqrt(in)), cfg.Rank, in),
		B:       tensor.NewParam(name+".lora_B", make([]float32, out*cfg.Rank), out, cfg.Rank),
		Gate:    tensor.NewParam(name+".weight", []float32{1}, 1),
		Scaling: cfg.Alpha / float32(cfg.Rank),
	}
}

func newPromptMLP(name string, in, hidden, out int, rng *rand.Rand) *PromptMLP {
	// trunc_normal_(std=0.02) weights and zero biases, the authors' _init_weights.
	lin := func(leaf string, i, o int) *nn.Linear {
		return &nn.Linear{
			Weight: tensor.NewParam(name+"."+leaf+".weight", nn.TruncNormal(rng, o*i, 0.02), o, i),
			Bias:   tensor.NewParam(name+"."+leaf+".bias", make([]float32, o), o),
		}
	}
	return &PromptMLP{FC1: lin("0", in, hidden), FC2: lin("2", hidden, out)}
}

// Forward maps x [..., in] to [..., out].
func (p *PromptMLP) Forward(x *tensor.Tensor) *tensor.Tensor {
	return p.FC2.Forward(tensor.GELU(p.FC1.Forward(x)))
}

// Params implements nn.Module.
func (p *PromptMLP) Params() []*tensor.Tensor { return nn.Collect(p.FC1, p.FC2) }

// Forward maps tokens [B, G, C] to mask probabilities [B, G].
func (p *MaskPredictor) Forward(tok *tensor.Tensor) *tensor.Tensor {
	s := p.FC2.Forward(tensor.ReLU(p.FC1.Forward(tok)))
	return tensor.Sigmoid(tensor.Reshape(s, tok.Dim(0), tok.Dim(1)))
}

// Params implements nn.Module.
func (p *MaskPredictor) Params() []*tensor.Tensor { return nn.Collect(p.FC1, p.FC2) }

// Forward is y = W x + b + (α/r)·B A x + gate·prompt(x); after Merge (merged set) the
// B A x term is in W already.
func (l *LoRALinear) Forward(x *tensor.Tensor, prompt *PromptMLP, merged bool) *tensor.Tensor {
	y := l.Linear.Forward(x)
	if !merged {
		low := tensor.Linear(tensor.Linear(x, l.A, nil), l.B, nil)
		if l.Scaling != 1 {
			low = tensor.Scale(low, l.Scaling)
		}
		y = tensor.Add(y, low)
	}
	return tensor.Add(y, tensor.Mul(prompt.Forward(x), l.Gate))
}

// Params implements nn.Module in the authors' registration order.
func (l *LoRALinear) Params() []*tensor.Tensor {
	return append([]*tensor.Tensor{l.A, l.B, l.Gate}, l.Linear.Params()...)
}

// merge folds (α/r)·B·A into W and zeroes B.
func (l *LoRALinear) merge() {
	w, a, b := l.Linear.Weight.Data, l.A.Data, l.B.Data
	r, in := l.A.Dim(0), l.A.Dim(1)
	for o := 0; o < l.B.Dim(0); o++ {
		row := w[o*in : (o+1)*in]
		for k := 0; k < r; k++ {
			s := l.Scaling * b[o*r+k]
			if s == 0 {
				continue
			}
			for i, v := range a[k*in : (k+1)*in] {
				row[i] += s * v
			}
		}
	}
	clear(b)
}

// forward runs the block on x [B, T, C] (positions and prompts already added):
//
//	x = x + DropPath(Proj(Attn(QKV(LN1(x)))))     QKV and Proj are LoRALinear
//	x = x + DropPath(MLP(LN2(x)))
//
// It is a tensor.Segment: what the backward pass does not read is dropped on return.
func (blk *Block) forward(ctx *nn.Ctx, m *Model, x *tensor.Tensor) *tensor.Tensor {
	return tensor.Segment(func() *tensor.Tensor {
		base := blk.Base
		qkv := blk.QKV.Forward(base.Norm1.Forward(x), m.PromptQKVMLP, m.merged)
		a := blk.Proj.Forward(tensor.Attention(qkv, base.Attn.Heads, base.Attn.Scale), m.PromptProjMLP, m.merged)
		x := tensor.Add(x, tensor.DropPath(a, base.DropPath, ctx.Train, ctx.RNG))
		return tensor.Add(x, tensor.DropPath(base.MlpBranch(ctx, x), base.DropPath, ctx.Train, ctx.RNG))
	})
}

// Params implements nn.Module in the authors' registration order (norm1, norm2, mlp,
// attn).
func (blk *Block) Params() []*tensor.Tensor {
	ps := nn.Collect(blk.Base.Norm1, blk.Base.Norm2, blk.Base.Mlp)
	return append(append(ps, blk.QKV.Params()...), blk.Proj.Params()...)
}

// Params implements nn.Module in the authors' registration order.
func (m *Model) Params() []*tensor.Tensor {
	bb := m.Backbone
	ps := append([]*tensor.Tensor{bb.ClsToken, bb.ClsPos}, bb.Encoder.Params()...)
	if bb.ReduceDim != nil {
		ps = append(ps, bb.ReduceDim.Params()...)
	}
	ps = append(ps, m.MaskPredictor.Params()...)
	ps = append(ps, nn.Collect(bb.PosEmbed[0], bb.PosEmbed[1])...)
	for _, b := range m.Blocks {
		ps = append(ps, b.Params()...)
	}
	ps = append(ps, nn.Collect(m.PromptMLP, m.PromptPosMLP, m.PromptProjMLP, m.PromptQKVMLP)...)
	ps = append(ps, bb.Norm.Params()...)
	return append(ps, bb.Head.Params()...)
}

// Buffers implements nn.Stateful: the backbone's BatchNorm statistics.
func (m *Model) Buffers() []nn.Buffer { return m.Backbone.Buffers() }

// SetTrainable freezes or unfreezes every parameter as the authors' filter (Trains)
// says.
func (m *Model) SetTrainable() {
	for _, p := range m.Params() {
		p.SetTrainable(Trains(p.Name()))
	}
}

// Forward classifies b clouds of n points (flat xyz) and returns logits [B, classes].
// In training it attaches the weighted mask-entropy loss to the logits
// (tensor.WithLoss), so that a loop minimising a loss of the logits also trains the
// mask predictor, as the authors' loss + 0.004·mask_loss does. Training also ends a
// Merge: the low-rank path runs again (from B = 0 over the merged weights).
func (m *Model) Forward(ctx *nn.Ctx, points []float32, b, n int) (*tensor.Tensor, error) {
	bb, cfg := m.Backbone, &m.Cfg
	if ctx.Train {
		m.merged = false
	}
	g, err := bb.Group(points, b, n)
	if err != nil {
		return nil, err
	}
	var scales [2]*geom.Groups
	for i, s := range cfg.Scales {
		if n < s.Groups || n < s.GroupSize {
			return nil, fmt.Errorf("pointlora: %d points per cloud, but scale %d groups %d centres of %d points", n, i+1, s.Groups, s.GroupSize)
		}
		if s.Groups == g.G && s.GroupSize == g.M {
			// FPS and kNN are deterministic: the same grouping (PB_T50_RS's scale 1).
			scales[i] = g
			continue
		}
		if scales[i], err = geom.Group(points, b, n, s.Groups, s.GroupSize); err != nil {
			return nil, fmt.Errorf("pointlora: scale %d grouping: %w", i+1, err)
		}
	}
	tok, pos := bb.Embed(ctx, g)
	x, p := bb.WithCls(tok, pos)
	var maskLoss *tensor.Tensor
	for i, s := range cfg.Scales {
		// Token selection: score the tokens of this scale, keep the top Keep.
		stok, spos := bb.Embed(ctx, scales[i])
		prob := m.MaskPredictor.Forward(stok)
		term := tensor.Scale(negEntropy(prob), cfg.ScaleLossWeights[i])
		if maskLoss == nil {
			maskLoss = term
		} else {
			maskLoss = tensor.Add(maskLoss, term)
		}
		idx := selectTop(prob, s.Keep)
		x = tensor.Concat(1, x, gatherRows(stok, idx, s.Keep))
		p = tensor.Concat(1, p, gatherRows(spos, idx, s.Keep))
	}
	for _, blk := range m.Blocks {
		in := m.prompt(tensor.Add(x, p), g.G)
		y := blk.forward(ctx, m, in)
		// Dead now, unless a backward step reads them (Free checks).
		tensor.Free(x)
		tensor.Free(in)
		x = y
	}
	logits := bb.Head.Forward(ctx, model.Pool(bb.Norm.Forward(x)))
	if ctx.Train && tensor.GradEnabled() {
		logits = tensor.WithLoss(logits, maskLoss, cfg.MaskLossWeight)
	}
	return logits, nil
}

// prompt adds the prompt MLPs to x [B, T, C] = [cls; G point tokens; selected tokens]:
// the point tokens get x + PromptMLP(x), then the selected ones x + PromptPosMLP(x). The
// released code takes tokens 1…128 for the first (its num_gruop is hard-coded); in
// faithful mode so do we, which with fewer than 128 point tokens (ModelNet40's 64)
// reaches the selected tokens too, before PromptPosMLP.
func (m *Model) prompt(x *tensor.Tensor, g int) *tensor.Tensor {
	t := x.Dim(1)
	end := 1 + g
	if m.Cfg.Mode == Faithful {
		end = min(1+m.Cfg.PromptTokens, t)
	}
	parts := []*tensor.Tensor{tensor.Slice(x, 1, 0, 1), residual(m.PromptMLP, tensor.Slice(x, 1, 1, end))}
	if end < t {
		parts = append(parts, tensor.Slice(x, 1, end, t))
	}
	x = tensor.Concat(1, parts...)
	sel := t - m.Cfg.Selected()
	return tensor.Concat(1, tensor.Slice(x, 1, 0, sel), residual(m.PromptPosMLP, tensor.Slice(x, 1, sel, t)))
}

func residual(p *PromptMLP, x *tensor.Tensor) *tensor.Tensor { return tensor.Add(x, p.Forward(x)) }

// negEntropy is mean(p·log(p+1e-6) + (1−p)·log(1−p+1e-6)), the authors' mask_loss
// term: the negative binary entropy, so minimising it pushes p towards ½.
func negEntropy(p *tensor.Tensor) *tensor.Tensor {
	q := tensor.AddScalar(tensor.Scale(p, -1), 1)
	plogp := tensor.Mul(p, tensor.Log(tensor.AddScalar(p, 1e-6)))
	qlogq := tensor.Mul(q, tensor.Log(tensor.AddScalar(q, 1e-6)))
	return tensor.MeanAll(tensor.Add(plogp, qlogq))
}

// selectTop returns the flat row indices (b·G + j) of the k most probable tokens of each
// cloud, most probable first, as torch.topk. The choice carries no gradient: the
// predictor learns from the entropy term alone, as in the authors' code.
func selectTop(prob *tensor.Tensor, k int) []int32 {
	_, idx := tensor.TopK(prob, k)
	g := int32(prob.Dim(1))
	for i := range idx {
		idx[i] += int32(i/k) * g
	}
	return idx
}

// gatherRows picks rows idx of x [B, G, C] into [B, k, C].
func gatherRows(x *tensor.Tensor, idx []int32, k int) *tensor.Tensor {
	b, g, c := x.Dim(0), x.Dim(1), x.Dim(2)
	return tensor.Reshape(tensor.IndexSelect(tensor.Reshape(x, b*g, c), idx), b, k, c)
}

// Merge folds every LoRA update into its frozen projection, W ← W + (α/r)·B·A, and
// zeroes B, so that inference costs one matrix product per projection, as the
// backbone's. The logits do not change (up to rounding). The prompt MLPs inside the
// projections are not linear and stay. W is shared with the backbone, whose weights
// change too; a checkpoint saved after Merge holds the merged W and B = 0, and loads
// into an unmerged model with the same result.
func (m *Model) Merge() {
	for _, b := range m.Blocks {
		b.QKV.merge()
		b.Proj.merge()
	}
	m.merged = true
}
