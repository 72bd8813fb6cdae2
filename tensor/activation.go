package tensor

import (
	"math/rand/v2"
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

func sigmoid(x float32) float32 { return 1 / (1 + exp32(-x)) }

// GELU is x·Φ(x) with the exact (erf) Φ, PyTorch's default nn.GELU.
func GELU(t *Tensor) *Tensor {
	return unary(t, func(x float32) float32 { return 0.5 * x * (1 + erf32(x*invSqrt2)) },
		func(x float32) float32 {
			cdf := 0.5 * (1 + erf32(x*invSqrt2))
			pdf := float32(invSqrt2Pi) * exp32(-0.5*x*x)
			return cdf + x*pdf
		}, false)
}

// QuickGELU is x·σ(1.702x), the sigmoid approximation some checkpoints were trained with.
func QuickGELU(t *Tensor) *Tensor {
	return unary(t, func(x float32) float32 { return x * sigmoid(1.702*x) },
		func(x float32) float32 {
			s := sigmoid(1.702 * x)
			return s + 1.702*x*s*(1-s)
		}, false)
}

const (
	invSqrt2   = 0.70710678118654752440
	invSqrt2Pi = 0.39894228040143267794
)

// erf32 is a float32 rational approximation of erf (absolute error < 5e-7; beyond ±4
// it saturates). math.Erf in float64 would make GELU cost as much as a GEMM.
func erf32(x float32) float32 {
	x = max(-4, min(4, x))
	x2 := x * x
	p := x2*-2.72614225801306e-10 + 2.77068142495902e-08
	p = x2*p + -2.10102402082508e-06
	p = x2*p + -5.69250639462346e-05
	p = x2*p + -7.34990630326855e-04
	p = x2*p + -2.95459980854025e-03
	p = x2*p + -1.60960333262415e-02
	p *= x
	q := x2*-1.45660718464996e-05 + -2.13374055278905e-04
	q = x2*q + -1.68282697438203e-03
	q = x2*q + -7.37332916720468e-03
	q = x2*q + -1.42647390514189e-02
	return p / q
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

// maskScale keeps each block of width elements with probability 1-p, scaled by 1/(1-p).
// The mask is drawn serially so a seed gives the same mask whatever GOMAXPROCS is.
func maskScale(t *Tensor, p float32, width int, rng *rand.Rand) *Tensor {
	if p < 0 || p >= 1 {
		shapeErr("Dropout", "probability must be in [0,1)", t)
	}
	keep := 1 / (1 - p)
	mask := alloc(t.Numel() / max(width, 1))
	for i := range mask {
		if rng.Float32() >= p {
			mask[i] = keep
		}
	}
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
