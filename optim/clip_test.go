package optim

import (
	"math"
	"slices"
	"testing"

	"github.com/pointpeft/pointpeft/tensor"
)

func TestClipGradNorm(t *testing.T) {
	a := tensor.NewParam("a", make([]float32, 2), 2)
	b := tensor.NewParam("b", make([]float32, 1), 1)
	frozen := tensor.NewParam("f", make([]float32, 3), 3)
	frozen.SetTrainable(false)
	set := func() {
		a.Grad = []float32{3, 4}
		b.Grad = []float32{12}
	}
	params := []*tensor.Tensor{a, frozen, b}

	// ‖(3,4,12)‖ = 13; below the limit nothing changes.
	set()
	if total := ClipGradNorm(params, 20); total != 13 {
		t.Errorf("total %v, want 13", total)
	}
	if !slices.Equal(a.Grad, []float32{3, 4}) || !slices.Equal(b.Grad, []float32{12}) {
		t.Errorf("unclipped grads changed: %v %v", a.Grad, b.Grad)
	}

	// Above the limit every gradient is scaled by 6.5/(13+1e-6).
	set()
	if total := ClipGradNorm(params, 6.5); total != 13 {
		t.Errorf("total %v, want 13", total)
	}
	c := float32(6.5 / (13 + 1e-6))
	want := []float32{3 * c, 4 * c, 12 * c}
	got := append(slices.Clone(a.Grad), b.Grad...)
	if !slices.Equal(got, want) {
		t.Errorf("clipped grads %v, want %v", got, want)
	}
	if frozen.Grad != nil {
		t.Error("frozen parameter got a gradient")
	}
	if n := math.Sqrt(float64(got[0]*got[0] + got[1]*got[1] + got[2]*got[2])); math.Abs(n-6.5) > 1e-5 {
		t.Errorf("norm after clipping %v, want 6.5", n)
	}

	// Exactly at the limit torch still scales by max/(max+1e-6) < 1.
	set()
	ClipGradNorm(params, 13)
	if a.Grad[0] >= 3 {
		t.Errorf("at the limit: grad %v not scaled by 13/(13+1e-6)", a.Grad[0])
	}

	// A non-finite norm is reported; NaN leaves the gradients alone.
	set()
	b.Grad[0] = float32(math.NaN())
	if total := ClipGradNorm(params, 1); !math.IsNaN(total) {
		t.Errorf("NaN gradient: total %v", total)
	}
	if a.Grad[0] != 3 {
		t.Errorf("NaN norm changed gradients: %v", a.Grad)
	}
	set()
	b.Grad[0] = float32(math.Inf(-1))
	if total := ClipGradNorm(params, 1); !math.IsInf(total, 1) {
		t.Errorf("Inf gradient: total %v", total)
	}

	if total := ClipGradNorm(nil, 1); total != 0 {
		t.Errorf("no parameters: total %v", total)
	}
}
