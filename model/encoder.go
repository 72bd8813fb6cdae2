package model

import (
	"math/rand/v2"

	"github.com/pointpeft/pointpeft/nn"
	"github.com/pointpeft/pointpeft/tensor"
)

// Encoder is Point-MAE's mini-PointNet token encoder: each group of M centred points
// becomes one token of width dims (NewEncoder). Its layer names are the checkpoint's: first_conv.{0,1,3}
// and second_conv.{0,1,3}.
type Encoder struct {
	Conv1 *nn.Conv1x1     // first_conv.0: 3 → h0 (128)
	BN1   *nn.BatchNorm1d // first_conv.1
	Conv2 *nn.Conv1x1     // first_conv.3: h0 → h1 (256)
	Conv3 *nn.Conv1x1     // second_conv.0: 2·h1 → h2 (512)
	BN2   *nn.BatchNorm1d // second_conv.1
	Conv4 *nn.Conv1x1     // second_conv.3: h2 → dims
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
	}
}

// Forward encodes neighbourhoods nb [BG, M, 3] into tokens [BG, Dims]:
// per-point features, their max concatenated back onto each point, a second MLP, max.
func (e *Encoder) Forward(ctx *nn.Ctx, nb *tensor.Tensor) *tensor.Tensor {
	if !e.recording(nb) {
		return e.forwardFrozen(ctx, nb)
	}
	f := e.Conv2.Forward(tensor.ReLU(e.BN1.Forward(ctx, e.Conv1.Forward(nb)))) // [BG, M, h1]
	perPoint, global := e.secondConv(f)
	y := tensor.Add(perPoint, global)
	y = e.Conv4.Forward(tensor.ReLU(e.BN2.Forward(ctx, y)))
	tok, _ := tensor.Max(y, 1)
	return tok
}

// secondConv is second_conv.0 on concat([max_M f; f]) (global feature first, as the
// authors' cat) for f [BG, M, h1], as its per-point part [BG, M, h2] (with the bias) and
// its global part [BG, 1, h2]. Splitting the weight into the columns for the global
// feature and for f computes the global part once per group instead of once per point
// and never builds the concatenation: half the FLOPs of the largest layer and one
// [BG·M, 2·h1] tensor less.
func (e *Encoder) secondConv(f *tensor.Tensor) (perPoint, global *tensor.Tensor) {
	bg, h1 := f.Dim(0), f.Dim(2)
	g, _ := tensor.Max(f, 1) // [BG, h1]
	h2 := e.Conv3.Weight.Dim(0)
	w := tensor.Reshape(e.Conv3.Weight, h2, 2*h1)
	perPoint = tensor.Linear(f, tensor.Slice(w, 1, h1, 2*h1), e.Conv3.Bias)
	global = tensor.Reshape(tensor.Linear(g, tensor.Slice(w, 1, 0, h1), nil), bg, 1, h2)
	return perPoint, global
}

// recording reports whether Forward on nb records a graph.
func (e *Encoder) recording(nb *tensor.Tensor) bool {
	if !tensor.GradEnabled() || nb.RequiresGrad() {
		return tensor.GradEnabled()
	}
	for _, p := range e.Params() {
		if p.RequiresGrad() {
			return true
		}
	}
	return false
}

// forwardFrozen is Forward for a pass with nothing to differentiate (a frozen encoder,
// evaluation): the same numbers, but each layer's input is given back as soon as the
// layer has run, BatchNorm and ReLU overwrite their input, and the last layer and its
// max run a few groups at a time. The per-point activations are the largest tensors of
// a Point-PEFT step; this holds two of them at a time instead of nine.
func (e *Encoder) forwardFrozen(ctx *nn.Ctx, nb *tensor.Tensor) *tensor.Tensor {
	bg, m := nb.Dim(0), nb.Dim(1)
	a := e.Conv1.Forward(nb)
	tensor.BatchNormReLUInPlace(tensor.Reshape(a, bg*m, -1), e.BN1.Weight, e.BN1.Bias, &e.BN1.State, ctx.Train)
	f := e.Conv2.Forward(a) // [BG, M, h1]
	tensor.Free(a)
	y, global := e.secondConv(f)
	tensor.Free(f)
	tensor.AddInPlace(y, global)
	h2 := y.Dim(2)
	tensor.BatchNormReLUInPlace(tensor.Reshape(y, bg*m, h2), e.BN2.Weight, e.BN2.Bias, &e.BN2.State, ctx.Train)
	tok := tensor.LinearMax(y, tensor.Reshape(e.Conv4.Weight, e.Conv4.Weight.Dim(0), h2), e.Conv4.Bias)
	tensor.Free(y)
	return tok
}

// Params implements nn.Module.
func (e *Encoder) Params() []*tensor.Tensor {
	return nn.Collect(e.Conv1, e.BN1, e.Conv2, e.Conv3, e.BN2, e.Conv4)
}

// BatchNorms lists the encoder's BatchNorm layers (their running statistics are state).
func (e *Encoder) BatchNorms() []*nn.BatchNorm1d { return []*nn.BatchNorm1d{e.BN1, e.BN2} }
