package tensor

import (
	"sync/atomic"

	"github.com/pointpeft/pointpeft/internal/blas"
	"github.com/pointpeft/pointpeft/internal/vmath"
)

// MatMul returns op(a)·op(b), where op transposes the last two dimensions when the
// matching flag is set. a is [..., m, k] (or [..., k, m]); b is either 2-D, shared by
// every matrix of a's batch, or has exactly a's batch dimensions.
func MatMul(a, b *Tensor, transA, transB bool) *Tensor {
	if a.Rank() < 2 || b.Rank() < 2 {
		shapeErr("MatMul", "operands need at least 2 dimensions", a, b)
	}
	ar, ac := a.Dim(-2), a.Dim(-1)
	m, k := ar, ac
	if transA {
		m, k = ac, ar
	}
	br, bc := b.Dim(-2), b.Dim(-1)
	kb, n := br, bc
	if transB {
		kb, n = bc, br
	}
	if k != kb {
		shapeErr("MatMul", "inner dimensions differ", a, b)
	}
	batchA := a.shape[:a.Rank()-2]
	shape := append(append([]int(nil), batchA...), m, n)
	if b.Rank() == 2 && !transA {
		// Fold a's batch into its rows: one large GEMM instead of many small ones.
		rows := prod(batchA) * m
		out := allocFull(rows * n)
		blas.Sgemm(false, transB, rows, n, k, 1, a.Data, ac, b.Data, bc, 0, out, n)
		r := resultSaving(gemmSaves(a, b), shape, out, a, b)
		if r.requiresGrad {
			r.backward = func() {
				if a.requiresGrad {
					// dA = dC·op(B)ᵀ
					blas.Sgemm(false, !transB, rows, k, n, 1, r.Grad, n, b.Data, bc, 1, a.grad(), ac)
				}
				if b.requiresGrad {
					if transB { // dB = dCᵀ·A
						blas.Sgemm(true, false, n, k, rows, 1, r.Grad, n, a.Data, ac, 1, b.grad(), bc)
					} else { // dB = Aᵀ·dC
						blas.Sgemm(true, false, k, n, rows, 1, a.Data, ac, r.Grad, n, 1, b.grad(), bc)
					}
				}
			}
		}
		return r
	}
	batch := prod(batchA)
	if b.Rank() != 2 && !SameShape(batchA, b.shape[:b.Rank()-2]) {
		shapeErr("MatMul", "batch dimensions differ", a, b)
	}
	sa, sb, sc := ar*ac, br*bc, m*n
	if b.Rank() == 2 {
		sb = 0
	}
	out := allocFull(batch * sc)
	batched(batch, m*n*k, func(i int) {
		blas.Sgemm(transA, transB, m, n, k, 1, a.Data[i*sa:], ac, b.Data[i*sb:], bc, 0, out[i*sc:], n)
	})
	r := resultSaving(gemmSaves(a, b), shape, out, a, b)
	if r.requiresGrad {
		r.backward = func() {
			g := r.Grad
			if a.requiresGrad {
				ga := a.grad()
				batched(batch, m*n*k, func(i int) {
					if transA { // dA = op(B)·dCᵀ
						blas.Sgemm(transB, true, k, m, n, 1, b.Data[i*sb:], bc, g[i*sc:], n, 1, ga[i*sa:], ac)
					} else { // dA = dC·op(B)ᵀ
						blas.Sgemm(false, !transB, m, k, n, 1, g[i*sc:], n, b.Data[i*sb:], bc, 1, ga[i*sa:], ac)
					}
				})
			}
			if b.requiresGrad {
				gb := b.grad()
				step := func(i int) {
					if transB { // dB = dCᵀ·op(A)
						blas.Sgemm(true, transA, n, k, m, 1, g[i*sc:], n, a.Data[i*sa:], ac, 1, gb[i*sb:], bc)
					} else { // dB = op(A)ᵀ·dC
						blas.Sgemm(!transA, false, k, n, m, 1, a.Data[i*sa:], ac, g[i*sc:], n, 1, gb[i*sb:], bc)
					}
				}
				if sb == 0 {
					// A shared b sums over the batch: serial, since every step writes gb.
					for i := 0; i < batch; i++ {
						step(i)
					}
				} else {
					batched(batch, m*n*k, step)
				}
			}
		}
	}
	return r
}

