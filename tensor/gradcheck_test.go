package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// The gradient checks compare each op's analytic gradient with central differences of
// L = Σ out·R (R random, fixed). Forward passes run in float32, so the difference
// quotient carries rounding noise of about ulp(L)/eps ≈ 1e-7·Σ|out·R|/eps, which for
// these sizes (≤ a few hundred outputs, eps = 1e-2) is below 1e-3; the truncation error
// is O(eps²·|f‴|) ≈ 1e-4. A tolerance of 1e-2·max(1,|g|) + 2e-3 absolute is therefore
// two orders above the noise and still catches any wrong formula (those are off by O(1)).
const (
	fdEps = 1e-2
	fdRel = 1e-2
	fdAbs = 2e-3
)

func randTensor(rng *rand.Rand, shape ...int) *Tensor {
	t := New(shape...)
	for i := range t.Data {
		t.Data[i] = float32(rng.NormFloat64())
	}
	return t
}

// gradCheck checks f's gradient with respect to every input at up to 60 positions each.
func gradCheck(t *testing.T, name string, f func(in []*Tensor) *Tensor, inputs ...*Tensor) {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, 7))
	params := make([]*Tensor, len(inputs))
	for i, in := range inputs {
		params[i] = NewParam("in", in.Data, in.shape...)
	}
	out := f(params)
	r := randTensor(rng, out.shape...)
	loss := SumAll(Mul(out, r))
	Backward(loss)
	eval := func() float64 {
		var s float64
		NoGrad(func() {
			o := f(params)
			for i, v := range o.Data {
				s += float64(v) * float64(r.Data[i])
			}
		})
		return s
	}
	for pi, p := range params {
		if p.Grad == nil {
			t.Fatalf("%s: input %d got no gradient", name, pi)
		}
		idx := rng.Perm(len(p.Data))
		if len(idx) > 60 {
			idx = idx[:60]
		}
		for _, i := range idx {
			orig := p.Data[i]
			p.Data[i] = orig + fdEps
			lp := eval()
			p.Data[i] = orig - fdEps
			lm := eval()
			p.Data[i] = orig
			num := (lp - lm) / (2 * fdEps)
			got := float64(p.Grad[i])
			if math.Abs(got-num) > fdRel*math.Max(1, math.Abs(num))+fdAbs {
				t.Errorf("%s: d/d input%d[%d] = %.6g, finite difference %.6g", name, pi, i, got, num)
			}
		}
	}
}

func TestGradMatMul(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, ta := range []bool{false, true} {
		for _, tb := range []bool{false, true} {
			am, ak := 4, 5
			if ta {
				am, ak = 5, 4
			}
			bk, bn := 5, 3
			if tb {
				bk, bn = 3, 5
			}
			gradCheck(t, "MatMul 2d", func(in []*Tensor) *Tensor { return MatMul(in[0], in[1], ta, tb) },
				randTensor(rng, am, ak), randTensor(rng, bk, bn))
			gradCheck(t, "MatMul batched", func(in []*Tensor) *Tensor { return MatMul(in[0], in[1], ta, tb) },
				randTensor(rng, 2, 3, am, ak), randTensor(rng, 2, 3, bk, bn))
			gradCheck(t, "MatMul shared b", func(in []*Tensor) *Tensor { return MatMul(in[0], in[1], ta, tb) },
				randTensor(rng, 3, am, ak), randTensor(rng, bk, bn))
		}
	}
	// A permuted (non-contiguous in PyTorch terms) operand.
	gradCheck(t, "MatMul of permuted", func(in []*Tensor) *Tensor {
		return MatMul(Permute(in[0], 0, 2, 1), in[1], false, true)
	}, randTensor(rng, 2, 5, 4), randTensor(rng, 2, 3, 5))
}

func TestGradLinear(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	gradCheck(t, "Linear", func(in []*Tensor) *Tensor { return Linear(in[0], in[1], in[2]) },
		randTensor(rng, 2, 3, 4), randTensor(rng, 5, 4), randTensor(rng, 5))
	gradCheck(t, "Linear no bias", func(in []*Tensor) *Tensor { return Linear(in[0], in[1], nil) },
		randTensor(rng, 6, 4), randTensor(rng, 5, 4))
}

