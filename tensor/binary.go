package tensor

import (
	"fmt"
	"runtime"
)

type binKind int

const (
	kAdd binKind = iota
	kSub
	kMul
	kDiv
)

var binNames = [...]string{"Add", "Sub", "Mul", "Div"}

// Add returns a+b with NumPy broadcasting.
func Add(a, b *Tensor) *Tensor { return binary(kAdd, a, b) }

// Sub returns a-b with NumPy broadcasting.
func Sub(a, b *Tensor) *Tensor { return binary(kSub, a, b) }

// Mul returns a*b (elementwise) with NumPy broadcasting.
func Mul(a, b *Tensor) *Tensor { return binary(kMul, a, b) }

// Div returns a/b (elementwise) with NumPy broadcasting.
func Div(a, b *Tensor) *Tensor { return binary(kDiv, a, b) }

// broadcastShape applies NumPy's rule: align trailing dimensions; each pair is equal or
// one of them is 1.
func broadcastShape(op string, a, b *Tensor) []int {
	r := max(len(a.shape), len(b.shape))
	out := make([]int, r)
	for i := 1; i <= r; i++ {
		da, db := 1, 1
		if i <= len(a.shape) {
			da = a.shape[len(a.shape)-i]
		}
		if i <= len(b.shape) {
			db = b.shape[len(b.shape)-i]
		}
		switch {
		case da == db || db == 1:
			out[r-i] = da
		case da == 1:
			out[r-i] = db
		default:
			shapeErr(op, "shapes do not broadcast", a, b)
		}
	}
	return out
}

// bmap says how an operand's elements are found from the flat output index i: at
// (i/div)%per when its non-1 dimensions are one run of the output's; at
// (i/(rep·inner))·inner + i%inner when a run of 1s sits between two such runs (a [B,1,C]
// operand of a [B,M,C] output); else through the explicit index table idx.
type bmap struct {
	div, per   int
	rep, inner int
	idx        []int32
}

func (m bmap) full(n int) bool { return m.idx == nil && m.rep == 0 && m.div == 1 && m.per == n }

