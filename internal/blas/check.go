package blas

import "fmt"

// checkSizes guards the C call: a short slice would be a silent out-of-bounds read there.
func checkSizes(transA, transB bool, m, n, k, la, lda, lb, ldb, lc, ldc int) {
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	if lda < ac || ldb < bc || ldc < n {
		panic(fmt.Sprintf("blas: leading dimensions too small: lda=%d (cols %d) ldb=%d (cols %d) ldc=%d (cols %d)", lda, ac, ldb, bc, ldc, n))
	}
	if la < (ar-1)*lda+ac || lb < (br-1)*ldb+bc || lc < (m-1)*ldc+n {
		panic(fmt.Sprintf("blas: slice too short for sgemm m=%d n=%d k=%d: len(a)=%d len(b)=%d len(c)=%d", m, n, k, la, lb, lc))
	}
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
