// Package vmath holds the elementwise kernels of the tensor engine that are not GEMMs:
// exp, erf, GELU and ReLU with their derivatives, row softmax, LayerNorm, per-channel
// affine maps (BatchNorm), maxima over an axis and the Geometry-aware Adapter's
// gather-add-max, over float32 slices. With cgo they are C loops written with GCC's
// vector extensions (AVX2 where the CPU has it, chosen at load time); without cgo, or
// with the purego tag, they are the same formulas in Go. GELU and softmax alone were a
// fifth of a Point-PEFT training step's time as scalar Go.
package vmath

import "math"

// Exp32 is e^x in float32 with a relative error below 3e-7 (2.5 ulp), about five times
// faster than the float64 math.Exp. x = n·ln2 + r with |r| ≤ ln2/2, e^r by a degree-6
// polynomial, 2^n by the exponent bits. Inputs below −87.3 give 0 and above 88.7 give
// +Inf, as float32 does.
func Exp32(x float32) float32 {
	if !(x > -87.33654) {
		if x != x {
			return x
		}
		return 0
	}
	if x > 88.72283 {
		return float32(math.Inf(1))
	}
	return expPoly(x)
}

const (
	log2e = 1.44269504088896341
	ln2hi = 0.693359375
	ln2lo = -2.12194440e-4
	// Adding 1.5·2²³ rounds a float32 of magnitude below 2²² to an integer, which then
	// sits in the low mantissa bits: cheaper than math.Floor in float64.
	magic = 12582912
)

// expPoly is Exp32 without the range checks.
func expPoly(x float32) float32 {
	t := float32(x*log2e) + magic
	n := t - magic
	r := x - n*ln2hi - n*ln2lo
	p := float32(1.0 / 720)
	p = p*r + 1.0/120
	p = p*r + 1.0/24
	p = p*r + 1.0/6
	p = p*r + 0.5
	p = p*r + 1
	p = p*r + 1
	k := int32(math.Float32bits(t)&0x7fffff) - 0x400000 // n as an integer
	return p * math.Float32frombits(uint32(k+127)<<23)
}

