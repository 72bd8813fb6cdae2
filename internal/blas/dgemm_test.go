package blas

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestDgemmMatchesNaive covers the four transposition cases, at a size the backend
// splits over goroutines and at a tiny one, against the triple loop in float64.
func TestDgemmMatchesNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, tc := range []struct{ m, n, k int }{{3, 2, 5}, {300, 40, 200}} {
		for _, ta := range []bool{false, true} {
			for _, tb := range []bool{false, true} {
				m, n, k := tc.m, tc.n, tc.k
				lda, ldb, ldc := k, n, n+1
				if ta {
					lda = m
				}
				if tb {
					ldb = k
				}
				at := func(x []float64, ld int, trans bool, i, j int) float64 {
					if trans {
						return x[j*ld+i]
					}
					return x[i*ld+j]
				}
				fill := func(n int) []float64 {
					x := make([]float64, n)
					for i := range x {
						x[i] = rng.NormFloat64()
					}
					return x
				}
				a, b, c := fill(max(m, k)*lda), fill(max(k, n)*ldb), fill(m*ldc)
				want := append([]float64(nil), c...)
				for i := 0; i < m; i++ {
					for j := 0; j < n; j++ {
						var s float64
						for p := 0; p < k; p++ {
							s += at(a, lda, ta, i, p) * at(b, ldb, tb, p, j)
						}
						want[i*ldc+j] = 0.5*s - 2*c[i*ldc+j]
					}
				}
				Dgemm(ta, tb, m, n, k, 0.5, a, lda, b, ldb, -2, c, ldc)
				for i, w := range want {
					if math.Abs(c[i]-w) > 1e-12*(1+math.Abs(w)) {
						t.Fatalf("%+v ta=%v tb=%v: c[%d]=%.15g want %.15g", tc, ta, tb, i, c[i], w)
					}
				}
			}
		}
	}
}
