package vmath

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestErf32(t *testing.T) {
	for x := -6.0; x <= 6; x += 0.001 {
		if d := math.Abs(float64(Erf32(float32(x))) - math.Erf(x)); d > 5e-7 {
			t.Fatalf("Erf32(%g) off by %g", x, d)
		}
	}
}

func TestExp32(t *testing.T) {
	var worst float64
	for x := -87.0; x <= 88; x += 0.0007 {
		got := float64(Exp32(float32(x)))
		// Compare with e^float32(x): the argument's own rounding is not exp32's error.
		want := math.Exp(float64(float32(x)))
		if rel := math.Abs(got-want) / want; rel > worst {
			worst = rel
		}
	}
	if worst > 3e-7 { // 2.5 ulp
		t.Fatalf("exp32 relative error %.3g", worst)
	}
	if Exp32(-100) != 0 || !math.IsInf(float64(Exp32(100)), 1) || !math.IsNaN(float64(Exp32(float32(math.NaN())))) {
		t.Fatal("exp32 limits")
	}
}

// TestKernelsMatchScalarFormulas: the slice kernels (C loops with cgo) agree with the
// scalar Go formulas on ordinary values, large ones, zeros and NaN.
func TestKernelsMatchScalarFormulas(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	x := make([]float32, 1001)
	for i := range x {
		x[i] = float32(rng.NormFloat64() * 3)
	}
	x[0], x[1], x[2], x[3] = 0, 40, -40, float32(math.NaN())
	y := make([]float32, len(x))
	GELU(y, x)
	dy := make([]float32, len(x))
	dx := make([]float32, len(x))
	for i := range dy {
		dy[i] = float32(rng.NormFloat64())
		dx[i] = 1
	}
	GELUGradAdd(dx, x, dy)
	r := make([]float32, len(x))
	rdx := make([]float32, len(x))
	ReLU(r, x)
	ReLUGradAdd(rdx, x, dy)
	for i, v := range x {
		if i == 3 {
			if !math.IsNaN(float64(y[i])) || !math.IsNaN(float64(dx[i])) || !math.IsNaN(float64(r[i])) {
				t.Fatalf("GELU(NaN) = %g, gradient %g, ReLU %g", y[i], dx[i], r[i])
			}
			continue
		}
		near(t, "GELU", v, y[i], GELUOf(v))
		wantG := float32(0)
		if v > 0 {
			wantG = dy[i]
		}
		if r[i] != max(v, 0) || rdx[i] != wantG {
			t.Fatalf("ReLU(%g) = %g, gradient %g", v, r[i], rdx[i])
		}
		near(t, "GELU gradient", v, dx[i], 1+dy[i]*GELUGradOf(v))
	}

	const n = 13
	src := x[4 : 4+n*70]
	got := make([]float32, len(src))
	SoftmaxRows(got, src, n)
	for r := 0; r < len(src); r += n {
		m := src[r]
		for _, v := range src[r : r+n] {
			m = max(m, v)
		}
		var s float64
		for _, v := range src[r : r+n] {
			s += math.Exp(float64(v - m))
		}
		for i, v := range src[r : r+n] {
			near(t, "softmax", v, got[r+i], float32(math.Exp(float64(v-m))/s))
		}
	}
	SoftmaxRows(src, src, n) // in place
	for i := range src {
		if src[i] != got[i] {
			t.Fatal("in-place softmax differs")
		}
	}
}

func near(t *testing.T, what string, x, got, want float32) {
	t.Helper()
	if d := math.Abs(float64(got - want)); d > 1e-6*math.Max(1, math.Abs(float64(want))) {
		t.Fatalf("%s(%g) = %g, want %g", what, x, got, want)
	}
}

// BenchmarkGELU measures the forward kernel on a Transformer MLP's hidden activations
// (1M values); compare CGO_ENABLED=0 for the scalar Go loop.
func BenchmarkGELU(b *testing.B) {
	x := make([]float32, 1<<20)
	for i := range x {
		x[i] = float32(i%2000)/500 - 2
	}
	y := make([]float32, len(x))
	b.SetBytes(int64(len(x) * 4))
	for b.Loop() {
		GELU(y, x)
	}
}

// BenchmarkSoftmaxRows measures 139-wide rows, a Point-PEFT attention map's.
func BenchmarkSoftmaxRows(b *testing.B) {
	x := make([]float32, 139*139*8)
	for i := range x {
		x[i] = float32(i%97) / 10
	}
	b.SetBytes(int64(len(x) * 4))
	for b.Loop() {
		SoftmaxRows(x, x, 139)
	}
}

