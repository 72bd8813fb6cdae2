//go:build !cgo || purego

package blas

import (
	"runtime"

	gblas "gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// Name says which implementation was compiled in.
const Name = "gonum (pure Go)"

var impl gonum.Implementation

// SetThreads is a no-op: gonum parallelises with goroutines under GOMAXPROCS.
func SetThreads(n int) {}

// Threads reports the GEMM thread count.
func Threads() int { return runtime.GOMAXPROCS(0) }

// Sgemm computes C = alpha*op(A)*op(B) + beta*C for row-major matrices, where op(A) is
// m×k and op(B) is k×n. lda, ldb and ldc are the row strides of A, B and C as stored.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		scaleRows(m, n, beta, c, ldc)
		return
	}
	checkSizes(transA, transB, m, n, k, len(a), lda, len(b), ldb, len(c), ldc)
	if timerOn.Load() {
		gemmBegin()
		defer gemmEnd()
	}
	ta, tb := gblas.NoTrans, gblas.NoTrans
	if transA {
		ta = gblas.Trans
	}
	if transB {
		tb = gblas.Trans
	}
	impl.Sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}
