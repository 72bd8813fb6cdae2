package nn

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/pointpeft/pointpeft/tensor"
)

// Ctx is the per-forward-pass context: training or evaluation, and the random source
// of dropout and drop path.
type Ctx struct {
	Train bool
	RNG   *rand.Rand
	// Recompute trades compute for memory in training (the zero value keeps every
	// activation).
	Recompute Recompute
}

// Recompute says which activations the Transformer blocks recompute in the backward
// pass instead of keeping them from the forward pass: memory for time. Recomputation
// is exact: the gradients are those of the kept graph.
type Recompute uint8

const (
	// RecomputeNone keeps every activation a backward step reads.
	RecomputeNone Recompute = iota
	// RecomputeMLP recomputes the MLP's hidden layer (norm2, fc1, GELU) from the
	// block's kept input: fc1's output, 4·dim values a token, is the largest activation
	// of a block. Point-PEFT at the PB_T50_RS shape, batch 32: peak RSS 1.55 → 1.24 GiB
	// for about 6% more step time (AMD Zen 5, measured side by side).
	RecomputeMLP
	// RecomputeAll also recomputes the attention branch (norm1, qkv, attention): only
	// the blocks' inputs are kept (same step: 1.05 GiB, about 12% more time than
	// RecomputeNone).
	RecomputeAll
)

var recomputeNames = []string{"none", "mlp", "all"}

// String is the mode's name: none, mlp or all.
func (r Recompute) String() string {
	if int(r) < len(recomputeNames) {
		return recomputeNames[r]
	}
	return fmt.Sprintf("Recompute(%d)", int(r))
}

// ParseRecompute reads a mode by name; "false" and "true", as configurations written
// when the setting was a switch hold it, read as none and all.
func ParseRecompute(s string) (Recompute, error) {
	switch s {
	case "false":
		return RecomputeNone, nil
	case "true":
		return RecomputeAll, nil
	}
	for i, n := range recomputeNames {
		if s == n {
			return Recompute(i), nil
		}
	}
	return 0, fmt.Errorf("recompute %q: want none, mlp or all", s)
}

// MarshalText implements encoding.TextMarshaler (YAML and JSON configurations).
func (r Recompute) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (r *Recompute) UnmarshalText(b []byte) error {
	v, err := ParseRecompute(string(b))
	if err == nil {
		*r = v
	}
	return err
}

// Set implements pflag.Value, so a command line can set the mode.
func (r *Recompute) Set(s string) error { return r.UnmarshalText([]byte(s)) }

// Type implements pflag.Value.
func (r *Recompute) Type() string { return "mode" }

// RecomputeAttn reports whether this pass recomputes the attention branch (norm1, qkv,
// attention) in the backward pass; methods that build their own blocks follow it.
func (ctx *Ctx) RecomputeAttn() bool { return ctx.Train && ctx.Recompute >= RecomputeAll }

// RecomputeHidden reports whether this pass recomputes the MLP's hidden layer (norm2,
// fc1, GELU) in the backward pass.
func (ctx *Ctx) RecomputeHidden() bool { return ctx.Train && ctx.Recompute >= RecomputeMLP }

// Module is anything with parameters.
type Module interface {
	// Params lists the parameters in a stable order, named as in a PyTorch state dict.
	Params() []*tensor.Tensor
}

// Buffer is named non-parameter state saved with a model: BatchNorm statistics (Data)
// or its step counter num_batches_tracked (Count, saved as int64).
type Buffer struct {
	Name  string
	Data  []float32
	Count *int64
}

// join builds a dotted parameter name.
func join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// Uniform fills a new slice with U(-bound, bound).
func Uniform(rng *rand.Rand, n int, bound float64) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32((rng.Float64()*2 - 1) * bound)
	}
	return s
}

// TruncNormal fills a new slice with N(0, std²) truncated to [-2, 2] (absolute, as
// timm's trunc_normal_ defaults do), by rejection.
func TruncNormal(rng *rand.Rand, n int, std float64) []float32 {
	s := make([]float32, n)
	for i := range s {
		for {
			v := rng.NormFloat64() * std
			if v >= -2 && v <= 2 {
				s[i] = float32(v)
				break
			}
		}
	}
	return s
}

// XavierUniform fills a [out, in] weight with U(±sqrt(6/(in+out))).
func XavierUniform(rng *rand.Rand, out, in int) []float32 {
	return Uniform(rng, out*in, math.Sqrt(6/float64(in+out)))
}

// Fill returns a slice of n copies of v.
func Fill(n int, v float32) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = v
	}
	return s
}

// Linear is nn.Linear: y = x·Wᵀ + b, W [out, in].
type Linear struct {
	Weight, Bias *tensor.Tensor
}

// NewLinear makes a Linear with PyTorch's default init (kaiming-uniform with a=√5,
// which is U(±1/√in) for the weight, and the same bound for the bias).
func NewLinear(name string, in, out int, bias bool, rng *rand.Rand) *Linear {
	bound := 1 / math.Sqrt(float64(in))
	l := &Linear{Weight: tensor.NewParam(join(name, "weight"), Uniform(rng, out*in, bound), out, in)}
	if bias {
		l.Bias = tensor.NewParam(join(name, "bias"), Uniform(rng, out, bound), out)
	}
	return l
}

