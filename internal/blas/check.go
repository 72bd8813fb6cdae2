package blas

import "fmt"

// checkSizes guards the C call: a short slice would be a silent out-of-bounds read there.
func checkSizes(transA, transB bool, m, n, k, la, lda, lb, ldb, lc, ldc int) {
	ar, ac, br, bc := operandDims(transA, transB, m, n, k)
	if lda < ac || ldb < bc || ldc < n {
		panic(fmt.Sprintf("blas: leading dimensions too small: lda=%d (cols %d) ldb=%d (cols %d) ldc=%d (cols %d)", lda, ac, ldb, bc, ldc, n))
	}
	if la < (ar-1)*lda+ac || lb < (br-1)*ldb+bc || lc < (m-1)*ldc+n {
		panic(fmt.Sprintf("blas: slice too short for sgemm m=%d n=%d k=%d: len(a)=%d len(b)=%d len(c)=%d", m, n, k, la, lb, lc))
	}
}

// operandDims are the rows and columns of A and B as stored, for op(A) m×k and op(B) k×n.
func operandDims(transA, transB bool, m, n, k int) (ar, ac, br, bc int) {
	ar, ac, br, bc = m, k, k, n
	if transA {
		ar, ac = k, m
	}
	if transB {
		br, bc = n, k
	}
	return ar, ac, br, bc
}

func scaleRows[T float32 | float64](m, n int, beta T, c []T, ldc int) {
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		for j := range row {
			if beta == 0 {
				row[j] = 0
			} else {
				row[j] *= beta
			}
		}
	}
}
