package idpt

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/pointpeft/pointpeft/checkpoint"
	"github.com/pointpeft/pointpeft/nn"
	"github.com/pointpeft/pointpeft/tensor"
)

// slope is the negative slope of the prompt module's LeakyReLU (DGCNN's 0.2).
const slope = 0.2

// Generator is IDPT's prompt module, the authors' DGCNNView: three EdgeConv layers over
// a kNN graph of the tokens in feature space, recomputed after each layer (dynamic
// graph), then a 1×1 convolution over their concatenation, max-pooled over the tokens:
//
//	e_ij  = [x_j − x_i; x_i]                   j among the k nearest tokens of i
//	x'_i  = max_j LeakyReLU(BN(W·e_ij))        EdgeConv (conv1..3, no bias)
//	P     = max_i LeakyReLU(BN(W5·[x1; x2; x3]_i))
type Generator struct {
	K int
	// Edge[l] is conv{l+1}.0.weight [C, 2C, 1, 1] (a Conv2d with kernel 1).
	Edge [3]*tensor.Tensor
	// EdgeBN[l] is bn{l+1}, a BatchNorm2d over (batch, token, neighbour).
	EdgeBN [3]*nn.BatchNorm1d
	// Out is conv5.0.weight [C, 3C, 1], OutBN bn5.
	Out   *tensor.Tensor
	OutBN *nn.BatchNorm1d
}

// NewGenerator makes the prompt module of width c with PyTorch's default inits.
func NewGenerator(prefix string, c, k int, rng *rand.Rand) *Generator {
	g := &Generator{K: k,
		Out:   tensor.NewParam(prefix+".conv5.0.weight", nn.Uniform(rng, 3*c*c, 1/math.Sqrt(float64(3*c))), c, 3*c, 1),
		OutBN: nn.NewBatchNorm1d(prefix+".bn5", c),
	}
	for l := range g.Edge {
		g.Edge[l] = tensor.NewParam(fmt.Sprintf("%s.conv%d.0.weight", prefix, l+1),
			nn.Uniform(rng, 2*c*c, 1/math.Sqrt(float64(2*c))), c, 2*c, 1, 1)
		g.EdgeBN[l] = nn.NewBatchNorm1d(fmt.Sprintf("%s.bn%d", prefix, l+1), c)
	}
	return g
}

// Params implements nn.Module in PyTorch's order: the BatchNorms were registered
// before the Sequentials that share them, so named_parameters lists them first.
func (g *Generator) Params() []*tensor.Tensor {
	ps := nn.Collect(g.EdgeBN[0], g.EdgeBN[1], g.EdgeBN[2], g.OutBN)
	return append(ps, g.Edge[0], g.Edge[1], g.Edge[2], g.Out)
}

// BatchNorms lists bn1, bn2, bn3 and bn5.
func (g *Generator) BatchNorms() []*nn.BatchNorm1d {
	return []*nn.BatchNorm1d{g.EdgeBN[0], g.EdgeBN[1], g.EdgeBN[2], g.OutBN}
}

// Forward maps tokens [B, G, C] to the prompt [B, 1, C]. It is a tensor.Segment: of
// its per-edge tensors ([B·G·k, C] each) only what the backward pass reads is kept.
func (g *Generator) Forward(ctx *nn.Ctx, x *tensor.Tensor) *tensor.Tensor {
	return tensor.Segment(func() *tensor.Tensor { return g.forward(ctx, x) })
}

func (g *Generator) forward(ctx *nn.Ctx, x *tensor.Tensor) *tensor.Tensor {
	b, c := x.Dim(0), x.Dim(2)
	var feats [3]*tensor.Tensor
	for l := range feats {
		feats[l] = g.edgeConv(ctx, x, l)
		x = feats[l]
	}
	y := tensor.Linear(tensor.Concat(2, feats[0], feats[1], feats[2]), tensor.Reshape(g.Out, c, 3*c), nil)
	y = tensor.LeakyReLU(g.OutBN.Forward(ctx, y), slope)
	p, _ := tensor.Max(y, 1)
	return tensor.Reshape(p, b, 1, c)
}

