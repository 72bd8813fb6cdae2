package tensor

import (
	"math/rand/v2"

	"github.com/pointpeft/pointpeft/internal/vmath"
)

// unary applies f elementwise; df is the derivative as a function of the input x, or of
// the output y when fromOut is set, so that the backward pass keeps only one of them.
func unary(t *Tensor, f, df func(float32) float32, fromOut bool) *Tensor {
	out := allocFull(len(t.Data))
	parallelFor(len(out), grainElems, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			out[i] = f(t.Data[i])
		}
	})
	s := saves(t)
	if fromOut {
		s = saving{out: true}
	}
	r := resultSaving(s, t.Shape(), out, t)
	if r.requiresGrad {
		r.backward = func() {
			g := t.grad()
			v := t.Data
			if fromOut {
				v = out
			}
			parallelFor(len(g), grainElems, func(lo, hi int) {
				for i := lo; i < hi; i++ {
					g[i] += r.Grad[i] * df(v[i])
				}
			})
		}
	}
	return r
}

// ReLU is max(x, 0); its gradient at 0 is 0, as in PyTorch.
func ReLU(t *Tensor) *Tensor {
	return unary(t, func(x float32) float32 { return max(x, 0) },
		func(x float32) float32 {
			if x > 0 {
				return 1
			}
			return 0
		}, false)
}

// Sigmoid is 1/(1+exp(-x)).
func Sigmoid(t *Tensor) *Tensor {
	return unary(t, sigmoid, func(y float32) float32 { return y * (1 - y) }, true)
}

func sigmoid(x float32) float32 { return 1 / (1 + vmath.Exp32(-x)) }

// GELU is x·Φ(x) with the exact (erf) Φ, PyTorch's default nn.GELU. Its loops are
// vmath's vectorised kernels.
func GELU(t *Tensor) *Tensor {
	out := allocFull(len(t.Data))
	parallelFor(len(out), grainElems, func(lo, hi int) { vmath.GELU(out[lo:hi], t.Data[lo:hi]) })
	r := resultSaving(saves(t), t.Shape(), out, t)
	if r.requiresGrad {
		r.backward = func() {
			g := t.grad()
			parallelFor(len(g), grainElems, func(lo, hi int) { vmath.GELUGradAdd(g[lo:hi], t.Data[lo:hi], r.Grad[lo:hi]) })
		}
	}
	return r
}

// QuickGELU is x·σ(1.702x), the sigmoid approximation some checkpoints were trained with.
func QuickGELU(t *Tensor) *Tensor {
	return unary(t, func(x float32) float32 { return x * sigmoid(1.702*x) },
		func(x float32) float32 {
			s := sigmoid(1.702 * x)
			return s + 1.702*x*s*(1-s)
		}, false)
}

// Dropout zeroes each element with probability p and scales the rest by 1/(1-p), when
// train is set; otherwise it returns t unchanged.
func Dropout(t *Tensor, p float32, train bool, rng *rand.Rand) *Tensor {
	if !train || p == 0 {
		return t
	}
	return maskScale(t, p, 1, rng)
}

// DropPath (stochastic depth) zeroes whole samples, the slices along axis 0, with
// probability p and scales the kept ones by 1/(1-p), when train is set.
func DropPath(t *Tensor, p float32, train bool, rng *rand.Rand) *Tensor {
	if !train || p == 0 {
		return t
	}
	return maskScale(t, p, t.Numel()/max(t.Dim(0), 1), rng)
}

// DropPathScales draws the per-sample factors of DropPath over n samples: 0 with
// probability p, else 1/(1-p); all ones when train is unset or p is 0. Ops that fuse a
// drop path (GatherAddMax) take them, and draw exactly what DropPath would.
func DropPathScales(n int, p float32, train bool, rng *rand.Rand) []float32 {
	if p < 0 || p >= 1 {
		panic(&ShapeError{Op: "DropPath", Msg: "probability must be in [0,1)"})
	}
	s := make([]float32, n)
	if !train || p == 0 {
		for i := range s {
			s[i] = 1
		}
		return s
	}
	drawMask(s, p, rng)
	return s
}

// drawMask sets each mask value to 1/(1-p) with probability 1-p and to 0 otherwise. It
// draws serially so a seed gives the same mask whatever GOMAXPROCS is.
func drawMask(mask []float32, p float32, rng *rand.Rand) {
	keep := 1 / (1 - p)
	for i := range mask {
		if rng.Float32() >= p {
			mask[i] = keep
		} else {
			mask[i] = 0
		}
	}
}

// maskScale keeps each block of width elements with probability 1-p, scaled by 1/(1-p).
func maskScale(t *Tensor, p float32, width int, rng *rand.Rand) *Tensor {
	if p < 0 || p >= 1 {
		shapeErr("Dropout", "probability must be in [0,1)", t)
	}
	mask := alloc(t.Numel() / max(width, 1))
	drawMask(mask, p, rng)
	out := allocFull(t.Numel())
	parallelFor(len(out), grainElems, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			out[i] = t.Data[i] * mask[i/width]
		}
	})
	r := resultSaving(saves(), t.Shape(), out, t)
	if r.requiresGrad {
		r.backward = func() {
			g := t.grad()
			parallelFor(len(g), grainElems, func(lo, hi int) {
				for i := lo; i < hi; i++ {
					g[i] += r.Grad[i] * mask[i/width]
				}
			})
		}
	}
	return r
}
