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

func init() {
	kernel = Kernel{Library: Name, Core: "Go", Detected: "Go", Note: "built without cgo (CGO_ENABLED=0 or -tags purego): about ten times slower than OpenBLAS"}
}

// SetThreads is a no-op: gonum parallelises with goroutines under GOMAXPROCS.
func SetThreads(n int) {}

// Threads reports the GEMM thread count.
func Threads() int { return runtime.GOMAXPROCS(0) }

// sgemm is gonum's, which parallelises by itself.
func sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	ta, tb := gblas.NoTrans, gblas.NoTrans
	if transA {
		ta = gblas.Trans
	}
	if transB {
		tb = gblas.Trans
	}
	impl.Sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}