// gemmSaves is what the backward of a product a·b reads: a for b's gradient and b for
// a's, so the input of a frozen layer is not kept.
func gemmSaves(a, b *Tensor) saving {
	var s saving
	if b.requiresGrad {
		s.inputs = append(s.inputs, a)
	}
	if a.requiresGrad {
		s.inputs = append(s.inputs, b)
	}
	return s
}

// batched runs f for each of n independent GEMMs of flops multiply-adds each. Small
// GEMMs run concurrently on goroutines (BLAS would use one thread for each anyway);
// large ones run in turn, each using every BLAS thread.
func batched(n, flops int, f func(i int)) {
	if flops >= 1<<21 {
		for i := 0; i < n; i++ {
			f(i)
		}
		return
	}
	parallelFor(n, 1, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			f(i)
		}
	})
}

// batchedScratch is batched with a scratch buffer of n floats for f, one per goroutine
// rather than one per call.
func batchedScratch(count, flops, n int, f func(i int, scratch []float32)) {
	if flops >= 1<<21 {
		s := alloc(n)
		for i := 0; i < count; i++ {
			f(i, s)
		}
		release(s)
		return
	}
	parallelFor(count, 1, func(lo, hi int) {
		s := alloc(n)
		for i := lo; i < hi; i++ {
			f(i, s)
		}
		release(s)
	})
}

// Linear returns x·Wᵀ + bias, PyTorch's nn.Linear: x is [..., in], w is [out, in] and
// bias (optional, nil) is [out]. Bias and GEMM are fused: the bias seeds the output.
func Linear(x, w, bias *Tensor) *Tensor {
	if w.Rank() != 2 || x.Rank() < 1 || x.Dim(-1) != w.Dim(1) {
		shapeErr("Linear", "want x [..., in] and w [out, in]", x, w)
	}
	outF, inF := w.Dim(0), w.Dim(1)
	if bias != nil && (bias.Rank() != 1 || bias.Dim(0) != outF) {
		shapeErr("Linear", "bias must be [out]", w, bias)
	}
	rows := x.Numel() / inF
	out := allocFull(rows * outF)
	beta := float32(0)
	if bias != nil {
		parallelFor(rows, grainElems/outF+1, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				copy(out[i*outF:(i+1)*outF], bias.Data)
			}
		})
		beta = 1
	}
	blas.Sgemm(false, true, rows, outF, inF, 1, x.Data, inF, w.Data, inF, beta, out, outF)
	shape := append(x.Shape()[:x.Rank()-1], outF)
	r := resultSaving(gemmSaves(x, w), shape, out, x, w, bias)
	if r.requiresGrad {
		r.backward = func() {
			g := r.Grad
			if x.requiresGrad {
				blas.Sgemm(false, false, rows, inF, outF, 1, g, outF, w.Data, inF, 1, x.grad(), inF)
			}
			if w.requiresGrad {
				blas.Sgemm(true, false, outF, inF, rows, 1, g, outF, x.Data, inF, 1, w.grad(), inF)
			}
			if bias != nil && bias.requiresGrad {
				colSumInto(bias.grad(), g, rows, outF)
			}
		}
	}
	return r
}

// colSumRows is how many rows colSumInto sums as one job. Fixed, rather than one job
// per thread, so that the order of the additions, and hence the rounding, does not
// depend on the thread count.
const colSumRows = 2048

// colSumInto adds the column sums of the rows×cols matrix g into dst (a bias gradient):
// blocks of rows in parallel, their partial sums then added in order. A GEMM against a
// vector of ones did the same at a tenth of the speed.
func colSumInto(dst, g []float32, rows, cols int) {
	blocks := (rows + colSumRows - 1) / colSumRows
	if blocks <= 1 {
		vmath.ColSumAdd(dst, g[:rows*cols], cols)
		return
	}
	part := make([]float32, blocks*cols)
	parallelFor(blocks, 1, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			vmath.ColSumAdd(part[i*cols:(i+1)*cols], g[i*colSumRows*cols:min((i+1)*colSumRows, rows)*cols], cols)
		}
	})
	for i := range blocks {
		for j, v := range part[i*cols : (i+1)*cols] {
			dst[j] += v
		}
	}
}

// onesCache holds the longest vector of ones asked for so far; it is only read once made.
var onesCache atomic.Pointer[[]float32]

// onesOf returns a read-only vector of at least n ones.
func onesOf(n int) []float32 {
	if p := onesCache.Load(); p != nil && len(*p) >= n {
		return (*p)[:n]
	}
	s := ones(max(n, 4096))
	onesCache.Store(&s)
	return s[:n]
}
