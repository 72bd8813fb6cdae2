package tensor

import "fmt"

// Reshape returns t with a new shape of the same size; one dimension may be -1. The
// data is shared, not copied.
func Reshape(t *Tensor, shape ...int) *Tensor {
	shape = append([]int(nil), shape...)
	infer, known := -1, 1
	for i, d := range shape {
		if d == -1 {
			if infer >= 0 {
				shapeErr("Reshape", "more than one -1", t)
			}
			infer = i
			continue
		}
		known *= d
	}
	if infer >= 0 && known > 0 {
		shape[infer] = t.Numel() / known
	}
	if prod(shape) != t.Numel() {
		panic(&ShapeError{Op: "Reshape", Shapes: [][]int{t.Shape(), shape}, Msg: "sizes differ"})
	}
	r := resultSaving(saves(), shape, t.Data, t)
	r.view = true
	if r.requiresGrad {
		r.backward = func() { t.takeGrad(r.Grad, r) }
	}
	return r
}

// Permute reorders the dimensions: output dimension i is input dimension perm[i].
func Permute(t *Tensor, perm ...int) *Tensor {
	rank := t.Rank()
	if len(perm) != rank {
		shapeErr("Permute", fmt.Sprintf("permutation %v has the wrong length", perm), t)
	}
	seen := make([]bool, rank)
	for _, p := range perm {
		if p < 0 || p >= rank || seen[p] {
			shapeErr("Permute", fmt.Sprintf("%v is not a permutation", perm), t)
		}
		seen[p] = true
	}
	shape := make([]int, rank)
	for i, p := range perm {
		shape[i] = t.shape[p]
	}
	out := allocFull(t.Numel())
	permuteCopy(out, t.Data, t.shape, perm, false)
	r := resultSaving(saves(), shape, out, t)
	if r.requiresGrad {
		r.backward = func() { permuteCopy(t.grad(), r.Grad, t.shape, perm, true) }
	}
	return r
}

// permuteCopy writes src (of shape inShape) permuted by perm into dst. With back set it
// runs the other way, adding the permuted-layout src into the input-layout dst, which is
// the gradient of the forward copy.
func permuteCopy(dst, src []float32, inShape, perm []int, back bool) {
	rank := len(inShape)
	inStrides := make([]int, rank)
	st := 1
	for i := rank - 1; i >= 0; i-- {
		inStrides[i] = st
		st *= inShape[i]
	}
	outShape := make([]int, rank)
	srcStrides := make([]int, rank) // input stride of each output dimension
	for i, p := range perm {
		outShape[i] = inShape[p]
		srcStrides[i] = inStrides[p]
	}
	if rank == 0 {
		if back {
			dst[0] += src[0]
		} else {
			dst[0] = src[0]
		}
		return
	}
	// Parallel over the leading output dimension; the innermost loop runs over the last
	// output dimension.
	last := outShape[rank-1]
	lastStride := srcStrides[rank-1]
	rows := len(src) / max(last, 1)
	if last == 0 {
		return
	}
	parallelFor(rows, grainElems/last+1, func(lo, hi int) {
		coord := make([]int, rank-1)
		rem := lo
		off := 0
		for d := rank - 2; d >= 0; d-- {
			coord[d] = rem % outShape[d]
			rem /= outShape[d]
			off += coord[d] * srcStrides[d]
		}
		for row := lo; row < hi; row++ {
			o := row * last
			if back {
				for j := 0; j < last; j++ {
					dst[off+j*lastStride] += src[o+j]
				}
			} else {
				for j := 0; j < last; j++ {
					dst[o+j] = src[off+j*lastStride]
				}
			}
			for d := rank - 2; d >= 0; d-- {
				coord[d]++
				off += srcStrides[d]
				if coord[d] < outShape[d] {
					break
				}
				off -= srcStrides[d] * coord[d]
				coord[d] = 0
			}
		}
	})
}

// Transpose swaps dimensions d0 and d1.
func Transpose(t *Tensor, d0, d1 int) *Tensor {
	d0, d1 = normAxis("Transpose", t, d0), normAxis("Transpose", t, d1)
	perm := make([]int, t.Rank())
	for i := range perm {
		perm[i] = i
	}
	perm[d0], perm[d1] = d1, d0
	return Permute(t, perm...)
}

