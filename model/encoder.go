package model

import (
	"math"
	"math/rand/v2"

	"github.com/pointpeft/pointpeft/nn"
	"github.com/pointpeft/pointpeft/tensor"
)

// Encoder is Point-MAE's mini-PointNet token encoder: each group of M centred points
// becomes one token of width Dims. Its layer names are the checkpoint's: first_conv.{0,1,3}
// and second_conv.{0,1,3}.
type Encoder struct {
	Conv1 *nn.Conv1x1     // first_conv.0: 3 → h0 (128)
	BN1   *nn.BatchNorm1d // first_conv.1
	Conv2 *nn.Conv1x1     // first_conv.3: h0 → h1 (256)
	Conv3 *nn.Conv1x1     // second_conv.0: 2·h1 → h2 (512)
	BN2   *nn.BatchNorm1d // second_conv.1
	Conv4 *nn.Conv1x1     // second_conv.3: h2 → Dims
	Dims  int
}

// NewEncoder makes an Encoder named prefix ("encoder") with hidden widths h.
func NewEncoder(prefix string, h [3]int, dims int, rng *rand.Rand) *Encoder {
	p := func(s string) string { return prefix + "." + s }
	return &Encoder{
		Conv1: nn.NewConv1x1(p("first_conv.0"), 3, h[0], rng),
		BN1:   nn.NewBatchNorm1d(p("first_conv.1"), h[0]),
		Conv2: nn.NewConv1x1(p("first_conv.3"), h[0], h[1], rng),
		Conv3: nn.NewConv1x1(p("second_conv.0"), 2*h[1], h[2], rng),
		BN2:   nn.NewBatchNorm1d(p("second_conv.1"), h[2]),
		Conv4: nn.NewConv1x1(p("second_conv.3"), h[2], dims, rng),
		Dims:  dims,
	}
}

// Forward encodes neighbourhoods nb [BG, M, 3] into tokens [BG, Dims]:
// per-point features, their max concatenated back onto each point, a second MLP, max.
func (e *Encoder) Forward(ctx *nn.Ctx, nb *tensor.Tensor) *tensor.Tensor {
	bg := nb.Dim(0)
	f := e.Conv2.Forward(tensor.ReLU(convBN(ctx, e.Conv1, e.BN1, nb))) // [BG, M, h1]
	h1 := f.Dim(2)
	g, _ := tensor.Max(f, 1) // [BG, h1]
	// second_conv.0 acts on concat([g; f]) (global feature first, as the authors' cat).
	// Splitting its weight into the columns for g and for f computes the global part
	// once per group instead of once per point, and never builds the concatenation:
	// half the FLOPs of the largest layer and one [BG·M, 2·h1] tensor less.
	h2 := e.Conv3.Weight.Dim(0)
	w := tensor.Reshape(e.Conv3.Weight, h2, 2*h1)
	perPoint := tensor.Linear(f, tensor.Slice(w, 1, h1, 2*h1), e.Conv3.Bias)
	global := tensor.Reshape(tensor.Linear(g, tensor.Slice(w, 1, 0, h1), nil), bg, 1, h2)
	y := tensor.Add(perPoint, global)
	y = e.Conv4.Forward(tensor.ReLU(e.BN2.Forward(ctx, y)))
	tok, _ := tensor.Max(y, 1)
	return tok
}

// convBN is conv then BatchNorm. In evaluation with nothing to differentiate, the
// BatchNorm is folded into the convolution's weight and bias: one pass over the
// [BG·M, C] activations instead of two.
func convBN(ctx *nn.Ctx, conv *nn.Conv1x1, bn *nn.BatchNorm1d, x *tensor.Tensor) *tensor.Tensor {
	if ctx.Train || (tensor.GradEnabled() && (x.RequiresGrad() || conv.Weight.RequiresGrad() ||
		conv.Bias.RequiresGrad() || bn.Weight.RequiresGrad() || bn.Bias.RequiresGrad())) {
		return bn.Forward(ctx, conv.Forward(x))
	}
	out, in := conv.Weight.Dim(0), conv.Weight.Dim(1)
	w := make([]float32, out*in)
	b := make([]float32, out)
	st := &bn.State
	for o := 0; o < out; o++ {
		s := bn.Weight.Data[o] / float32(math.Sqrt(float64(st.Var[o])+float64(st.Eps)))
		for i := 0; i < in; i++ {
			w[o*in+i] = conv.Weight.Data[o*in+i] * s
		}
		b[o] = (conv.Bias.Data[o]-st.Mean[o])*s + bn.Bias.Data[o]
	}
	return tensor.Linear(x, tensor.FromData(w, out, in), tensor.FromData(b, out))
}

// Params implements nn.Module.
func (e *Encoder) Params() []*tensor.Tensor {
	return nn.Collect(e.Conv1, e.BN1, e.Conv2, e.Conv3, e.BN2, e.Conv4)
}

// BatchNorms lists the encoder's BatchNorm layers (their running statistics are state).
func (e *Encoder) BatchNorms() []*nn.BatchNorm1d { return []*nn.BatchNorm1d{e.BN1, e.BN2} }