func TestGradBinaryBroadcast(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 3))
	ops := map[string]func(a, b *Tensor) *Tensor{"Add": Add, "Sub": Sub, "Mul": Mul, "Div": Div}
	pairs := [][2][]int{
		{{2, 3, 4}, {2, 3, 4}}, // same shape
		{{2, 3, 4}, {4}},       // trailing (bias)
		{{2, 3, 4}, {2, 3, 1}}, // per-row scalar
		{{2, 3, 4}, {2, 1, 4}}, // middle broadcast: general path
		{{3, 1}, {1, 4}},       // both broadcast
		{{2, 3, 4}, {}},        // scalar
		{{4}, {2, 3, 4}},       // broadcast on the left operand
	}
	for name, op := range ops {
		for _, p := range pairs {
			a, b := randTensor(rng, p[0]...), randTensor(rng, p[1]...)
			if name == "Div" {
				for i := range b.Data { // keep away from 0
					b.Data[i] = float32(math.Copysign(1+math.Abs(float64(b.Data[i])), float64(b.Data[i])))
				}
			}
			gradCheck(t, name, func(in []*Tensor) *Tensor { return op(in[0], in[1]) }, a, b)
		}
	}
	// Large enough to take the parallel partial-sum path of the broadcast backward.
	gradCheck(t, "Add large bias", func(in []*Tensor) *Tensor { return Add(in[0], in[1]) },
		randTensor(rng, 300, 128), randTensor(rng, 128))
	gradCheck(t, "Sub large per-group", func(in []*Tensor) *Tensor { return Sub(in[0], in[1]) },
		randTensor(rng, 64, 1, 24), randTensor(rng, 64, 50, 24))
}

func TestGradElementwise(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 4))
	x := randTensor(rng, 3, 7)
	for i, v := range x.Data { // keep ReLU's kink out of the finite-difference stencil
		if math.Abs(float64(v)) < 0.05 {
			x.Data[i] = 0.3
		}
	}
	for name, f := range map[string]func(*Tensor) *Tensor{
		"ReLU": ReLU, "LeakyReLU": func(a *Tensor) *Tensor { return LeakyReLU(a, 0.2) }, "GELU": GELU, "QuickGELU": QuickGELU, "Sigmoid": Sigmoid,
		"Scale":     func(a *Tensor) *Tensor { return Scale(a, -1.7) },
		"AddScalar": func(a *Tensor) *Tensor { return AddScalar(a, 0.4) },
		"Softmax":   Softmax, "LogSoftmax": LogSoftmax,
		"L2Normalize": func(a *Tensor) *Tensor { return L2Normalize(a, 1e-12) },
		"Dropout": func(a *Tensor) *Tensor {
			return Dropout(a, 0.3, true, rand.New(rand.NewPCG(3, 3)))
		},
		"DropPath": func(a *Tensor) *Tensor {
			return DropPath(a, 0.5, true, rand.New(rand.NewPCG(3, 4)))
		},
	} {
		gradCheck(t, name, func(in []*Tensor) *Tensor { return f(in[0]) }, x.Clone())
	}
}