// TestReductionKernels checks AffineCols, LayerNorm, MaxAxis and GatherAddMax against
// plain loops, with widths that leave a tail after the 8-wide vectors, and NaN winning a
// maximum.
func TestReductionKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	randf := func(n int) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = float32(rng.NormFloat64())
		}
		return s
	}
	const c, rows = 13, 9
	src, mean, rstd, w, b := randf(rows*c), randf(c), randf(c), randf(c), randf(c)
	got := make([]float32, len(src))
	for _, relu := range []bool{false, true} {
		AffineCols(got, src, c, mean, rstd, w, b, relu)
		for i, v := range src {
			j := i % c
			want := (v-mean[j])*rstd[j]*w[j] + b[j]
			if relu && want < 0 {
				want = 0
			}
			near(t, "AffineCols", v, got[i], want)
		}
	}

	ln, mu, rs := make([]float32, len(src)), make([]float32, rows), make([]float32, rows)
	LayerNorm(ln, src, c, w, b, 1e-5, mu, rs)
	for r := 0; r < rows; r++ {
		var s, ss float64
		for _, v := range src[r*c : (r+1)*c] {
			s += float64(v)
		}
		m := s / c
		for _, v := range src[r*c : (r+1)*c] {
			ss += (float64(v) - m) * (float64(v) - m)
		}
		std := math.Sqrt(ss/c + 1e-5)
		for j, v := range src[r*c : (r+1)*c] {
			near(t, "LayerNorm", v, ln[r*c+j], float32((float64(v)-m)/std)*w[j]+b[j])
		}
		near(t, "LayerNorm rstd", 0, rs[r], float32(1/std))
	}

	const n, inner = 5, 11
	x := randf(3 * n * inner)
	x[2*inner+4] = float32(math.NaN()) // o=0, j=2, i=4
	out, arg := make([]float32, 3*inner), make([]int32, 3*inner)
	MaxAxis(out, arg, x, n, inner)
	for o := 0; o < 3; o++ {
		for i := 0; i < inner; i++ {
			bj := 0
			for j := 1; j < n; j++ {
				v, best := x[(o*n+j)*inner+i], x[(o*n+bj)*inner+i]
				if v > best || (v != v && best == best) {
					bj = j
				}
			}
			if arg[o*inner+i] != int32(bj) || math.Float32bits(out[o*inner+i]) != math.Float32bits(x[(o*n+bj)*inner+i]) {
				t.Fatalf("MaxAxis [%d,%d]: %g at %d, want %g at %d", o, i, out[o*inner+i], arg[o*inner+i], x[(o*n+bj)*inner+i], bj)
			}
		}
	}

	const g, k = 4, 3
	table := randf(7 * c)
	idx := make([]int32, g*k)
	for i := range idx {
		idx[i] = int32(rng.IntN(7))
	}
	local, scale := randf(g*k*c), []float32{1, 0, 2, 1}
	out, arg = make([]float32, g*c), make([]int32, g*c)
	GatherAddMax(out, arg, table, idx, local, scale, k, c)
	for gi := 0; gi < g; gi++ {
		for ch := 0; ch < c; ch++ {
			val := func(j int) float32 { return table[int(idx[gi*k+j])*c+ch] + scale[gi]*local[(gi*k+j)*c+ch] }
			bj := 0
			for j := 1; j < k; j++ {
				if val(j) > val(bj) {
					bj = j
				}
			}
			if arg[gi*c+ch] != int32(bj) || out[gi*c+ch] != val(bj) {
				t.Fatalf("GatherAddMax [%d,%d]: %g at %d, want %g at %d", gi, ch, out[gi*c+ch], arg[gi*c+ch], val(bj), bj)
			}
		}
	}
}

// TestColSumAdd compares the blocked column sums with float64 sums across the column
// tile and the row block, on a matrix whose sums cancel to a small fraction of its size.
func TestColSumAdd(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 2))
	for _, sz := range [][2]int{{1, 1}, {63, 5}, {65, 257}, {3000, 300}} {
		rows, cols := sz[0], sz[1]
		g := make([]float32, rows*cols)
		for i := range g {
			g[i] = float32(rng.NormFloat64())
		}
		dst := make([]float32, cols)
		for j := range dst {
			dst[j] = float32(j)
		}
		ColSumAdd(dst, g, cols)
		for j := range cols {
			want := float64(j)
			for r := range rows {
				want += float64(g[r*cols+j])
			}
			if d := math.Abs(float64(dst[j]) - want); d > 2e-5*math.Sqrt(float64(rows))+1e-6*math.Abs(want) {
				t.Fatalf("%dx%d column %d: %g, want %g", rows, cols, j, dst[j], want)
			}
		}
	}
}

// TestAttentionSmallScratch: the kernels read no scratch beyond what it says they need,
// and give the same numbers whatever was in the scratch before.
func TestAttentionSmallScratch(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 3))
	groups, tk, heads, d := 3, 13, 2, 3
	qkv := make([]float32, groups*tk*3*heads*d)
	dout := make([]float32, groups*tk*heads*d)
	for i := range qkv {
		qkv[i] = float32(rng.NormFloat64())
	}
	for i := range dout {
		dout[i] = float32(rng.NormFloat64())
	}
	run := func(fill float32) ([]float32, []float32) {
		n := AttentionSmallScratch(tk, d)
		scratch := make([]float32, n+8)
		for i := range scratch {
			scratch[i] = fill
		}
		out := make([]float32, len(dout))
		AttentionSmall(out, qkv, groups, tk, heads, d, 0.5, scratch[:n])
		dq := make([]float32, len(qkv))
		AttentionSmallGrad(dq, dout, qkv, groups, tk, heads, d, 0.5, scratch[:n])
		return out, dq
	}
	o1, g1 := run(0)
	o2, g2 := run(float32(math.NaN()))
	for i := range o1 {
		if o1[i] != o2[i] || math.IsNaN(float64(o1[i])) {
			t.Fatalf("output %d: %g with a zeroed scratch, %g with NaNs in it", i, o1[i], o2[i])
		}
	}
	for i := range g1 {
		if g1[i] != g2[i] || math.IsNaN(float64(g1[i])) {
			t.Fatalf("gradient %d: %g with a zeroed scratch, %g with NaNs in it", i, g1[i], g2[i])
		}
	}
}
