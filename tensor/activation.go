package tensor

import (
	"math"
	"math/rand/v2"

	"github.com/pointpeft/pointpeft/internal/vmath"
)

// unary applies an elementwise function: f(dst, src) writes it over a range, and
// grad(dx, v, dy) adds dy·f′ into dx, with v the input, or the output when fromOut is
// set, so that the backward pass keeps only one of them. Functions over ranges rather
// than elements keep a call per element out of the loops.
func unary(t *Tensor, f func(dst, src []float32), grad func(dx, v, dy []float32), fromOut bool) *Tensor {
	out := allocFull(len(t.Data))
	parallelFor(len(out), grainElems, func(lo, hi int) { f(out[lo:hi], t.Data[lo:hi]) })
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
			parallelFor(len(g), grainElems, func(lo, hi int) { grad(g[lo:hi], v[lo:hi], r.Grad[lo:hi]) })
		}
	}
	return r
}

// ReLU is max(x, 0); its gradient at 0 is 0, as in PyTorch. NaN stays NaN.
func ReLU(t *Tensor) *Tensor { return unary(t, vmath.ReLU, vmath.ReLUGradAdd, false) }

// LeakyReLU is x for x > 0 and slope·x otherwise (PyTorch's nn.LeakyReLU; its
// gradient at 0 is slope, as there). DGCNN's EdgeConv uses slope 0.2.
func LeakyReLU(t *Tensor, slope float32) *Tensor {
	return unary(t, func(dst, src []float32) {
		for i, x := range src {
			if x > 0 {
				dst[i] = x
			} else {
				dst[i] = slope * x
			}
		}
	}, func(dx, x, dy []float32) {
		for i, v := range x {
			if v > 0 {
				dx[i] += dy[i]
			} else {
				dx[i] += slope * dy[i]
			}
		}
	}, false)
}

// Sigmoid is 1/(1+exp(-x)).
func Sigmoid(t *Tensor) *Tensor {
	return unary(t, func(dst, src []float32) {
		for i, x := range src {
			dst[i] = sigmoid(x)
		}
	}, func(dx, y, dy []float32) {
		for i, v := range y {
			dx[i] += dy[i] * v * (1 - v)
		}
	}, true)
}

func sigmoid(x float32) float32 { return 1 / (1 + vmath.Exp32(-x)) }

// Log is the natural logarithm; it is NaN below 0 and −Inf at 0, as in PyTorch.
func Log(t *Tensor) *Tensor {
	return unary(t, func(dst, src []float32) {
		for i, x := range src {
			dst[i] = float32(math.Log(float64(x)))
		}
	}, func(dx, x, dy []float32) {
		for i, v := range x {
			dx[i] += dy[i] / v
		}
	}, false)
}

// GELU is x·Φ(x) with the exact (erf) Φ, PyTorch's default nn.GELU. Its loops are
// vmath's vectorised kernels.
func GELU(t *Tensor) *Tensor { return unary(t, vmath.GELU, vmath.GELUGradAdd, false) }

// QuickGELU is x·σ(1.702x), the sigmoid approximation some checkpoints were trained with.
func QuickGELU(t *Tensor) *Tensor {
	return unary(t, func(dst, src []float32) {
		for i, x := range src {
			dst[i] = x * sigmoid(1.702*x)
		}
	}, func(dx, x, dy []float32) {
		for i, v := range x {
			s := sigmoid(1.702 * v)
			dx[i] += dy[i] * (s + 1.702*v*s*(1-s))
		}
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
	if !train || p == 0 {
		return ones(n)
	}
	s := make([]float32, n)
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
	mask := allocFull(t.Numel() / max(width, 1))
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