func TestGradShapeOps(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 5))
	gradCheck(t, "Reshape", func(in []*Tensor) *Tensor { return Mul(Reshape(in[0], 4, -1), Reshape(in[0], 4, -1)) },
		randTensor(rng, 2, 3, 2))
	gradCheck(t, "Permute", func(in []*Tensor) *Tensor { return Permute(in[0], 2, 0, 3, 1) }, randTensor(rng, 2, 3, 4, 5))
	gradCheck(t, "Transpose", func(in []*Tensor) *Tensor { return Transpose(in[0], -1, 0) }, randTensor(rng, 3, 2, 4))
	gradCheck(t, "Concat", func(in []*Tensor) *Tensor { return Concat(1, in[0], in[1], in[0]) },
		randTensor(rng, 2, 3, 4), randTensor(rng, 2, 1, 4))
	gradCheck(t, "Slice", func(in []*Tensor) *Tensor { return Slice(in[0], 1, 1, 3) }, randTensor(rng, 2, 4, 3))
	gradCheck(t, "IndexSelect", func(in []*Tensor) *Tensor {
		return IndexSelect(in[0], []int32{3, 0, 3, 3, 1})
	}, randTensor(rng, 4, 2, 3))
	gradCheck(t, "BroadcastTo", func(in []*Tensor) *Tensor { return BroadcastTo(in[0], 3, 2, 4) }, randTensor(rng, 1, 1, 4))
	gradCheck(t, "BroadcastTo middle", func(in []*Tensor) *Tensor { return BroadcastTo(in[0], 3, 2, 4) }, randTensor(rng, 3, 1, 4))
}

func TestGradReductions(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 6))
	for axis := 0; axis < 3; axis++ {
		gradCheck(t, "Sum", func(in []*Tensor) *Tensor { return Sum(in[0], axis) }, randTensor(rng, 3, 4, 5))
		gradCheck(t, "Mean", func(in []*Tensor) *Tensor { return Mean(in[0], axis) }, randTensor(rng, 3, 4, 5))
		// Distinct values, gaps far above eps: the max is differentiable there.
		x := New(3, 4, 5)
		for i, p := range rng.Perm(x.Numel()) {
			x.Data[i] = float32(p) * 0.1
		}
		gradCheck(t, "Max", func(in []*Tensor) *Tensor { m, _ := Max(in[0], axis); return m }, x)
	}
	gradCheck(t, "SumAll", func(in []*Tensor) *Tensor { return SumAll(in[0]) }, randTensor(rng, 3, 4))
	gradCheck(t, "MeanAll", func(in []*Tensor) *Tensor { return MeanAll(in[0]) }, randTensor(rng, 3, 4))
}

func TestGradNorms(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 7))
	gradCheck(t, "LayerNorm", func(in []*Tensor) *Tensor { return LayerNorm(in[0], in[1], in[2], 1e-5) },
		randTensor(rng, 2, 3, 6), randTensor(rng, 6), randTensor(rng, 6))
	gradCheck(t, "LayerNorm no affine", func(in []*Tensor) *Tensor { return LayerNorm(in[0], nil, nil, 1e-5) },
		randTensor(rng, 4, 6))
	for _, train := range []bool{true, false} {
		st := &BatchNormState{Mean: []float32{0.1, -0.2, 0.3}, Var: []float32{1.5, 0.7, 2}, Momentum: 0.1, Eps: 1e-5}
		gradCheck(t, "BatchNorm", func(in []*Tensor) *Tensor { return BatchNorm(in[0], in[1], in[2], st, train) },
			randTensor(rng, 7, 3), randTensor(rng, 3), randTensor(rng, 3))
	}
	for _, s := range []float32{0, 0.2} {
		labels := []int{2, 0, 4}
		gradCheck(t, "CrossEntropy", func(in []*Tensor) *Tensor { return CrossEntropy(in[0], labels, s) },
			randTensor(rng, 3, 5))
	}
}

// attentionShapes are [tokens, heads, head dim] for both of Attention's paths: per-head
// GEMMs (heads wider than smallHeadDim, or more than smallTokens tokens) and the fused
// small-head kernel.
var attentionShapes = [][3]int{{5, 2, smallHeadDim + 1}, {smallTokens + 3, 2, 2}, {5, 2, 2}, {16, 6, 3}}

func TestGradAttention(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 8))
	for _, s := range attentionShapes[:3] {
		gradCheck(t, fmt.Sprintf("Attention %v", s), func(in []*Tensor) *Tensor { return Attention(in[0], s[1], 0.5) },
			randTensor(rng, 2, s[0], 3*s[1]*s[2]))
	}
}

