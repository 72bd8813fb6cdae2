package blas

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// naive is the textbook triple loop in float64, the reference for every case below.
func naive(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) []float32 {
	out := append([]float32(nil), c...)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for p := 0; p < k; p++ {
				var av, bv float32
				if transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if transB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += float64(av) * float64(bv)
			}
			out[i*ldc+j] = float32(float64(alpha)*s + float64(beta)*float64(c[i*ldc+j]))
		}
	}
	return out
}

func TestSgemmMatchesNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct{ m, n, k int }{{1, 1, 1}, {3, 5, 7}, {17, 33, 65}, {64, 1, 300}} {
		for _, ta := range []bool{false, true} {
			for _, tb := range []bool{false, true} {
				lda, ldb, ldc := tc.k+2, tc.n+1, tc.n+3
				if ta {
					lda = tc.m + 2
				}
				if tb {
					ldb = tc.k + 1
				}
				rows := func(trans bool, r, c int) int {
					if trans {
						return c
					}
					return r
				}
				a := randSlice(rng, rows(ta, tc.m, tc.k)*lda)
				b := randSlice(rng, rows(tb, tc.k, tc.n)*ldb)
				c := randSlice(rng, tc.m*ldc)
				want := naive(ta, tb, tc.m, tc.n, tc.k, 1.5, a, lda, b, ldb, 0.5, c, ldc)
				Sgemm(ta, tb, tc.m, tc.n, tc.k, 1.5, a, lda, b, ldb, 0.5, c, ldc)
				for i := 0; i < tc.m; i++ {
					for j := 0; j < tc.n; j++ {
						g, w := c[i*ldc+j], want[i*ldc+j]
						if math.Abs(float64(g-w)) > 1e-4*(1+math.Abs(float64(w))) {
							t.Fatalf("%+v ta=%v tb=%v: c[%d,%d]=%g want %g", tc, ta, tb, i, j, g, w)
						}
					}
				}
			}
		}
	}
}

func TestSgemmRejectsShortSlices(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("short slice accepted")
		}
	}()
	Sgemm(false, false, 2, 2, 2, 1, make([]float32, 3), 2, make([]float32, 4), 2, 0, make([]float32, 4), 2)
}

func randSlice(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(rng.NormFloat64())
	}
	return s
}

func BenchmarkSgemm8192x384x1536(b *testing.B) {
	m, k, n := 8192, 384, 1536
	rng := rand.New(rand.NewPCG(1, 2))
	x, w, c := randSlice(rng, m*k), randSlice(rng, k*n), make([]float32, m*n)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		Sgemm(false, false, m, n, k, 1, x, k, w, n, 0, c, n)
	}
	gflops := 2 * float64(m) * float64(n) * float64(k) * float64(b.N) / b.Elapsed().Seconds() / 1e9
	b.ReportMetric(gflops, "GFLOP/s")
	b.Logf("%s, %d threads", Name, Threads())
}

// TestTimerCountsOverlapOnce: two overlapping GEMM intervals count as their union, never
// more than the wall time they span.
func TestTimerCountsOverlapOnce(t *testing.T) {
	start := time.Now()
	StartTimer()
	gemmBegin()
	time.Sleep(20 * time.Millisecond)
	gemmBegin()
	time.Sleep(20 * time.Millisecond)
	gemmEnd()
	time.Sleep(20 * time.Millisecond)
	gemmEnd()
	time.Sleep(10 * time.Millisecond) // outside any GEMM
	busy := StopTimer()
	if wall := time.Since(start); busy < 60*time.Millisecond || busy > wall-10*time.Millisecond {
		t.Fatalf("GEMM time %v for 60 ms of GEMMs inside %v", busy, wall)
	}
}