// edgeConv is EdgeConv layer l on x [B, G, C] → [B, G, C]. The 1×1 convolution of
// the edge feature splits over its halves, W·[x_j − x_i; x_i] = W₁·x_j + (W₂ − W₁)·x_i,
// so it runs once per token instead of once per edge (k times fewer products, and no
// [B·G·k, 2C] edge tensor); only the sum is gathered per edge.
func (g *Generator) edgeConv(ctx *nn.Ctx, x *tensor.Tensor, l int) *tensor.Tensor {
	b, n, c := x.Dim(0), x.Dim(1), x.Dim(2)
	k := g.K
	w := tensor.Reshape(g.Edge[l], c, 2*c)
	w1, w2 := tensor.Slice(w, 1, 0, c), tensor.Slice(w, 1, c, 2*c)
	rows := tensor.Reshape(x, b*n, c)
	nb := tensor.Linear(rows, w1, nil)                  // W₁·x_j for every token j
	own := tensor.Linear(rows, tensor.Sub(w2, w1), nil) // (W₂ − W₁)·x_i
	y := tensor.Add(tensor.Reshape(tensor.IndexSelect(nb, featureKNN(x.Data, b, n, c, k)), b*n, k, c),
		tensor.Reshape(own, b*n, 1, c))
	y = tensor.LeakyReLU(g.EdgeBN[l].Forward(ctx, y), slope)
	mx, _ := tensor.Max(y, 1)
	return tensor.Reshape(mx, b, n, c)
}

// featureKNN returns, for each of the b·n rows of x [B, N, C], the flat row indices
// (into B·N) of its k nearest rows of the same cloud, itself included, by squared
// distance in the authors' expansion −|x_i|² + 2x_i·x_j − |x_j|². The graph is a
// constant of the step: no gradient flows through the choice of neighbours.
func featureKNN(x []float32, b, n, c, k int) []int32 {
	sq := make([]float32, b*n)
	for i := range sq {
		var s float32
		for _, v := range x[i*c : (i+1)*c] {
			s += v * v
		}
		sq[i] = s
	}
	var inner *tensor.Tensor
	tensor.NoGrad(func() {
		xt := tensor.FromData(x, b, n, c)
		inner = tensor.MatMul(xt, xt, false, true) // [B, N, N]
	})
	score := inner.Data
	for bi := 0; bi < b; bi++ {
		for i := 0; i < n; i++ {
			row := score[(bi*n+i)*n : (bi*n+i+1)*n]
			for j := range row {
				row[j] = -sq[bi*n+i] + 2*row[j] - sq[bi*n+j]
			}
		}
	}
	_, idx := tensor.TopK(inner, k)
	for r := range idx {
		idx[r] += int32(r / (n * k) * n)
	}
	return idx
}

// FoldAliases rewrites an authors' state dict for LoadState. Their DGCNNView registers
// bn1..bn3 and bn5 twice, as themselves and inside conv1..conv3/conv5 (index 1), so
// torch's state_dict holds both blocks.cls.bnX.* and blocks.cls.convX.1.*. The aliases
// must agree with the originals; they are removed (or renamed where only they exist).
func FoldAliases(sd *checkpoint.StateDict) error {
	const prefix = "blocks.cls."
	for _, l := range []string{"1", "2", "3", "5"} {
		for _, leaf := range []string{"weight", "bias", "running_mean", "running_var", "num_batches_tracked"} {
			alias, orig := prefix+"conv"+l+".1."+leaf, prefix+"bn"+l+"."+leaf
			a, ok := sd.Tensors[alias]
			if !ok {
				continue
			}
			o, ok := sd.Tensors[orig]
			if !ok {
				sd.Set(orig, a)
				sd.Delete(alias)
				continue
			}
			if !sameTensor(a, o) {
				return fmt.Errorf("idpt: %s differs from %s, which it aliases in the authors' model", alias, orig)
			}
			sd.Delete(alias)
		}
	}
	return nil
}

func sameTensor(a, b *checkpoint.Tensor) bool {
	return slices.Equal(a.Shape, b.Shape) && slices.Equal(a.F32, b.F32) && slices.Equal(a.I64, b.I64)
}
