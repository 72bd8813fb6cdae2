package tensor

import (
	"math"
	"testing"
)

// misannotatedSquare is x² whose backward reads x's values captured at forward time
// while declaring (saves()) that it keeps nothing: the kind of annotation mistake the
// tensordebug build exists to expose.
func misannotatedSquare(x *Tensor) *Tensor {
	xs := x.Data
	out := allocFull(len(xs))
	for i, v := range xs {
		out[i] = v * v
	}
	r := resultSaving(saves(), x.Shape(), out, x)
	if r.requiresGrad {
		r.backward = func() {
			g := x.grad()
			for i := range g {
				g[i] += 2 * xs[i] * r.Grad[i]
			}
		}
	}
	return r
}

// TestPoisonExposesWrongAnnotation: in the tensordebug build, a backward that reads a
// buffer Segment gave back sees NaN (in the normal build it may silently read whatever
// the arena lent next, which is why the debug build runs the oracle tests in CI).
func TestPoisonExposesWrongAnnotation(t *testing.T) {
	w := NewParam("w", []float32{1, 2, 3, 4}, 4)
	var grad []float32
	NewArena().Step(func() {
		y := Segment(func() *Tensor {
			h := Mul(w, w) // an intermediate Segment may drop: misannotatedSquare claims not to read it
			return misannotatedSquare(h)
		})
		Backward(SumAll(y))
		grad = append([]float32(nil), w.Grad...)
	})
	nan := false
	for _, g := range grad {
		nan = nan || math.IsNaN(float64(g))
	}
	if poison && !nan {
		t.Fatalf("tensordebug: a backward reading a recycled buffer got %v, want NaN", grad)
	}
	if !poison {
		t.Logf("normal build: gradient %v (the debug build turns this into NaN)", grad)
	}
}