// Concat joins tensors along axis; the other dimensions must agree.
func Concat(axis int, ts ...*Tensor) *Tensor {
	if len(ts) == 0 {
		panic(&ShapeError{Op: "Concat", Msg: "no tensors"})
	}
	axis = normAxis("Concat", ts[0], axis)
	shape := ts[0].Shape()
	shape[axis] = 0
	for _, t := range ts {
		if t.Rank() != len(shape) {
			shapeErr("Concat", "ranks differ", ts...)
		}
		for d := range shape {
			if d != axis && t.shape[d] != shape[d] {
				shapeErr("Concat", fmt.Sprintf("dimension %d differs", d), ts...)
			}
		}
		shape[axis] += t.shape[axis]
	}
	outer, total, inner := splitAt(shape, axis)
	out := allocFull(outer * total * inner)
	off := 0
	offs := make([]int, len(ts))
	for i, t := range ts {
		offs[i] = off
		w := t.shape[axis] * inner
		parallelFor(outer, grainElems/(w+1)+1, func(lo, hi int) {
			for o := lo; o < hi; o++ {
				copy(out[o*total*inner+off:], t.Data[o*w:(o+1)*w])
			}
		})
		off += w
	}
	r := resultSaving(saves(), shape, out, ts...)
	if r.requiresGrad {
		r.backward = func() {
			for i, t := range ts {
				if !t.requiresGrad {
					continue
				}
				g, w, off := t.grad(), t.shape[axis]*inner, offs[i]
				parallelFor(outer, grainElems/(w+1)+1, func(lo, hi int) {
					for o := lo; o < hi; o++ {
						src := r.Grad[o*total*inner+off : o*total*inner+off+w]
						dst := g[o*w : (o+1)*w]
						for j := range dst {
							dst[j] += src[j]
						}
					}
				})
			}
		}
	}
	return r
}

// Slice returns the elements with index in [start, end) along axis.
func Slice(t *Tensor, axis, start, end int) *Tensor {
	axis = normAxis("Slice", t, axis)
	if start < 0 || end > t.shape[axis] || start > end {
		shapeErr("Slice", fmt.Sprintf("range [%d,%d) outside axis %d", start, end, axis), t)
	}
	outer, n, inner := splitAt(t.shape, axis)
	shape := t.Shape()
	shape[axis] = end - start
	w := (end - start) * inner
	out := allocFull(outer * w)
	parallelFor(outer, grainElems/(w+1)+1, func(lo, hi int) {
		for o := lo; o < hi; o++ {
			copy(out[o*w:(o+1)*w], t.Data[(o*n+start)*inner:])
		}
	})
	r := resultSaving(saves(), shape, out, t)
	if r.requiresGrad {
		r.backward = func() {
			g := t.grad()
			parallelFor(outer, grainElems/(w+1)+1, func(lo, hi int) {
				for o := lo; o < hi; o++ {
					dst := g[(o*n+start)*inner : (o*n+start)*inner+w]
					src := r.Grad[o*w : (o+1)*w]
					for j := range dst {
						dst[j] += src[j]
					}
				}
			})
		}
	}
	return r
}

// IndexSelect gathers rows: t is viewed as [R, rest...] and the result is
// [len(idx), rest...] with row i = t[idx[i]]. Its backward scatter-adds, so repeated
// indices accumulate, as torch.index_select does.
func IndexSelect(t *Tensor, idx []int32) *Tensor {
	if t.Rank() < 1 {
		shapeErr("IndexSelect", "needs at least one dimension", t)
	}
	rowsIn := t.shape[0]
	w := t.Numel() / max(rowsIn, 1)
	for i, v := range idx {
		if v < 0 || int(v) >= rowsIn {
			shapeErr("IndexSelect", fmt.Sprintf("index %d at position %d out of range [0,%d)", v, i, rowsIn), t)
		}
	}
	shape := append([]int{len(idx)}, t.shape[1:]...)
	out := allocFull(len(idx) * w)
	parallelFor(len(idx), grainElems/(w+1)+1, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			copy(out[i*w:(i+1)*w], t.Data[int(idx[i])*w:])
		}
	})
	r := resultSaving(saves(), shape, out, t)
	if r.requiresGrad {
		r.backward = func() {
			g := t.grad()
			// Split the columns, not the rows: repeated indices then never race.
			parallelFor(w, 64, func(clo, chi int) {
				for i, v := range idx {
					dst := g[int(v)*w+clo : int(v)*w+chi]
					src := r.Grad[i*w+clo : i*w+chi]
					for j := range dst {
						dst[j] += src[j]
					}
				}
			})
		}
	}
	return r
}

// BroadcastTo expands t to shape by NumPy broadcasting (e.g. a [1,1,C] token to [B,1,C]).
func BroadcastTo(t *Tensor, shape ...int) *Tensor {
	target := &Tensor{shape: shape}
	if got := broadcastShape("BroadcastTo", t, target); !SameShape(got, shape) {
		shapeErr("BroadcastTo", fmt.Sprintf("cannot broadcast to %v", shape), t)
	}
	n := prod(shape)
	m := mapOperand(t.shape, shape)
	out := allocFull(n)
	parallelFor(n, grainElems, func(lo, hi int) {
		for i := lo; i < hi; {
			j, l, step := m.run(i, hi)
			for u, o := 0, out[i:i+l]; u < l; u++ {
				o[u] = t.Data[j+u*step]
			}
			i += l
		}
	})
	r := resultSaving(saves(), append([]int(nil), shape...), out, t)
	if r.requiresGrad {
		r.backward = func() { sumRunsInto(t.grad(), m, r.Grad, 1) }
	}
	return r
}