// Forward applies the layer to x [..., in].
func (l *Linear) Forward(x *tensor.Tensor) *tensor.Tensor { return tensor.Linear(x, l.Weight, l.Bias) }

// Params implements Module.
func (l *Linear) Params() []*tensor.Tensor { return nonNil(l.Weight, l.Bias) }

// Conv1x1 is nn.Conv1d with kernel size 1, which is a Linear over channels; its weight
// keeps PyTorch's [out, in, 1] shape so checkpoints load unchanged. It works on
// channels-last input [..., in].
type Conv1x1 struct {
	Weight, Bias *tensor.Tensor
}

// NewConv1x1 makes a Conv1x1 with PyTorch's default Conv1d init (as Linear's).
func NewConv1x1(name string, in, out int, rng *rand.Rand) *Conv1x1 {
	bound := 1 / math.Sqrt(float64(in))
	return &Conv1x1{
		Weight: tensor.NewParam(join(name, "weight"), Uniform(rng, out*in, bound), out, in, 1),
		Bias:   tensor.NewParam(join(name, "bias"), Uniform(rng, out, bound), out),
	}
}

// Forward applies the convolution to channels-last x [..., in].
func (c *Conv1x1) Forward(x *tensor.Tensor) *tensor.Tensor {
	return tensor.Linear(x, tensor.Reshape(c.Weight, c.Weight.Dim(0), c.Weight.Dim(1)), c.Bias)
}

// Params implements Module.
func (c *Conv1x1) Params() []*tensor.Tensor { return nonNil(c.Weight, c.Bias) }

// LayerNorm is nn.LayerNorm over the last axis (eps 1e-5 by default).
type LayerNorm struct {
	Weight, Bias *tensor.Tensor
	Eps          float32
}

// NewLayerNorm makes a LayerNorm with weight 1 and bias 0.
func NewLayerNorm(name string, dim int) *LayerNorm {
	return &LayerNorm{
		Weight: tensor.NewParam(join(name, "weight"), Fill(dim, 1), dim),
		Bias:   tensor.NewParam(join(name, "bias"), make([]float32, dim), dim),
		Eps:    1e-5,
	}
}

// Forward normalises x [..., dim].
func (l *LayerNorm) Forward(x *tensor.Tensor) *tensor.Tensor {
	return tensor.LayerNorm(x, l.Weight, l.Bias, l.Eps)
}

// Params implements Module.
func (l *LayerNorm) Params() []*tensor.Tensor { return nonNil(l.Weight, l.Bias) }

// BatchNorm1d is nn.BatchNorm1d on channels-last input [..., C] (momentum 0.1, eps 1e-5).
type BatchNorm1d struct {
	Weight, Bias *tensor.Tensor
	State        tensor.BatchNormState
	name         string
}

// NewBatchNorm1d makes a BatchNorm1d with weight 1, bias 0, running mean 0, var 1.
func NewBatchNorm1d(name string, c int) *BatchNorm1d {
	return &BatchNorm1d{
		Weight: tensor.NewParam(join(name, "weight"), Fill(c, 1), c),
		Bias:   tensor.NewParam(join(name, "bias"), make([]float32, c), c),
		State:  tensor.BatchNormState{Mean: make([]float32, c), Var: Fill(c, 1), Momentum: 0.1, Eps: 1e-5},
		name:   name,
	}
}

// Forward normalises x [..., C]: batch statistics in training, running ones otherwise.
func (b *BatchNorm1d) Forward(ctx *Ctx, x *tensor.Tensor) *tensor.Tensor {
	c := x.Dim(-1)
	y := tensor.BatchNorm(tensor.Reshape(x, -1, c), b.Weight, b.Bias, &b.State, ctx.Train)
	return tensor.Reshape(y, x.Shape()...)
}

// Params implements Module.
func (b *BatchNorm1d) Params() []*tensor.Tensor { return nonNil(b.Weight, b.Bias) }

// Buffers returns the running statistics under PyTorch's names.
func (b *BatchNorm1d) Buffers() []Buffer {
	return []Buffer{
		{Name: join(b.name, "running_mean"), Data: b.State.Mean},
		{Name: join(b.name, "running_var"), Data: b.State.Var},
		{Name: join(b.name, "num_batches_tracked"), Count: &b.State.Batches},
	}
}

func nonNil(ts ...*tensor.Tensor) []*tensor.Tensor {
	out := ts[:0:0]
	for _, t := range ts {
		if t != nil {
			out = append(out, t)
		}
	}
	return out
}

// Collect concatenates the parameters of several modules.
func Collect(ms ...Module) []*tensor.Tensor {
	var out []*tensor.Tensor
	for _, m := range ms {
		if m != nil {
			out = append(out, m.Params()...)
		}
	}
	return out
}
