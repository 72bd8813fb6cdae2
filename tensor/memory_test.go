package tensor

import (
	"math/rand/v2"
	"testing"
)

// block is a small pre-norm residual block with a frozen weight, a trainable one and a
// GELU: enough for Segment to have kept and unkept intermediates and a Reshape view.
func block(x, w1, w2, lnb *Tensor) *Tensor {
	h := GELU(Linear(LayerNorm(x, nil, lnb, 1e-5), w1, nil))
	v := Reshape(h, -1)
	h = Reshape(Scale(v, 0.5), h.Shape()...)
	return Add(x, Linear(h, w2, nil))
}

type blockParams struct{ x, w1, w2, lnb *Tensor }

func newBlockParams(seed uint64) blockParams {
	rng := rand.New(rand.NewPCG(seed, 1))
	p := blockParams{
		x:   NewParam("x", randTensor(rng, 3, 5, 8).Data, 3, 5, 8),
		w1:  NewParam("w1", randTensor(rng, 16, 8).Data, 16, 8),
		w2:  NewParam("w2", randTensor(rng, 8, 16).Data, 8, 16),
		lnb: NewParam("lnb", randTensor(rng, 8).Data, 8),
	}
	p.w1.SetTrainable(false)
	return p
}

func (p blockParams) grads() [][]float32 {
	return [][]float32{append([]float32(nil), p.x.Grad...), append([]float32(nil), p.w2.Grad...), append([]float32(nil), p.lnb.Grad...)}
}

func (p blockParams) zero() {
	for _, t := range []*Tensor{p.x, p.w2, p.lnb} {
		t.ZeroGrad()
	}
}

// sameWithAndWithoutArena checks that run(true), inside an arena step and without one,
// gives run(false)'s output and gradients exactly.
func sameWithAndWithoutArena(t *testing.T, what string, run func(bool) ([]float32, [][]float32)) {
	t.Helper()
	wantY, want := run(false)
	for _, arena := range []bool{false, true} {
		var gotY []float32
		var got [][]float32
		if arena {
			NewArena().Step(func() { gotY, got = run(true) })
		} else {
			gotY, got = run(true)
		}
		assertClose(t, what+" output", gotY, wantY, 0)
		for i := range want {
			assertClose(t, what+" gradient", got[i], want[i], 0)
		}
	}
}

// TestSegmentDropsOnlyUnreadData: a Segment gives the same gradients as the plain
// graph, drops the data of nodes no backward step reads (the frozen Linear's input,
// GELU's output) and keeps what is read (GELU's input, and the trainable Linear's
// input, a Reshape view sharing another node's buffer).
func TestSegmentDropsOnlyUnreadData(t *testing.T) {
	p := newBlockParams(1)
	run := func(seg bool) ([]float32, [][]float32) {
		p.zero()
		var y *Tensor
		if seg {
			y = Segment(func() *Tensor { return block(block(p.x, p.w1, p.w2, p.lnb), p.w1, p.w2, p.lnb) })
		} else {
			y = block(block(p.x, p.w1, p.w2, p.lnb), p.w1, p.w2, p.lnb)
		}
		out := append([]float32(nil), y.Data...)
		Backward(SumAll(Mul(y, y)))
		return out, p.grads()
	}
	sameWithAndWithoutArena(t, "segment", run)

	y := Segment(func() *Tensor { return block(p.x, p.w1, p.w2, p.lnb) })
	var dropped, kept int
	for _, n := range topoOrder(y) {
		if n.param || n == y {
			continue
		}
		if n.Data == nil {
			dropped++
			if n.kept {
				t.Errorf("a kept node %v lost its data", n.shape)
			}
		} else {
			kept++
		}
	}
	// Dropped: LayerNorm's output (the Linear reading it is frozen), GELU's output and
	// its view (Scale reads neither), the last Linear's output (Add reads nothing).
	// Kept: GELU's input, and Scale's output, whose view the trainable Linear reads.
	if dropped != 4 || kept != 3 {
		t.Errorf("%d nodes dropped and %d kept, want 4 and 3", dropped, kept)
	}
}

// TestFreeLeavesKeptData: Free drops an unread intermediate and nothing a backward
// step reads.
func TestFreeLeavesKeptData(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	w := NewParam("w", randTensor(rng, 4).Data, 4)
	a := Scale(w, 2)     // read by nobody
	b := GELU(Add(a, w)) // GELU keeps its input
	in := b.parents[0]
	Free(a)
	Free(in)
	Free(w)
	if a.Data != nil || in.Data == nil || w.Data == nil {
		t.Fatalf("after Free: unread %v, kept %v, parameter %v", a.Data, in.Data, w.Data)
	}
	Backward(SumAll(b))
	if w.Grad == nil {
		t.Fatal("no gradient after Free")
	}
}

// TestBackwardDropsActivations: after Backward, intermediates have no data left, the
// loss keeps its value and parameters keep theirs.
func TestBackwardDropsActivations(t *testing.T) {
	p := newBlockParams(2)
	y := block(p.x, p.w1, p.w2, p.lnb)
	loss := SumAll(Mul(y, y))
	order := topoOrder(loss)
	Backward(loss)
	for _, n := range order {
		switch {
		case n.param && n.Data == nil:
			t.Fatal("a parameter lost its data")
		case n == loss && n.Data == nil:
			t.Fatal("the loss lost its value")
		case !n.param && n != loss && !n.view && n.Data != nil:
			t.Errorf("intermediate %v still holds data", n.shape)
		}
	}
}

