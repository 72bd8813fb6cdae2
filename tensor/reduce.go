package tensor

import (
	"fmt"
	"math"

	"github.com/pointpeft/pointpeft/internal/vmath"
)

// Sum sums over axis, dropping it.
func Sum(t *Tensor, axis int) *Tensor { return sumScaled("Sum", t, axis, false) }

// Mean averages over axis, dropping it.
func Mean(t *Tensor, axis int) *Tensor { return sumScaled("Mean", t, axis, true) }

func sumScaled(op string, t *Tensor, axis int, mean bool) *Tensor {
	axis = normAxis(op, t, axis)
	outer, n, inner := splitAt(t.shape, axis)
	scale := float32(1)
	if mean && n > 0 {
		scale = 1 / float32(n)
	}
	out := allocFull(outer * inner)
	parallelFor(outer, grainElems/(n*inner+1)+1, func(lo, hi int) {
		acc := make([]float64, inner)
		for o := lo; o < hi; o++ {
			clear(acc)
			base := o * n * inner
			for j := 0; j < n; j++ {
				row := t.Data[base+j*inner : base+(j+1)*inner]
				for i, v := range row {
					acc[i] += float64(v)
				}
			}
			for i, v := range acc {
				out[o*inner+i] = float32(v) * scale
			}
		}
	})
	r := resultSaving(saves(), dropAxis(t.shape, axis), out, t)
	if r.requiresGrad {
		r.backward = func() {
			g := t.grad()
			parallelFor(outer, grainElems/(n*inner+1)+1, func(lo, hi int) {
				for o := lo; o < hi; o++ {
					src := r.Grad[o*inner : (o+1)*inner]
					for j := 0; j < n; j++ {
						dst := g[(o*n+j)*inner : (o*n+j+1)*inner]
						for i := range dst {
							dst[i] += src[i] * scale
						}
					}
				}
			})
		}
	}
	return r
}

// SumAll sums every element into a scalar.
func SumAll(t *Tensor) *Tensor { return Sum(Reshape(t, -1), 0) }

// MeanAll averages every element into a scalar.
func MeanAll(t *Tensor) *Tensor { return Mean(Reshape(t, -1), 0) }

func dropAxis(shape []int, axis int) []int {
	out := append([]int(nil), shape[:axis]...)
	return append(out, shape[axis+1:]...)
}

// Max takes the maximum over axis, dropping it, and returns the arg-max indices too.
// The gradient goes to the first maximal element, as PyTorch's max(dim) does.
func Max(t *Tensor, axis int) (*Tensor, []int32) {
	axis = normAxis("Max", t, axis)
	outer, n, inner := splitAt(t.shape, axis)
	if n == 0 {
		shapeErr("Max", "empty axis", t)
	}
	out := allocFull(outer * inner)
	arg := make([]int32, outer*inner)
	// A NaN wins, so that it is reported rather than hidden.
	parallelFor(outer, grainElems/(n*inner+1)+1, func(lo, hi int) {
		vmath.MaxAxis(out[lo*inner:hi*inner], arg[lo*inner:hi*inner], t.Data[lo*n*inner:hi*n*inner], n, inner)
	})
	r := resultSaving(saves(), dropAxis(t.shape, axis), out, t)
	if r.requiresGrad {
		r.backward = func() {
			g := t.grad()
			parallelFor(outer, grainElems/(n*inner+1)+1, func(lo, hi int) {
				for o := lo; o < hi; o++ {
					for i := 0; i < inner; i++ {
						g[(o*n+int(arg[o*inner+i]))*inner+i] += r.Grad[o*inner+i]
					}
				}
			})
		}
	}
	return r, arg
}

