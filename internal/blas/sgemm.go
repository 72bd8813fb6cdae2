package blas

// Sgemm computes C = alpha*op(A)*op(B) + beta*C for row-major matrices, where op(A) is
// m×k and op(B) is k×n. lda, ldb and ldc are the row strides of A, B and C as stored.
// The checks and the timer are here; sgemm is the backend's product.
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
	sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}
