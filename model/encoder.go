package model

import (
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
	bg, m := nb.Dim(0), nb.Dim(1)
	f := e.Conv2.Forward(tensor.ReLU(e.BN1.Forward(ctx, e.Conv1.Forward(nb)))) // [BG, M, h1]
	h1 := f.Dim(2)
	g, _ := tensor.Max(f, 1) // [BG, h1]
	g = tensor.BroadcastTo(tensor.Reshape(g, bg, 1, h1), bg, m, h1)
	f = tensor.Concat(2, g, f) // the global feature comes first, as in torch.cat([global, f], 1)
	f = e.Conv4.Forward(tensor.ReLU(e.BN2.Forward(ctx, e.Conv3.Forward(f))))
	tok, _ := tensor.Max(f, 1)
	return tok
}

// Params implements nn.Module.
func (e *Encoder) Params() []*tensor.Tensor {
	return nn.Collect(e.Conv1, e.BN1, e.Conv2, e.Conv3, e.BN2, e.Conv4)
}

// BatchNorms lists the encoder's BatchNorm layers (their running statistics are state).
func (e *Encoder) BatchNorms() []*nn.BatchNorm1d { return []*nn.BatchNorm1d{e.BN1, e.BN2} }
