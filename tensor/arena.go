package tensor

import (
	"sync"
	"sync/atomic"
)

// Arena recycles the buffers of one training or evaluation step. A step allocates the
// same activation and gradient sizes every time; taking them from a free list instead
// of fresh memory saves the page faults and garbage collections that otherwise cost as
// much as the arithmetic. Only buffers made by this package's ops while the arena is
// active are recycled: parameters, their gradients and anything made with make() are not.
type Arena struct {
	mu   sync.Mutex
	free map[int][][]float32
	used [][]float32
}

// NewArena returns an empty arena.
func NewArena() *Arena { return &Arena{free: map[int][][]float32{}} }

var active atomic.Pointer[Arena]

// Step runs f with a as the active arena and then takes back every buffer f's ops
// allocated: tensors made inside f must not be used after Step returns (copy out what is
// needed, such as the loss value, inside f). Steps must not overlap.
func (a *Arena) Step(f func()) {
	if !active.CompareAndSwap(nil, a) {
		panic("tensor: Arena.Step while another step is active")
	}
	defer func() {
		active.Store(nil)
		a.mu.Lock()
		for _, b := range a.used {
			a.free[len(b)] = append(a.free[len(b)], b)
		}
		a.used = a.used[:0]
		a.mu.Unlock()
	}()
	f()
}

// alloc returns a zeroed buffer of n values, from the active arena when there is one.
func alloc(n int) []float32 {
	a := active.Load()
	if a == nil {
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
	a.used = append(a.used, b)
	a.mu.Unlock()
	return b
}
