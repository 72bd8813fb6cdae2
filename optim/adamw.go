package optim

import (
	"fmt"
	"math"

	"github.com/pointpeft/pointpeft/tensor"
)

// AdamW is torch.optim.AdamW (torch 1.13, single-tensor path, amsgrad off): decoupled
// weight decay p -= lr·wd·p, then the bias-corrected Adam update with eps added to
// sqrt(v̂). The arithmetic follows PyTorch's order of float32 tensor operations with
// scalars computed in float64, so results agree with PyTorch to float32 rounding.
//
// A parameter is updated only when it requires a gradient and its Grad is non-nil,
// which mirrors PyTorch skipping parameters whose grad is None; a skipped parameter's
// step count does not advance, because PyTorch keeps the count per parameter.
type AdamW struct {
	// Beta1, Beta2 and Eps default to PyTorch's (0.9, 0.999) and 1e-8.
	Beta1, Beta2, Eps float64

	groups []Group
	byName map[string]*tensor.Tensor
	state  map[string]*ParamState
}

// ParamState is the AdamW state of one parameter: how many updates it has received and
// its first and second moment estimates (PyTorch's step, exp_avg and exp_avg_sq).
type ParamState struct {
	Step int64
	M, V []float32
}

// NewAdamW returns an AdamW over groups. Every parameter needs a unique, non-empty name,
// because the optimizer state is saved and restored by name. Frozen parameters may be
// included; they are skipped while frozen.
func NewAdamW(groups []Group) (*AdamW, error) {
	o := &AdamW{
		Beta1: 0.9, Beta2: 0.999, Eps: 1e-8,
		byName: map[string]*tensor.Tensor{},
		state:  map[string]*ParamState{},
	}
	for gi, g := range groups {
		if g.WeightDecay < 0 || math.IsNaN(g.WeightDecay) || math.IsInf(g.WeightDecay, 0) {
			return nil, fmt.Errorf("optim: group %d: invalid weight decay %v", gi, g.WeightDecay)
		}
		for _, p := range g.Params {
			name := p.Name()
			if name == "" {
				return nil, fmt.Errorf("optim: group %d: parameter of shape %v has no name", gi, p.Shape())
			}
			if _, dup := o.byName[name]; dup {
				return nil, fmt.Errorf("optim: parameter %q appears twice", name)
			}
			o.byName[name] = p
		}
		o.groups = append(o.groups, Group{Params: append([]*tensor.Tensor(nil), g.Params...), WeightDecay: g.WeightDecay})
	}
	return o, nil
}

// Step applies one AdamW update with learning rate lr to every parameter that requires
// a gradient and has one. The gradients are not cleared. On error nothing is changed.
func (o *AdamW) Step(lr float64) error {
	if lr < 0 || math.IsNaN(lr) || math.IsInf(lr, 0) {
		return fmt.Errorf("optim: AdamW.Step: invalid learning rate %v", lr)
	}
	// Check every gradient first so that a bad one cannot leave a half-applied step.
	for _, g := range o.groups {
		for _, p := range g.Params {
			if p.Grad != nil && len(p.Grad) != len(p.Data) {
				return fmt.Errorf("optim: AdamW.Step: %s has %d gradient values for %d elements", p.Name(), len(p.Grad), len(p.Data))
			}
		}
	}
	for _, g := range o.groups {
		for _, p := range g.Params {
			if !p.RequiresGrad() || p.Grad == nil {
				continue
			}
			st := o.state[p.Name()]
			if st == nil {
				st = &ParamState{M: make([]float32, len(p.Data)), V: make([]float32, len(p.Data))}
				o.state[p.Name()] = st
			}
			st.Step++
			o.update(p, st, lr, g.WeightDecay)
		}
	}
	return nil
}

// update is the body of torch 1.13 _single_tensor_adamw for one parameter:
//
//	param.mul_(1 - lr*wd)
//	exp_avg.mul_(beta1).add_(grad, alpha=1-beta1)
//	exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1-beta2)
//	denom = (exp_avg_sq.sqrt() / sqrt(1-beta2**step)).add_(eps)
//	param.addcdiv_(exp_avg, denom, value=-lr/(1-beta1**step))
//
// Python evaluates the scalars in float64 and the kernels round them to float32.
func (o *AdamW) update(p *tensor.Tensor, st *ParamState, lr, wd float64) {
	step := float64(st.Step)
	decay := float32(1 - lr*wd)
	b1, a1 := float32(o.Beta1), float32(1-o.Beta1)
	b2, a2 := float32(o.Beta2), float32(1-o.Beta2)
	bc2Sqrt := float32(math.Sqrt(1 - math.Pow(o.Beta2, step)))
	eps := float32(o.Eps)
	negStepSize := float32(-lr / (1 - math.Pow(o.Beta1, step)))
	m, v, w := st.M, st.V, p.Data
	for i, g := range p.Grad {
		if wd != 0 {
			w[i] *= decay
		}
		m[i] = m[i]*b1 + a1*g
		v[i] = v[i]*b2 + a2*g*g
		denom := float32(math.Sqrt(float64(v[i])))/bc2Sqrt + eps
		w[i] += negStepSize * m[i] / denom
	}
}

// State returns a deep copy of the optimizer state, keyed by parameter name. Parameters
// that have never been updated have no entry, as in PyTorch.
func (o *AdamW) State() map[string]ParamState {
	out := make(map[string]ParamState, len(o.state))
	for name, st := range o.state {
		out[name] = ParamState{
			Step: st.Step,
			M:    append([]float32(nil), st.M...),
			V:    append([]float32(nil), st.V...),
		}
	}
	return out
}

// LoadState replaces the optimizer state with a copy of s, as saved by State. Every entry
// must name a parameter of this optimizer, hold as many M and V values as the parameter
// has elements, and have a positive step count; otherwise nothing is changed. Parameters
// without an entry start fresh, like parameters that had not been updated yet.
func (o *AdamW) LoadState(s map[string]ParamState) error {
	next := make(map[string]*ParamState, len(s))
	for name, st := range s {
		p, ok := o.byName[name]
		if !ok {
			return fmt.Errorf("optim: AdamW.LoadState: state for unknown parameter %q", name)
		}
		if len(st.M) != p.Numel() || len(st.V) != p.Numel() {
			return fmt.Errorf("optim: AdamW.LoadState: %s: state has %d/%d moment values, parameter %v has %d elements",
				name, len(st.M), len(st.V), p.Shape(), p.Numel())
		}
		if st.Step <= 0 {
			return fmt.Errorf("optim: AdamW.LoadState: %s: step count %d, want > 0", name, st.Step)
		}
		next[name] = &ParamState{
			Step: st.Step,
			M:    append([]float32(nil), st.M...),
			V:    append([]float32(nil), st.V...),
		}
	}
	o.state = next
	return nil
}