// Erf32 is a float32 rational approximation of erf (absolute error < 5e-7; beyond ±4
// it saturates). math.Erf in float64 would make GELU cost as much as a GEMM.
func Erf32(x float32) float32 {
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

const (
	invSqrt2   = 0.70710678118654752440
	invSqrt2Pi = 0.39894228040143267794
)

// GELUOf is x·Φ(x) with the exact (erf) Φ, PyTorch's default nn.GELU.
func GELUOf(x float32) float32 { return 0.5 * x * (1 + Erf32(x*invSqrt2)) }

// GELUGradOf is the derivative of GELUOf at x.
func GELUGradOf(x float32) float32 {
	cdf := 0.5 * (1 + Erf32(x*invSqrt2))
	pdf := float32(invSqrt2Pi) * Exp32(-0.5*x*x)
	return cdf + x*pdf
}

// GELU sets y[i] = GELUOf(x[i]); y and x have the same length and may be the same.
func GELU(y, x []float32) {
	if len(y) != len(x) {
		panic("vmath.GELU: lengths differ")
	}
	gelu(y, x)
}

// GELUGradAdd adds dy[i]·GELUGradOf(x[i]) into dx[i].
func GELUGradAdd(dx, x, dy []float32) {
	if len(dx) != len(x) || len(dy) != len(x) {
		panic("vmath.GELUGradAdd: lengths differ")
	}
	geluGradAdd(dx, x, dy)
}

// LayerNorm normalises each row of n values of src into dst (which may be src):
// dst = (x − mean)·rstd·w + b with the biased variance, rstd = 1/√(var + eps); the
// statistics are summed in float64 and written to mean and rstd, one per row.
func LayerNorm(dst, src []float32, n int, w, b []float32, eps float32, mean, rstd []float32) {
	rows := len(src) / max(n, 1)
	if len(dst) != len(src) || n <= 0 || len(src)%n != 0 || len(w) != n || len(b) != n || len(mean) != rows || len(rstd) != rows {
		panic("vmath.LayerNorm: lengths do not match")
	}
	if rows > 0 {
		layerNorm(dst, src, n, w, b, eps, mean, rstd)
	}
}

// ReLU sets y[i] = max(x[i], 0), NaN staying NaN; y may be x.
func ReLU(y, x []float32) {
	if len(y) != len(x) {
		panic("vmath.ReLU: lengths differ")
	}
	relu(y, x)
}

// ReLUGradAdd adds dy[i] into dx[i] where x[i] > 0 (the gradient at 0 is 0, as in
// PyTorch).
func ReLUGradAdd(dx, x, dy []float32) {
	if len(dx) != len(x) || len(dy) != len(x) {
		panic("vmath.ReLUGradAdd: lengths differ")
	}
	reluGradAdd(dx, x, dy)
}

// SoftmaxRows writes the softmax of each row of n values of src into dst (which may be
// src): the maximum is subtracted first, the sum is taken in float64.
func SoftmaxRows(dst, src []float32, n int) {
	if len(dst) != len(src) || n <= 0 || len(src)%n != 0 {
		panic("vmath.SoftmaxRows: lengths are not whole rows")
	}
	softmaxRows(dst, src, n)
}

// AffineCols sets dst[r·c+j] = (src[r·c+j] − mean[j])·rstd[j]·w[j] + b[j] for the rows of
// c values of src, then ReLU when relu is set (a BatchNorm in channels-last layout).
// dst may be src.
func AffineCols(dst, src []float32, c int, mean, rstd, w, b []float32, relu bool) {
	if len(dst) != len(src) || c <= 0 || len(src)%c != 0 || len(mean) != c || len(rstd) != c || len(w) != c || len(b) != c {
		panic("vmath.AffineCols: lengths do not match")
	}
	if len(src) > 0 {
		affineCols(dst, src, c, mean, rstd, w, b, relu)
	}
}

// MaxAxis takes x as [outer, n, inner] and sets out[o·inner+i] to the maximum over j of
// x[o, j, i] and arg to the first j reaching it; a NaN wins over numbers.
func MaxAxis(out []float32, arg []int32, x []float32, n, inner int) {
	if n <= 0 || inner <= 0 || len(x)%(n*inner) != 0 || len(out) != len(x)/n || len(arg) != len(out) {
		panic("vmath.MaxAxis: lengths do not match")
	}
	if len(x) > 0 {
		maxAxis(out, arg, x, n, inner)
	}
}

// GatherAddMax sets out[g·c+ch] to the maximum over j < k of
// table[idx[g·k+j]·c+ch] + scale[g]·local[(g·k+j)·c+ch] for the len(scale) groups, and arg
// to the first j reaching it; a NaN wins over numbers. The indices must be in range.
func GatherAddMax(out []float32, arg []int32, table []float32, idx []int32, local, scale []float32, k, c int) {
	g := len(scale)
	if k <= 0 || c <= 0 || len(idx) != g*k || len(local) != g*k*c || len(out) != g*c || len(arg) != g*c {
		panic("vmath.GatherAddMax: lengths do not match")
	}
	if g > 0 {
		gatherAddMax(out, arg, table, idx, local, scale, k, c)
	}
}

// AttentionSmall is multi-head scaled dot-product attention for many small token sets, in
// one call rather than two GEMMs and a softmax per head: qkv is [groups, t, 3·heads·d]
// packed as timm's Attention makes it, out [groups, t, heads·d]. Per-head GEMMs of a few thousand multiply-adds cost more in call overhead
// than in arithmetic; the Geometry-aware Adapter's local attention (16 tokens, heads of
// 3 channels) makes a million of them per training step. scratch holds at least
// AttentionSmallScratch(t, d) values.
func AttentionSmall(out, qkv []float32, groups, t, heads, d int, scale float32, scratch []float32) {
	if groups < 0 || t < 1 || heads < 1 || d < 1 || len(qkv) != groups*t*3*heads*d || len(out) != groups*t*heads*d || len(scratch) < AttentionSmallScratch(t, d) {
		panic("vmath.AttentionSmall: lengths do not match")
	}
	if groups > 0 {
		attnSmall(out, qkv, groups, t, heads, d, scale, scratch)
	}
}

// AttentionSmallGrad adds the gradient of AttentionSmall with respect to qkv, given the
// output's gradient dout, to dqkv (same layout as qkv); it recomputes the probabilities.
// scratch holds at least AttentionSmallScratch(t, d) values.
func AttentionSmallGrad(dqkv, dout, qkv []float32, groups, t, heads, d int, scale float32, scratch []float32) {
	if groups < 0 || t < 1 || heads < 1 || d < 1 || len(qkv) != groups*t*3*heads*d || len(dqkv) != len(qkv) ||
		len(dout) != groups*t*heads*d || len(scratch) < AttentionSmallScratch(t, d) {
		panic("vmath.AttentionSmallGrad: lengths do not match")
	}
	if groups > 0 {
		attnSmallGrad(dqkv, dout, qkv, groups, t, heads, d, scale, scratch)
	}
}

// AttentionSmallScratch is the scratch AttentionSmall and AttentionSmallGrad need for t
// tokens and heads of d channels: a head's probabilities and their gradient [t, tp], and
// its k, v and their gradients transposed [d, tp], tp being t rounded up to eight.
func AttentionSmallScratch(t, d int) int {
	tp := (t + 7) &^ 7
	return 2*t*tp + 4*d*tp
}

// ColSumAdd adds the column sums of g, rows of cols values, to dst (len cols): a bias
// gradient. Rows are summed 64 at a time before joining the total, so the rounding
// error grows with rows/64 rather than rows.
func ColSumAdd(dst, g []float32, cols int) {
	if cols <= 0 || len(dst) != cols || len(g)%cols != 0 {
		panic("vmath.ColSumAdd: lengths are not whole rows")
	}
	if len(g) > 0 {
		colSumAdd(dst, g, cols)
	}
}
