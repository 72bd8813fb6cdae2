package blas

// Dgemm is Sgemm in float64, for the few computations that need double precision
// (the linear probe's classifier); it is not timed.
func Dgemm(transA, transB bool, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		scaleRows(m, n, beta, c, ldc)
		return
	}
	checkSizes(transA, transB, m, n, k, len(a), lda, len(b), ldb, len(c), ldc)
	dgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}
