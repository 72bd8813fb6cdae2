//go:build cgo && !purego

package blas

/*
#include <cblas.h>
*/
import "C"

import "unsafe"

// dgemm splits large products by rows over goroutines, as sgemm does.
func dgemm(transA, transB bool, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	splitRows(transA, m, n, k, lda, ldc, func(rows, aOff, cOff int) {
		ta, tb := uint32(C.CblasNoTrans), uint32(C.CblasNoTrans)
		if transA {
			ta = C.CblasTrans
		}
		if transB {
			tb = C.CblasTrans
		}
		C.cblas_dgemm(C.CblasRowMajor, ta, tb, C.blasint(rows), C.blasint(n), C.blasint(k),
			C.double(alpha), (*C.double)(unsafe.Pointer(&a[aOff])), C.blasint(lda),
			(*C.double)(unsafe.Pointer(&b[0])), C.blasint(ldb),
			C.double(beta), (*C.double)(unsafe.Pointer(&c[cOff])), C.blasint(ldc))
	})
}
