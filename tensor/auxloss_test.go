package tensor

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestGradLog(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 9))
	x := randTensor(rng, 3, 5)
	for i, v := range x.Data { // log needs x > 0; keep away from 0 for the stencil
		x.Data[i] = float32(math.Abs(float64(v))) + 0.5
	}
	gradCheck(t, "Log", func(in []*Tensor) *Tensor { return Log(in[0]) }, x)
}

// TestGradWithLoss checks that Backward(Σ WithLoss(x, aux, w)·R) gives the gradients of
// J = Σ x·R + w·aux, by central differences of J, with aux = Σ a² built from a second
// input.
func TestGradWithLoss(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 9))
	const w = 0.37
	x := NewParam("x", randTensor(rng, 2, 3).Data, 2, 3)
	a := NewParam("a", randTensor(rng, 4).Data, 4)
	r := randTensor(rng, 2, 3)
	f := func() *Tensor { return SumAll(Mul(WithLoss(x, SumAll(Mul(a, a)), w), r)) }
	out := f()
	if got, want := out.Item(), SumAll(Mul(x.Detach(), r)).Item(); got != want {
		t.Fatalf("WithLoss changed the value: %g, want %g", got, want)
	}
	Backward(out)
	j := func() float64 {
		var s float64
		for i, v := range x.Data {
			s += float64(v) * float64(r.Data[i])
		}
		for _, v := range a.Data {
			s += w * float64(v) * float64(v)
		}
		return s
	}
	for _, p := range []*Tensor{x, a} {
		for i := range p.Data {
			orig := p.Data[i]
			p.Data[i] = orig + fdEps
			jp := j()
			p.Data[i] = orig - fdEps
			jm := j()
			p.Data[i] = orig
			num := (jp - jm) / (2 * fdEps)
			if got := float64(p.Grad[i]); math.Abs(got-num) > fdRel*math.Max(1, math.Abs(num))+fdAbs {
				t.Errorf("d/d %s[%d] = %.6g, finite difference %.6g", p.Name(), i, got, num)
			}
		}
	}
	if err := Catch(func() { WithLoss(x, a, w) }); err == nil {
		t.Error("WithLoss accepted a non-scalar auxiliary loss")
	}
}