// TopK returns the k largest values of each row of t (viewed as [rows, n], last axis)
// in descending order, with their indices; ties keep the lower index first. No gradient.
func TopK(t *Tensor, k int) (values []float32, indices []int32) {
	n := t.Dim(-1)
	if k < 0 || k > n {
		shapeErr("TopK", "k out of range", t)
	}
	rows := t.Numel() / max(n, 1)
	values = allocFull(rows * k)
	indices = make([]int32, rows*k)
	parallelFor(rows, 1, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			row := t.Data[r*n : (r+1)*n]
			vs, is := values[r*k:(r+1)*k], indices[r*k:(r+1)*k]
			cnt := 0
			// Insertion into a sorted list of k: k is small (the memory bank's K ≤ 16).
			for j, v := range row {
				if math.IsNaN(float64(v)) {
					v = float32(math.Inf(-1))
				}
				if cnt == k && !(v > vs[k-1]) {
					continue
				}
				p := min(cnt, k-1)
				if cnt < k {
					cnt++
				}
				for p > 0 && v > vs[p-1] {
					vs[p], is[p] = vs[p-1], is[p-1]
					p--
				}
				vs[p], is[p] = v, int32(j)
			}
		}
	})
	return values, indices
}

// GatherAddMax is the pooling of Point-PEFT's Geometry-aware Adapter in one pass:
// out[g, c] = max_j (table[idx[g·k+j], c] + scale[g]·local[g, j, c]) for table [R, C],
// idx of G·k row indices, local [G, k, C] and scale the per-group drop-path factors
// (see DropPathScales; nil for none). It equals Max(Add(IndexSelect(table, idx) viewed
// as [G, k, C], DropPath(local)), 1), ties going to the first member, without building
// the three [G, k, C] tensors, and its backward pass keeps only the arg-max indices: the
// gradient reaches one table row and one local entry per output value.
func GatherAddMax(table *Tensor, idx []int32, local *Tensor, scale []float32) *Tensor {
	if table.Rank() != 2 || local.Rank() != 3 || local.Dim(2) != table.Dim(1) || len(idx) != local.Dim(0)*local.Dim(1) {
		shapeErr("GatherAddMax", fmt.Sprintf("want table [R, C], local [G, k, C] and G·k indices (got %d)", len(idx)), table, local)
	}
	g, k, c := local.Dim(0), local.Dim(1), local.Dim(2)
	rows := table.Dim(0)
	for i, v := range idx {
		if v < 0 || int(v) >= rows {
			shapeErr("GatherAddMax", fmt.Sprintf("index %d at position %d out of range [0,%d)", v, i, rows), table)
		}
	}
	if scale != nil && len(scale) != g {
		shapeErr("GatherAddMax", fmt.Sprintf("%d drop-path scales for %d groups", len(scale), g), local)
	}
	if scale == nil {
		scale = onesOf(g)
	}
	out := allocFull(g * c)
	arg := make([]int32, g*c)
	parallelFor(g, grainElems/(k*c+1)+1, func(lo, hi int) {
		vmath.GatherAddMax(out[lo*c:hi*c], arg[lo*c:hi*c], table.Data, idx[lo*k:hi*k], local.Data[lo*k*c:hi*k*c], scale[lo:hi], k, c)
	})
	r := resultSaving(saves(), []int{g, c}, out, table, local)
	if r.requiresGrad {
		r.backward = func() {
			if local.requiresGrad {
				gl := local.grad()
				parallelFor(g, grainElems/(c+1)+1, func(lo, hi int) {
					for gi := lo; gi < hi; gi++ {
						for ch := 0; ch < c; ch++ {
							gl[(gi*k+int(arg[gi*c+ch]))*c+ch] += scale[gi] * r.Grad[gi*c+ch]
						}
					}
				})
			}
			if table.requiresGrad {
				gt := table.grad()
				// Split the channels, not the groups: groups share table rows.
				parallelFor(c, 64, func(clo, chi int) {
					for gi := 0; gi < g; gi++ {
						for ch := clo; ch < chi; ch++ {
							gt[int(idx[gi*k+int(arg[gi*c+ch])])*c+ch] += r.Grad[gi*c+ch]
						}
					}
				})
			}
		}
	}
	return r
}
