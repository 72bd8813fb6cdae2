package tensor

import (
	"math"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
)

// Arena recycles the memory of training steps. A step allocates the same activation and
// gradient sizes every time; carving them out of memory held across steps instead of
// fresh memory saves the page faults and garbage collections that otherwise cost as much
// as the arithmetic. Buffers are carved from large slabs with a best-fit free list
// whose neighbouring holes merge, so memory given back by one kind of tensor (the frozen
// token encoder's per-point activations, early in a step) serves any other (the
// Transformer's activations and gradients, later): the arena's footprint follows the
// step's peak of live data, not the sum of every size's own peak.
//
// Only buffers made by this package's ops while the arena is active come from it:
// parameters, their gradients, small buffers and anything made with make() do not.
// Within a step, Segment gives back the activations no backward step reads, Backward
// gives back gradients and activations as soon as it is done with them, and Scratch
// gives back the intermediates of gradient-free sub-computations at once.
type Arena struct {
	mu    sync.Mutex
	slabs []*slab
	live  map[*float32]lent
	seq   int
	// Bytes lent out now and at most so far.
	liveBytes, peakBytes int64
}

// slab is one large allocation; free holds its unused spans, sorted and merged, and
// unmap gives the memory back to the system (once, however often it is called).
type slab struct {
	mem   []float32
	free  []span
	unmap func()
}

type span struct{ lo, hi int }

// lent is a buffer out on loan: where it lies, and its allocation order (for Scratch).
type lent struct {
	slab   *slab
	lo, hi int
	seq    int
}

// slabFloats is the smallest slab (64 MiB); arenaMin the smallest buffer worth carving:
// smaller ones come from make and the garbage collector.
const slabFloats = 16 << 20

var arenaMin = 2048

// ArenaStats describes an arena's memory in bytes.
type ArenaStats struct {
	Live int64 // lent to the current step
	Peak int64 // the most ever lent at once
	Held int64 // the slabs' total size: the arena's footprint
}

// Stats returns the arena's current and peak use.
func (a *Arena) Stats() ArenaStats {
	a.mu.Lock()
	defer a.mu.Unlock()
	var held int64
	for _, s := range a.slabs {
		held += int64(len(s.mem)) * 4
	}
	return ArenaStats{Live: a.liveBytes, Peak: a.peakBytes, Held: held}
}

// NewArena returns an empty arena.
func NewArena() *Arena { return &Arena{live: map[*float32]lent{}} }

// Close gives the arena's memory back to the system at once; it must not be active, and
// no tensor from its steps may be used afterwards. An arena that is not closed gives it
// back when it is garbage collected, which may be late: its memory is not on the Go
// heap, so it does not hasten a collection.
func (a *Arena) Close() {
	if active.Load() == a {
		panic("tensor: Arena.Close during its step")
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, s := range a.slabs {
		s.unmap()
	}
	a.slabs = nil
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
		// Every carved span is on loan until now, so each slab is whole again.
		a.mu.Lock()
		for _, s := range a.slabs {
			s.free = append(s.free[:0], span{0, len(s.mem)})
			if poison {
				fillNaN(s.mem)
			}
		}
		clear(a.live)
		a.liveBytes = 0
		a.mu.Unlock()
	}()
	f()
}

// take carves n values (rounded up to whole cache lines) out of the smallest hole that
// holds them, adding a slab when none does; a.mu is held.
func (a *Arena) take(n int) (*slab, int, int) {
	size := (n + 15) &^ 15
	var best *slab
	bi := -1
	for _, s := range a.slabs {
		for i, sp := range s.free {
			if w := sp.hi - sp.lo; w >= size && (bi < 0 || w < best.free[bi].hi-best.free[bi].lo) {
				best, bi = s, i
			}
		}
	}
	if best == nil {
		mem, unmap := slabMem(max(size, slabFloats))
		best = &slab{mem: mem, free: []span{{0, len(mem)}}, unmap: sync.OnceFunc(unmap)}
		// The slab goes with the arena (tensors must not outlive their step), at Close
		// or, failing that, when the arena is garbage.
		runtime.AddCleanup(a, func(f func()) { f() }, best.unmap)
		a.slabs = append(a.slabs, best)
		bi = 0
	}
	sp := &best.free[bi]
	lo := sp.lo
	sp.lo += size
	if sp.lo == sp.hi {
		best.free = append(best.free[:bi], best.free[bi+1:]...)
	}
	return best, lo, lo + size
}

// putLocked returns a lent buffer's span to its slab, merging it with free neighbours;
// a.mu is held.
func (a *Arena) putLocked(p *float32) {
	l := a.live[p]
	delete(a.live, p)
	a.liveBytes -= int64(l.hi-l.lo) * 4
	s := l.slab
	if poison {
		// Quarantined until the step ends, so a stale reader sees NaN, not new data.
		fillNaN(s.mem[l.lo:l.hi])
		return
	}
	i := sort.Search(len(s.free), func(i int) bool { return s.free[i].lo >= l.hi })
	joinNext := i < len(s.free) && s.free[i].lo == l.hi
	joinPrev := i > 0 && s.free[i-1].hi == l.lo
	switch {
	case joinPrev && joinNext:
		s.free[i-1].hi = s.free[i].hi
		s.free = append(s.free[:i], s.free[i+1:]...)
	case joinPrev:
		s.free[i-1].hi = l.hi
	case joinNext:
		s.free[i].lo = l.lo
	default:
		s.free = append(s.free, span{})
		copy(s.free[i+1:], s.free[i:])
		s.free[i] = span{l.lo, l.hi}
	}
}

// alloc returns a zeroed buffer of n values, from the active arena when there is one.
func alloc(n int) []float32 {
	b, lent := lend(n)
	if lent {
		clear(b)
	}
	return b
}

// allocFull is alloc for a caller that writes every value before reading any (an op's
// output): the arena's buffer is not cleared first.
func allocFull(n int) []float32 {
	b, _ := lend(n)
	if poison {
		fillNaN(b)
	}
	return b
}

func fillNaN(b []float32) {
	nan := float32(math.NaN())
	for i := range b {
		b[i] = nan
	}
}

// lend returns a buffer of n values from the active arena, or a zeroed new one when
// there is no arena or n is small (fromArena false).
func lend(n int) (b []float32, fromArena bool) {
	a := active.Load()
	if a == nil || n == 0 || n < arenaMin {
		return make([]float32, n), false
	}
	a.mu.Lock()
	s, lo, hi := a.take(n)
	b = s.mem[lo : lo+n : lo+n]
	a.seq++
	a.live[&b[0]] = lent{slab: s, lo: lo, hi: hi, seq: a.seq}
	a.liveBytes += int64(hi-lo) * 4
	a.peakBytes = max(a.peakBytes, a.liveBytes)
	a.mu.Unlock()
	return b, true
}

// release gives b back to the active arena before the step ends, if the arena lent it.
func release(b []float32) { releaseSince(b, 0) }

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
			a.putLocked(p)
		}
	}
	return r
}

// arenaMark returns the allocation count of the active arena (0 without one).
func arenaMark() int {
	a := active.Load()
	if a == nil {
		return 0
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.seq
}

// releaseSince gives b back to the active arena if the arena lent it after mark: buffers
// lent earlier may be shared with tensors made before the caller's region began.
func releaseSince(b []float32, mark int) {
	a := active.Load()
	if a == nil || len(b) == 0 {
		return
	}
	a.mu.Lock()
	if l, ok := a.live[&b[0]]; ok && l.seq > mark {
		a.putLocked(&b[0])
	}
	a.mu.Unlock()
}