// TestRecomputeGradients: Recompute gives the plain graph's values and gradients, into
// its input and the parameters f uses, with or without an arena, and with an input
// that needs no gradient; finite differences agree.
func TestRecomputeGradients(t *testing.T) {
	p := newBlockParams(4)
	f := func(x *Tensor) *Tensor { return block(x, p.w1, p.w2, p.lnb) }
	run := func(re bool) ([]float32, [][]float32) {
		p.zero()
		var y *Tensor
		if re {
			y = Recompute(p.x, f)
		} else {
			y = f(p.x)
		}
		out := append([]float32(nil), y.Data...)
		Backward(SumAll(Mul(Scale(y, 3), y)))
		return out, p.grads()
	}
	sameWithAndWithoutArena(t, "recompute", run)
	// An input without a gradient: only the parameters get one.
	p.zero()
	x := p.x.Detach()
	Backward(SumAll(Recompute(x, f)))
	w2 := append([]float32(nil), p.w2.Grad...)
	p.zero()
	Backward(SumAll(f(x)))
	assertClose(t, "recompute parameter gradient", w2, p.w2.Grad, 0)

	gradCheck(t, "Recompute", func(in []*Tensor) *Tensor {
		return Recompute(in[0], func(x *Tensor) *Tensor { return Mul(GELU(Linear(x, in[1], nil)), x) })
	}, randTensor(rand.New(rand.NewPCG(5, 1)), 4, 6), randTensor(rand.New(rand.NewPCG(5, 2)), 6, 6))
}

// TestArenaSharesMemoryAcrossSizes: memory given back by one large buffer serves later
// buffers of other sizes, so the arena holds the step's peak, not each size's.
func TestArenaSharesMemoryAcrossSizes(t *testing.T) {
	if poison {
		t.Skip("the tensordebug build keeps freed spans out of use until the step ends")
	}
	a := NewArena()
	step := func() {
		a.Step(func() {
			big := alloc(slabFloats / 2)
			release(big)
			parts := [][]float32{alloc(slabFloats / 8), alloc(slabFloats / 6), alloc(slabFloats / 5)}
			for _, p := range parts {
				p[len(p)-1] = 1
			}
			release(parts[1])
			alloc(slabFloats / 7) // fits the hole parts[1] left
		})
	}
	step()
	held := a.Stats().Held
	for i := 0; i < 3; i++ {
		step()
	}
	if held != slabFloats*4 || a.Stats().Held != held {
		t.Fatalf("arena holds %d then %d bytes, want one slab of %d", held, a.Stats().Held, slabFloats*4)
	}
	if s := a.Stats(); s.Live != 0 || s.Peak != slabFloats*2 {
		t.Fatalf("live %d, peak %d bytes; want 0 and %d", s.Live, s.Peak, slabFloats*2)
	}
	a.Close()
	if a.Stats().Held != 0 {
		t.Fatal("Close kept the slabs")
	}
	step() // a closed arena starts over with new slabs
	if a.Stats().Held != held {
		t.Fatalf("after Close the arena holds %d bytes, want %d", a.Stats().Held, held)
	}
	a.Close()
	a.Close() // twice is harmless
}

// TestFusedGradientFreeOps: the in-place and chunked ops equal the ops they fuse,
// BatchNorm's running statistics included, and refuse to run where a graph is recorded.
func TestFusedGradientFreeOps(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 1))
	x := randTensor(rng, 40, 7)
	w, b := randTensor(rng, 7), randTensor(rng, 7)
	for _, train := range []bool{true, false} {
		st1 := &BatchNormState{Mean: make([]float32, 7), Var: make([]float32, 7), Momentum: 0.1, Eps: 1e-5}
		st2 := &BatchNormState{Mean: make([]float32, 7), Var: make([]float32, 7), Momentum: 0.1, Eps: 1e-5}
		for i := range st1.Var {
			st1.Var[i], st2.Var[i] = 1+float32(i), 1+float32(i)
		}
		want := ReLU(BatchNorm(x, w, b, st1, train))
		got := x.Clone()
		BatchNormReLUInPlace(got, w, b, st2, train)
		assertClose(t, "BatchNormReLUInPlace", got.Data, want.Data, 0)
		assertClose(t, "running mean", st2.Mean, st1.Mean, 0)
		assertClose(t, "running var", st2.Var, st1.Var, 0)
	}

	g := randTensor(rng, 300, 9, 5)
	lw, lb := randTensor(rng, 11, 5), randTensor(rng, 11)
	want, _ := Max(Linear(g, lw, lb), 1)
	assertClose(t, "LinearMax", LinearMax(g, lw, lb).Data, want.Data, 1e-6)

	dst, src := randTensor(rng, 4, 3, 5), randTensor(rng, 4, 1, 5)
	sum := Add(dst, src)
	AddInPlace(dst, src)
	assertClose(t, "AddInPlace", dst.Data, sum.Data, 0)

	p := NewParam("p", randTensor(rng, 7).Data, 7)
	if err := Catch(func() {
		BatchNormReLUInPlace(x, p, nil, &BatchNormState{Mean: make([]float32, 7), Var: make([]float32, 7)}, false)
	}); err == nil {
		t.Fatal("BatchNormReLUInPlace ran on a parameter that requires a gradient")
	}
}

// TestRecomputeRefusesOtherGraphInputs: f may not read gradient-requiring tensors other
// than its input and parameters.
func TestRecomputeRefusesOtherGraphInputs(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 1))
	w := NewParam("w", randTensor(rng, 3).Data, 3)
	other := Scale(w, 2) // requires a gradient, not a parameter
	x := randTensor(rng, 3)
	if err := Catch(func() { Recompute(x, func(x *Tensor) *Tensor { return Mul(x, other) }) }); err == nil {
		t.Fatal("Recompute accepted an outside graph tensor")
	}
	if err := Catch(func() { Recompute(x, func(x *Tensor) *Tensor { return Mul(x, w) }) }); err != nil {
		t.Fatalf("Recompute refused a parameter: %v", err)
	}
}
