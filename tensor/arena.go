package tensor

import (
	"sync"
	"sync/atomic"
)

// Arena recycles the buffers of one training or evaluation step. A step allocates the
// same activation and gradient sizes every time; taking them from a free list instead
// of fresh memory saves the page faults and garbage collections that otherwise cost as
// much as the arithmetic. Only buffers made by this package's ops while the arena is
// active are recycled: parameters, their gradients and anything made with make() are
// not. Within a step, gradients of intermediate tensors are recycled as soon as the
// backward pass is done with them (see Backward), and Scratch gives back the
// intermediates of gradient-free sub-computations at once.
type Arena struct {
	mu   sync.Mutex
	free map[int][][]float32
	live map[*float32]liveBuf
	seq  int
}

type liveBuf struct {
	buf []float32
	seq int // allocation order, for Scratch
}

// NewArena returns an empty arena.
func NewArena() *Arena {
	return &Arena{free: map[int][][]float32{}, live: map[*float32]liveBuf{}}
}

var active atomic.Pointer[Arena]

// Step runs f with a as the active arena and then takes back every buffer f's ops
// allocated: tensors made inside f must not be used after Step returns (copy out what is
// needed, such as the loss value, inside f), and the intermediate tensors of a graph
// must not be read after Backward. Steps must not overlap.
func (a *Arena) Step(f func()) {
	if !active.CompareAndSwap(nil, a) {
		panic("tensor: Arena.Step while another step is active")
	}
	defer func() {
		active.Store(nil)
		a.mu.Lock()
		for p, l := range a.live {
			a.free[len(l.buf)] = append(a.free[len(l.buf)], l.buf)
			delete(a.live, p)
		}
		a.mu.Unlock()
	}()
	f()
}

// alloc returns a zeroed buffer of n values, from the active arena when there is one.
func alloc(n int) []float32 {
	a := active.Load()
	if a == nil || n == 0 {
		return make([]float32, n)
	}
	a.mu.Lock()
	var b []float32
	if list := a.free[n]; len(list) > 0 {
		b = list[len(list)-1]
		a.free[n] = list[:len(list)-1]
	}
	a.mu.Unlock()
	if b == nil {
		b = make([]float32, n)
	} else {
		clear(b)
	}
	a.mu.Lock()
	a.seq++
	a.live[&b[0]] = liveBuf{buf: b, seq: a.seq}
	a.mu.Unlock()
	return b
}

// release gives b back to the active arena before the step ends, if the arena lent it.
func release(b []float32) {
	a := active.Load()
	if a == nil || len(b) == 0 {
		return
	}
	a.mu.Lock()
	if _, ok := a.live[&b[0]]; ok {
		delete(a.live, &b[0])
		a.free[len(b)] = append(a.free[len(b)], b)
	}
	a.mu.Unlock()
}

// Scratch runs f inside the active step and recycles at once every buffer f allocated
// except its result's, when the result is not part of a graph (nothing to differentiate
// reaches back into f). It keeps frozen, gradient-free sub-computations such as a frozen
// token encoder from holding their intermediate activations until the step ends. Without
// an active arena, or when the result requires a gradient, it only runs f.
func Scratch(f func() *Tensor) *Tensor {
	a := active.Load()
	if a == nil {
		return f()
	}
	a.mu.Lock()
	mark := a.seq
	a.mu.Unlock()
	r := f()
	if r == nil || r.requiresGrad {
		return r
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for p, l := range a.live {
		if l.seq > mark && (len(r.Data) == 0 || p != &r.Data[0]) {
			delete(a.live, p)
			a.free[len(l.buf)] = append(a.free[len(l.buf)], l.buf)
		}
	}
	return r
}
