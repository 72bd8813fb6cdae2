package tensor

// The ops in this file serve passes with nothing to differentiate, such as a frozen
// token encoder, whose per-point activations are the largest tensors of a step: they
// overwrite their input or never build their full intermediate. They panic when asked
// to record a graph.

func noGraph(op string, ts ...*Tensor) {
	if !GradEnabled() {
		return
	}
	for _, t := range ts {
		if t != nil && t.requiresGrad {
			shapeErr(op, "needs a gradient-free pass (an input requires a gradient)", t)
		}
	}
}

// BatchNormReLUInPlace overwrites x [rows, C] with ReLU(BatchNorm(x)): the same numbers
// as the two ops, and in training the same running-statistics update.
func BatchNormReLUInPlace(x, w, b *Tensor, st *BatchNormState, train bool) {
	noGraph("BatchNormReLUInPlace", x, w, b)
	rows, c := rowsOf(x)
	checkAffine("BatchNormReLUInPlace", x, w, b, c)
	mean, rstd := bnStats("BatchNormReLUInPlace", x, st, train)
	bnApply(x.Data, x.Data, rows, c, mean, rstd, w, b, true)
}

// AddInPlace adds src into dst, broadcasting src to dst's shape.
func AddInPlace(dst, src *Tensor) {
	noGraph("AddInPlace", dst, src)
	if got := broadcastShape("AddInPlace", dst, src); !SameShape(got, dst.shape) {
		shapeErr("AddInPlace", "src does not broadcast to dst", dst, src)
	}
	m := mapOperand(src.shape, dst.shape)
	parallelFor(len(dst.Data), grainElems, func(lo, hi int) {
		for i := lo; i < hi; {
			j, l, step := m.run(i, hi)
			for u, d := 0, dst.Data[i:i+l]; u < l; u++ {
				d[u] += src.Data[j+u*step]
			}
			i += l
		}
	})
}

// LinearMax returns the maximum over axis 1 of Linear(x, w, bias) for x [G, M, in]:
// [G, out], the last layer of a PointNet and its pooling. It runs a chunk of groups at a
// time, so that the [G·M, out] product never exists whole.
func LinearMax(x, w, bias *Tensor) *Tensor {
	noGraph("LinearMax", x, w, bias)
	if x.Rank() != 3 || w.Rank() != 2 || x.Dim(2) != w.Dim(1) {
		shapeErr("LinearMax", "want x [G, M, in] and w [out, in]", x, w)
	}
	g, m, in := x.Dim(0), x.Dim(1), x.Dim(2)
	outF := w.Dim(0)
	out := allocFull(g * outF)
	// Chunks of about 4 MiB of products keep the GEMMs large and the buffer small.
	per := max(1, (1<<20)/max(m*outF, 1))
	for lo := 0; lo < g; lo += per {
		hi := min(lo+per, g)
		xs := &Tensor{shape: []int{hi - lo, m, in}, Data: x.Data[lo*m*in : hi*m*in]}
		ys := Linear(xs, w, bias)
		mx, _ := Max(ys, 1)
		copy(out[lo*outF:], mx.Data)
		release(ys.Data)
		release(mx.Data)
	}
	return &Tensor{shape: []int{g, outF}, Data: out}
}
