//go:build cgo && !purego

package blas

import (
	"runtime"
	"sync"
	"sync/atomic"
)

var nThreads atomic.Int32

func init() { nThreads.Store(int32(runtime.GOMAXPROCS(0))) }

func setThreads(n int) {
	if n < 1 {
		n = 1
	}
	nThreads.Store(int32(n))
}

func threads() int { return int(nThreads.Load()) }

// minSplitFlops is the smallest GEMM (multiply-adds) worth splitting: below it the
// goroutine hand-off costs more than the second core saves.
const minSplitFlops = 1 << 20

// splitRows cuts the m rows of C into one block per thread and calls f for each, on
// its own goroutine, with the block's row count and offsets into A and C.
// Row blocks of C are row blocks of op(A): rows of A, or columns when A is transposed.
func splitRows(transA bool, m, n, k, lda, ldc int, f func(rows, aOff, cOff int)) {
	t := threads()
	if t <= 1 || m < 2*t || m*n*k < minSplitFlops {
		f(m, 0, 0)
		return
	}
	// Blocks are multiples of 16 rows, to keep the kernels on full register tiles.
	step := ((m+t-1)/t + 15) / 16 * 16
	var wg sync.WaitGroup
	for i0 := step; i0 < m; i0 += step {
		rows := min(step, m-i0)
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(rows, aOffset(transA, i0, lda), i0*ldc)
		}()
	}
	f(min(step, m), 0, 0)
	wg.Wait()
}

func aOffset(transA bool, i0, lda int) int {
	if transA {
		return i0
	}
	return i0 * lda
}