// mapOperand finds the cheapest bmap for an operand of shape s broadcast to out: when
// its non-1 dimensions form one contiguous run of out's dimensions, two integers do.
func mapOperand(s, out []int) bmap {
	pad := make([]int, len(out))
	for i := range pad {
		pad[i] = 1
	}
	copy(pad[len(out)-len(s):], s)
	first, last := -1, -1
	for i := range pad {
		if pad[i] != 1 {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	if first < 0 {
		return bmap{div: 1, per: 1}
	}
	contiguous := true
	for i := first; i <= last; i++ {
		if pad[i] != out[i] {
			contiguous = false
			break
		}
	}
	if contiguous {
		return bmap{div: prod(out[last+1:]), per: prod(out[first : last+1])}
	}
	// [pre…, 1…, post…] with pre and post equal to the output's dimensions.
	lo, hi := first, last
	for lo+1 <= last && pad[lo+1] != 1 {
		lo++
	}
	for hi-1 >= first && pad[hi-1] != 1 {
		hi--
	}
	mid := true
	for i := lo + 1; i < hi; i++ {
		if pad[i] != 1 {
			mid = false
		}
	}
	for i := 0; i < len(pad) && mid; i++ {
		if (i <= lo || i >= hi) && pad[i] != out[i] && !(i < first) {
			mid = false
		}
	}
	if mid && first == 0 {
		return bmap{rep: prod(out[lo+1 : hi]), inner: prod(out[hi:])}
	}
	n := prod(out)
	idx := make([]int32, n)
	strides := make([]int, len(pad))
	st := 1
	for i := len(pad) - 1; i >= 0; i-- {
		if pad[i] != 1 {
			strides[i] = st
		}
		st *= pad[i]
	}
	coord := make([]int, len(out))
	for i, off := 0, 0; i < n; i++ {
		idx[i] = int32(off)
		for d := len(out) - 1; d >= 0; d-- {
			coord[d]++
			off += strides[d]
			if coord[d] < out[d] {
				break
			}
			off -= strides[d] * coord[d]
			coord[d] = 0
		}
	}
	return bmap{idx: idx}
}

func binary(k binKind, a, b *Tensor) *Tensor {
	op := binNames[k]
	shape := broadcastShape(op, a, b)
	n := prod(shape)
	out := allocFull(n)
	if SameShape(a.shape, b.shape) {
		parallelFor(n, grainElems, func(lo, hi int) {
			x, y, o := a.Data[lo:hi], b.Data[lo:hi], out[lo:hi]
			switch k {
			case kAdd:
				for i := range o {
					o[i] = x[i] + y[i]
				}
			case kSub:
				for i := range o {
					o[i] = x[i] - y[i]
				}
			case kMul:
				for i := range o {
					o[i] = x[i] * y[i]
				}
			case kDiv:
				for i := range o {
					o[i] = x[i] / y[i]
				}
			}
		})
		// Add and Sub read nothing back; Mul and Div read both operands.
		s := saves(a, b)
		if k == kAdd || k == kSub {
			s = saves()
		}
		r := resultSaving(s, shape, out, a, b)
		if r.requiresGrad {
			r.backward = func() { binaryBackwardSame(k, a, b, r) }
		}
		return r
	}
	ma, mb := mapOperand(a.shape, shape), mapOperand(b.shape, shape)
	parallelFor(n, grainElems, func(lo, hi int) {
		forRuns(ma, mb, lo, hi, func(i, ja, sa, jb, sb, l int) {
			o := out[i : i+l]
			switch k {
			case kAdd:
				for t := range o {
					o[t] = a.Data[ja+t*sa] + b.Data[jb+t*sb]
				}
			case kSub:
				for t := range o {
					o[t] = a.Data[ja+t*sa] - b.Data[jb+t*sb]
				}
			case kMul:
				for t := range o {
					o[t] = a.Data[ja+t*sa] * b.Data[jb+t*sb]
				}
			case kDiv:
				for t := range o {
					o[t] = a.Data[ja+t*sa] / b.Data[jb+t*sb]
				}
			}
		})
	})
	r := resultSaving(binarySaves(k, a, b), shape, out, a, b)
	if r.requiresGrad {
		r.backward = func() {
			// b first: a may then take the gradient buffer itself.
			if b.requiresGrad {
				broadcastGrad(k, 1, a, b, r, ma, mb)
			}
			if a.requiresGrad {
				broadcastGrad(k, 0, a, b, r, ma, mb)
			}
		}
	}
	return r
}

// binarySaves is what a binary op's backward reads: nothing for Add and Sub, both
// operands for Mul and Div.
func binarySaves(k binKind, a, b *Tensor) saving {
	if k == kAdd || k == kSub {
		return saves()
	}
	return saves(a, b)
}

// run describes how a broadcast operand meets the output positions [i, hi): from i on,
// for l positions, it reads its elements j, j+1, … (step 1) or j alone (step 0).
func (m bmap) run(i, hi int) (j, l, step int) {
	switch {
	case m.idx != nil:
		return int(m.idx[i]), 1, 0
	case m.rep > 0:
		off := i % m.inner
		return i/(m.rep*m.inner)*m.inner + off, min(m.inner-off, hi-i), 1
	case m.div == 1:
		j = i % m.per
		return j, min(m.per-j, hi-i), 1
	}
	return (i / m.div) % m.per, min(m.div-i%m.div, hi-i), 0
}

// forRuns splits the output positions [lo, hi) into runs along which both operands'
// elements advance by a fixed step (0 or 1), and calls f on each: positions i to i+l−1
// read a at ja, ja+sa, … and b at jb, jb+sb, ….
func forRuns(ma, mb bmap, lo, hi int, f func(i, ja, sa, jb, sb, l int)) {
	for i := lo; i < hi; {
		ja, la, sa := ma.run(i, hi)
		jb, lb, sb := mb.run(i, hi)
		l := min(la, lb)
		f(i, ja, sa, jb, sb, l)
		i += l
	}
}

// broadcastGrad adds the gradient of operand which (0: a, 1: b) of the broadcast binary
// op r into its gradient, summed over the positions it was broadcast to. An Add's full
// operand (or a Sub's first) takes r's gradient buffer itself, as with equal shapes.
func broadcastGrad(k binKind, which int, a, b, r *Tensor, ma, mb bmap) {
	t, m := a, ma
	if which == 1 {
		t, m = b, mb
	}
	g, n := r.Grad, len(r.Grad)
	if k == kAdd || k == kSub {
		sign := localGrad(k, which, 0, 0)
		if sign == 1 && m.full(n) {
			t.takeGrad(g, r)
			return
		}
		sumRunsInto(t.grad(), m, g, sign)
		return
	}
	accumulate(t.grad(), m.full(n), n, func(p []float32, lo, hi int) {
		forRuns(ma, mb, lo, hi, func(i, ja, sa, jb, sb, l int) {
			j, s := ja, sa
			if which == 1 {
				j, s = jb, sb
			}
			for u := 0; u < l; u++ {
				p[j+u*s] += g[i+u] * localGrad(k, which, a.Data[ja+u*sa], b.Data[jb+u*sb])
			}
		})
	})
}

// sumRunsInto adds sign·g, summed onto the elements of an operand mapped by m, into dst.
func sumRunsInto(dst []float32, m bmap, g []float32, sign float32) {
	accumulate(dst, m.full(len(g)), len(g), func(p []float32, lo, hi int) {
		for i := lo; i < hi; {
			j, l, step := m.run(i, hi)
			if step == 1 {
				for t, v := range g[i : i+l] {
					p[j+t] += sign * v
				}
			} else {
				var s float32
				for _, v := range g[i : i+l] {
					s += v
				}
				p[j] += sign * s
			}
			i += l
		}
	})
}

// accumulate runs body over [0, n) split among goroutines, each adding into p. With full
// set every position has its own element of dst, so p is dst itself; otherwise
// positions share elements and each goroutine adds into its own partial sums, added to
// dst in order (serially when dst is large next to n, where partials would cost more).
func accumulate(dst []float32, full bool, n int, body func(p []float32, lo, hi int)) {
	if full {
		parallelFor(n, grainElems, func(lo, hi int) { body(dst, lo, hi) })
		return
	}
	workers := runtime.GOMAXPROCS(0)
	if n < 2*grainElems || len(dst)*workers > 4*n {
		body(dst, 0, n)
		return
	}
	slots, chunk := split(n, grainElems)
	partial := make([][]float32, slots)
	parallelFor(n, grainElems, func(lo, hi int) {
		p := make([]float32, len(dst))
		body(p, lo, hi)
		partial[lo/chunk] = p
	})
	for _, p := range partial {
		for j, v := range p {
			dst[j] += v
		}
	}
}

// localGrad is d(x op y)/dx (which=0) or d/dy (which=1).
func localGrad(k binKind, which int, x, y float32) float32 {
	switch k {
	case kAdd:
		return 1
	case kSub:
		if which == 0 {
			return 1
		}
		return -1
	case kMul:
		if which == 0 {
			return y
		}
		return x
	default:
		if which == 0 {
			return 1 / y
		}
		return -x / (y * y)
	}
}

func binaryBackwardSame(k binKind, a, b, r *Tensor) {
	g := r.Grad
	n := len(g)
	if (k == kAdd || k == kSub) && a != b {
		// b reads g first; then a may take g itself instead of a copy.
		if b.requiresGrad {
			gb := b.grad()
			sign := float32(1)
			if k == kSub {
				sign = -1
			}
			parallelFor(n, grainElems, func(lo, hi int) {
				for i := lo; i < hi; i++ {
					gb[i] += sign * g[i]
				}
			})
		}
		if a.requiresGrad {
			a.takeGrad(g, r)
		}
		return
	}
	if a.requiresGrad {
		ga := a.grad()
		parallelFor(n, grainElems, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				switch k {
				case kAdd, kSub:
					ga[i] += g[i]
				case kMul:
					ga[i] += g[i] * b.Data[i]
				case kDiv:
					ga[i] += g[i] / b.Data[i]
				}
			}
		})
	}
	if b.requiresGrad {
		gb := b.grad()
		parallelFor(n, grainElems, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				switch k {
				case kAdd:
					gb[i] += g[i]
				case kSub:
					gb[i] -= g[i]
				case kMul:
					gb[i] += g[i] * a.Data[i]
				case kDiv:
					y := b.Data[i]
					gb[i] -= g[i] * a.Data[i] / (y * y)
				}
			}
		})
	}
}