// TestAttentionMatchesComposedOps checks the fused op, values and gradients, against the
// same computation spelled out with reshapes, permutes, MatMul and Softmax.
func TestAttentionMatchesComposedOps(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 9))
	for _, s := range attentionShapes {
		b, tt, heads, d := 3, s[0], s[1], s[2]
		c := heads * d
		qkv := NewParam("qkv", randTensor(rng, b, tt, 3*c).Data, b, tt, 3*c)
		w := randTensor(rng, b, tt, c)
		run := func(fused bool) ([]float32, []float32) {
			qkv.ZeroGrad()
			var out *Tensor
			if fused {
				out = Attention(qkv, heads, 0.3)
			} else {
				x := Permute(Reshape(qkv, b, tt, 3, heads, d), 2, 0, 3, 1, 4) // [3, B, H, T, D]
				q := Reshape(Slice(x, 0, 0, 1), b*heads, tt, d)
				k := Reshape(Slice(x, 0, 1, 2), b*heads, tt, d)
				v := Reshape(Slice(x, 0, 2, 3), b*heads, tt, d)
				o := MatMul(Softmax(Scale(MatMul(q, k, false, true), 0.3)), v, false, false)
				out = Reshape(Permute(Reshape(o, b, heads, tt, d), 0, 2, 1, 3), b, tt, c)
			}
			vals := append([]float32(nil), out.Data...)
			Backward(SumAll(Mul(out, w)))
			return vals, append([]float32(nil), qkv.Grad...)
		}
		wantV, wantG := run(false)
		gotV, gotG := run(true)
		assertClose(t, fmt.Sprintf("attention %v", s), gotV, wantV, 1e-5)
		assertClose(t, fmt.Sprintf("attention gradient %v", s), gotG, wantG, 1e-5)
	}
}

func TestGradInvSqDistWeights(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 10))
	gradCheck(t, "InvSqDistWeights", func(in []*Tensor) *Tensor { return InvSqDistWeights(in[0], in[1], 1e-8) },
		randTensor(rng, 2, 5, 3), randTensor(rng, 2, 4, 3))
}

// TestGatherAddMax checks the fused pooling against IndexSelect, DropPath, Add and Max
// (values, gradients, the random draws) with repeated indices, and by finite differences.
func TestGatherAddMax(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 9))
	g, k, c, rows := 6, 4, 5, 7
	idx := make([]int32, g*k)
	for i := range idx {
		idx[i] = int32(rng.IntN(rows))
	}
	scale := []float32{1.25, 0, 1.25, 1.25, 0, 1.25}
	gradCheck(t, "GatherAddMax", func(in []*Tensor) *Tensor { return GatherAddMax(in[0], idx, in[1], scale) },
		randTensor(rng, rows, c), randTensor(rng, g, k, c))

	table := NewParam("table", randTensor(rng, rows, c).Data, rows, c)
	local := NewParam("local", randTensor(rng, g, k, c).Data, g, k, c)
	w := randTensor(rng, g, c)
	run := func(fused bool) ([]float32, [][]float32) {
		table.ZeroGrad()
		local.ZeroGrad()
		draws := rand.New(rand.NewPCG(9, 9))
		var out *Tensor
		if fused {
			out = GatherAddMax(table, idx, local, DropPathScales(g, 0.3, true, draws))
		} else {
			nb := Reshape(IndexSelect(table, idx), g, k, c)
			out, _ = Max(Add(nb, DropPath(local, 0.3, true, draws)), 1)
		}
		vals := append([]float32(nil), out.Data...)
		Backward(SumAll(Mul(out, w)))
		return vals, [][]float32{append([]float32(nil), table.Grad...), append([]float32(nil), local.Grad...)}
	}
	wantV, wantG := run(false)
	gotV, gotG := run(true)
	assertClose(t, "GatherAddMax values", gotV, wantV, 0)
	assertClose(t, "GatherAddMax table gradient", gotG[0], wantG[0], 1e-6)
	assertClose(t, "GatherAddMax local gradient", gotG[1], wantG[1], 0)
}
