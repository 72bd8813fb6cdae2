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

// cursor walks a bmap incrementally from position lo, avoiding a division per element.
type cursor struct {
	m       bmap
	s, j    int
	i       int
	r, base int
}

func newCursor(m bmap, lo int) cursor {
	switch {
	case m.idx != nil:
		return cursor{m: m, i: lo}
	case m.rep > 0:
		block := m.rep * m.inner
		return cursor{m: m, j: lo % m.inner, r: (lo / m.inner) % m.rep, base: lo / block * m.inner}
	}
	return cursor{m: m, s: lo % m.div, j: (lo / m.div) % m.per}
}

func (c *cursor) at() int {
	switch {
	case c.m.idx != nil:
		return int(c.m.idx[c.i])
	case c.m.rep > 0:
		return c.base + c.j
	}
	return c.j
}

func (c *cursor) next() {
	if c.m.idx != nil {
		c.i++
		return
	}
	if c.m.rep > 0 {
		c.j++
		if c.j == c.m.inner {
			c.j = 0
			c.r++
			if c.r == c.m.rep {
				c.r = 0
				c.base += c.m.inner
			}
		}
		return
	}
	c.s++
	if c.s == c.m.div {
		c.s = 0
		c.j++
		if c.j == c.m.per {
			c.j = 0
		}
	}
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
	if r := addBroadcast(k, a, b, ma, mb, shape, out); r != nil {
		return r
	}
	parallelFor(n, grainElems, func(lo, hi int) {
		ca, cb := newCursor(ma, lo), newCursor(mb, lo)
		for i := lo; i < hi; i++ {
			x, y := a.Data[ca.at()], b.Data[cb.at()]
			switch k {
			case kAdd:
				out[i] = x + y
			case kSub:
				out[i] = x - y
			case kMul:
				out[i] = x * y
			case kDiv:
				out[i] = x / y
			}
			ca.next()
			cb.next()
		}
	})
	r := result(shape, out, a, b)
	if r.requiresGrad {
		r.backward = func() {
			if a.requiresGrad {
				reduceInto(a.grad(), ma, r.Grad, func(i int, g float32) float32 {
					return g * localGrad(k, 0, a.Data[idxOf(ma, i)], b.Data[idxOf(mb, i)])
				})
			}
			if b.requiresGrad {
				reduceInto(b.grad(), mb, r.Grad, func(i int, g float32) float32 {
					return g * localGrad(k, 1, a.Data[idxOf(ma, i)], b.Data[idxOf(mb, i)])
				})
			}
		}
	}
	return r
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

// addBroadcast is Add and Sub of a full operand and a broadcast one (a per-group feature
// added to every point of the group, a bias), done over runs of the broadcast operand
// rather than element by element; nil for other cases.
func addBroadcast(k binKind, a, b *Tensor, ma, mb bmap, shape []int, out []float32) *Tensor {
	n := len(out)
	if k != kAdd && k != kSub {
		return nil
	}
	full, bc, mbc, bcFirst := a, b, mb, false
	if !ma.full(n) {
		full, bc, mbc, bcFirst = b, a, ma, true
	}
	if !mapOperandFull(full, n) || mbc.idx != nil {
		return nil
	}
	// out = sf·full + sb·bc
	sf, sb := float32(1), float32(1)
	if k == kSub {
		if bcFirst {
			sf = -1
		} else {
			sb = -1
		}
	}
	parallelFor(n, grainElems, func(lo, hi int) {
		for i := lo; i < hi; {
			j, l, step := mbc.run(i, hi)
			o, x := out[i:i+l], full.Data[i:i+l]
			if step == 1 {
				for t, y := range bc.Data[j : j+l] {
					o[t] = sf*x[t] + sb*y
				}
			} else {
				y := sb * bc.Data[j]
				for t := range o {
					o[t] = sf*x[t] + y
				}
			}
			i += l
		}
	})
	r := resultSaving(saves(), shape, out, a, b)
	if r.requiresGrad {
		r.backward = func() {
			g := r.Grad
			if bc.requiresGrad {
				sumRunsInto(bc.grad(), mbc, g, sb)
			}
			if full.requiresGrad {
				if sf == 1 {
					full.takeGrad(g, r)
				} else {
					gf := full.grad()
					parallelFor(n, grainElems, func(lo, hi int) {
						for i := lo; i < hi; i++ {
							gf[i] -= g[i]
						}
					})
				}
			}
		}
	}
	return r
}

func mapOperandFull(t *Tensor, n int) bool { return len(t.Data) == n }

// sumRunsInto adds sign·g, summed onto a broadcast operand's elements, into dst, with
// per-goroutine partial sums since chunks of g meet the same elements.
func sumRunsInto(dst []float32, m bmap, g []float32, sign float32) {
	slots, chunk := split(len(g), grainElems)
	partial := make([][]float32, max(slots, 1))
	parallelFor(len(g), grainElems, func(lo, hi int) {
		p := make([]float32, len(dst))
		for i := lo; i < hi; {
			j, l, step := m.run(i, hi)
			if step == 1 {
				for t, v := range g[i : i+l] {
					p[j+t] += v
				}
			} else {
				var s float32
				for _, v := range g[i : i+l] {
					s += v
				}
				p[j] += s
			}
			i += l
		}
		partial[lo/chunk] = p
	})
	for _, p := range partial {
		for j, v := range p {
			dst[j] += sign * v
		}
	}
}

func idxOf(m bmap, i int) int {
	switch {
	case m.idx != nil:
		return int(m.idx[i])
	case m.rep > 0:
		return i/(m.rep*m.inner)*m.inner + i%m.inner
	}
	return (i / m.div) % m.per
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

// reduceInto adds f(i, g[i]) into dst at each output position's operand index. A full
// operand is updated in place in parallel; a broadcast one sums per-goroutine partials so
// that no two goroutines write the same element.
func reduceInto(dst []float32, m bmap, g []float32, f func(i int, g float32) float32) {
	n := len(g)
	if m.full(n) {
		parallelFor(n, grainElems, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				dst[i] += f(i, g[i])
			}
		})
		return
	}
	workers := runtime.GOMAXPROCS(0)
	if n < 2*grainElems || len(dst)*workers > 4*n {
		c := newCursor(m, 0)
		for i := 0; i < n; i++ {
			dst[c.at()] += f(i, g[i])
			c.next()
		}
		return
	}
	partial := make([][]float32, workers)
	chunk := (n + workers - 1) / workers
	parallelFor(workers, 1, func(wlo, whi int) {
		for w := wlo; w < whi; w++ {
			p := alloc(len(dst))
			lo, hi := w*chunk, min((w+1)*chunk, n)
			c := newCursor(m, lo)
			for i := lo; i < hi; i++ {
				p[c.at()] += f(i, g[i])
				c.next()
			}
			partial[w] = p
		}
	})
	for _, p := range partial {
		for j, v := range p {
			dst[j] += v
		}
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