// Scale returns a*s.
func Scale(a *Tensor, s float32) *Tensor {
	out := allocFull(len(a.Data))
	parallelFor(len(out), grainElems, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			out[i] = a.Data[i] * s
		}
	})
	r := resultSaving(saves(), a.Shape(), out, a)
	if r.requiresGrad {
		r.backward = func() {
			ga := a.grad()
			parallelFor(len(ga), grainElems, func(lo, hi int) {
				for i := lo; i < hi; i++ {
					ga[i] += r.Grad[i] * s
				}
			})
		}
	}
	return r
}

// AddScalar returns a+s.
func AddScalar(a *Tensor, s float32) *Tensor {
	out := allocFull(len(a.Data))
	for i, v := range a.Data {
		out[i] = v + s
	}
	r := resultSaving(saves(), a.Shape(), out, a)
	if r.requiresGrad {
		r.backward = func() { a.takeGrad(r.Grad, r) }
	}
	return r
}

// addInto does dst += src in parallel.
func addInto(dst, src []float32) {
	if len(dst) != len(src) {
		panic(fmt.Sprintf("tensor: internal gradient size mismatch %d vs %d", len(dst), len(src)))
	}
	parallelFor(len(dst), grainElems, func(lo, hi int) {
		d, s := dst[lo:hi], src[lo:hi]
		for i := range d {
			d[i] += s[i]
		}
	})
}
