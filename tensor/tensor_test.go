package tensor

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestBatchedMatMulConcurrentGEMMs(t *testing.T) {
	// 48 small GEMMs run on concurrent goroutines; each must equal its own reference.
	rng := rand.New(rand.NewPCG(2, 1))
	a, b := randTensor(rng, 48, 65, 64), randTensor(rng, 48, 65, 64)
	var c *Tensor
	NoGrad(func() { c = MatMul(a, b, false, true) })
	for i := 0; i < 48; i++ {
		for r := 0; r < 65; r += 7 {
			for col := 0; col < 65; col += 5 {
				var s float64
				for k := 0; k < 64; k++ {
					s += float64(a.Data[(i*65+r)*64+k]) * float64(b.Data[(i*65+col)*64+k])
				}
				if got := c.Data[(i*65+r)*65+col]; math.Abs(float64(got)-s) > 1e-3*(1+math.Abs(s)) {
					t.Fatalf("batch %d [%d,%d] = %g, want %g", i, r, col, got, s)
				}
			}
		}
	}
}

func TestFrozenParamsGetNoGradient(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	x := randTensor(rng, 4, 3)
	w := NewParam("w", randTensor(rng, 2, 3).Data, 2, 3)
	b := NewParam("b", randTensor(rng, 2).Data, 2)
	w.SetTrainable(false)
	Backward(SumAll(Linear(x, w, b)))
	if w.Grad != nil {
		t.Fatal("frozen weight got a gradient buffer")
	}
	if b.Grad == nil || b.Grad[0] != 4 || b.Grad[1] != 4 {
		t.Fatalf("bias gradient %v, want [4 4]", b.Grad)
	}
	// Nothing requires a gradient when everything is frozen: no graph is recorded.
	b.SetTrainable(false)
	if y := Linear(x, w, b); y.RequiresGrad() || y.parents != nil || y.backward != nil {
		t.Fatal("graph recorded although no input requires a gradient")
	}
}

func TestNoGradRecordsNothing(t *testing.T) {
	w := NewParam("w", []float32{1, 2}, 2)
	var y *Tensor
	NoGrad(func() { y = Mul(w, w) })
	if y.RequiresGrad() || y.parents != nil || y.backward != nil {
		t.Fatal("NoGrad recorded a graph")
	}
	if !GradEnabled() {
		t.Fatal("NoGrad left recording off")
	}
	z := Mul(w, w)
	if !z.RequiresGrad() {
		t.Fatal("recording did not resume after NoGrad")
	}
}

func TestGradientsAccumulateAcrossBackward(t *testing.T) {
	w := NewParam("w", []float32{3}, 1)
	Backward(SumAll(Mul(w, w)))
	Backward(SumAll(Mul(w, w)))
	if w.Grad[0] != 12 {
		t.Fatalf("accumulated gradient %v, want 12", w.Grad[0])
	}
	w.ZeroGrad()
	if w.Grad[0] != 0 {
		t.Fatal("ZeroGrad did not clear")
	}
}

func TestShapeErrorsNameOpAndShapes(t *testing.T) {
	a, b := New(2, 3), New(4, 5)
	for name, f := range map[string]func(){
		"MatMul":    func() { MatMul(a, b, false, false) },
		"Add":       func() { Add(a, b) },
		"Reshape":   func() { Reshape(a, 4, 2) },
		"Concat":    func() { Concat(0, a, b) },
		"Linear":    func() { Linear(a, b, nil) },
		"LayerNorm": func() { LayerNorm(a, New(4), nil, 1e-5) },
		"IndexSelect": func() {
			IndexSelect(a, []int32{2})
		},
		"CrossEntropy": func() { CrossEntropy(a, []int{0, 3}, 0) },
	} {
		err := Catch(f)
		var se *ShapeError
		if !errors.As(err, &se) {
			t.Fatalf("%s: want a *ShapeError, got %v", name, err)
		}
		if !strings.Contains(err.Error(), "tensor."+name) || !strings.Contains(err.Error(), "[2 3]") {
			t.Errorf("%s: message %q does not name the op and shape", name, err)
		}
	}
}

func TestTopK(t *testing.T) {
	x := FromData([]float32{0.1, 0.9, 0.5, 0.9, -1, 0.3, 0.3, 0.2}, 2, 4)
	v, i := TopK(x, 2)
	want := []int32{1, 3, 1, 2}
	for j := range want {
		if i[j] != want[j] {
			t.Fatalf("indices %v, want %v (values %v)", i, want, v)
		}
	}
}

func TestBatchNormRunningStatistics(t *testing.T) {
	// Two channels, four rows: means 2.5 and 0, biased vars 1.25 and 1, unbiased ×4/3.
	x := FromData([]float32{1, 1, 2, -1, 3, 1, 4, -1}, 4, 2)
	st := &BatchNormState{Mean: []float32{0, 0}, Var: []float32{1, 1}, Momentum: 0.1, Eps: 1e-5}
	BatchNorm(x, nil, nil, st, true)
	wantMean := []float32{0.25, 0}
	wantVar := []float32{0.9 + 0.1*1.25*4/3, 0.9 + 0.1*4.0/3}
	for j := 0; j < 2; j++ {
		if math.Abs(float64(st.Mean[j]-wantMean[j])) > 1e-6 || math.Abs(float64(st.Var[j]-wantVar[j])) > 1e-6 {
			t.Fatalf("running stats %v %v, want %v %v", st.Mean, st.Var, wantMean, wantVar)
		}
	}
	if st.Batches != 1 {
		t.Fatalf("num_batches_tracked %d", st.Batches)
	}
}

// TestArenaRecyclesWithoutChangingResults: gradients computed inside arena steps equal
// those computed without one, and the second step reuses the first step's buffers.
func TestArenaRecyclesWithoutChangingResults(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	x := randTensor(rng, 8, 5)
	w := NewParam("w", randTensor(rng, 3, 5).Data, 3, 5)
	run := func() []float32 {
		w.ZeroGrad()
		Backward(SumAll(GELU(Linear(x, w, nil))))
		return append([]float32(nil), w.Grad...)
	}
	want := run()
	a := NewArena()
	var got []float32
	a.Step(func() { got = run() })
	assertClose(t, "arena gradient", got, want, 0)
	held := a.Stats().Held
	a.Step(func() { got = run() })
	assertClose(t, "second arena gradient", got, want, 0)
	if held == 0 || a.Stats().Held != held || len(a.live) != 0 {
		t.Fatalf("arena held %d then %d bytes, %d buffers still in use", held, a.Stats().Held, len(a.live))
	}
	if w.Grad == nil {
		t.Fatal("the parameter's gradient was recycled")
	}
}

// TestScratchRecyclesIntermediates: a gradient-free sub-computation gives back its
// intermediates at once and keeps its result intact; one that requires a gradient keeps
// everything.
func TestScratchRecyclesIntermediates(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	x := randTensor(rng, 16, 8)
	want := GELU(Scale(ReLU(x), 2))
	a := NewArena()
	a.Step(func() {
		got := Scratch(func() *Tensor { return GELU(Scale(ReLU(x), 2)) })
		if len(a.live) != 1 {
			t.Fatalf("%d buffers still held, want only the result's", len(a.live))
		}
		Scale(x, 3) // reuses a freed buffer; must not touch got
		assertClose(t, "scratch result", got.Data, want.Data, 0)
		w := NewParam("w", randTensor(rng, 8).Data, 8)
		before := len(a.live)
		Scratch(func() *Tensor { return Mul(ReLU(x), w) })
		if len(a.live) != before+2 {
			t.Fatalf("a graph's buffers were recycled: %d → %d", before, len(a.live))
		}
	})
}

// TestGradientsRecycledDuringBackward: inside a step, a deep chain's backward reuses
// spent gradient buffers, and the parameter gradients still match a run without arena.
func TestGradientsRecycledDuringBackward(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 6))
	x := randTensor(rng, 32, 16)
	w := NewParam("w", randTensor(rng, 16, 16).Data, 16, 16)
	run := func() []float32 {
		w.ZeroGrad()
		h := x
		for i := 0; i < 6; i++ {
			h = Add(GELU(Linear(h, w, nil)), h)
		}
		Backward(MeanAll(Mul(h, h)))
		return append([]float32(nil), w.Grad...)
	}
	want := run()
	a := NewArena()
	var got []float32
	a.Step(func() { got = run() })
	assertClose(t, "recycled-gradient result", got, want, 0)
}

func TestLeakyReLUValues(t *testing.T) {
	got := LeakyReLU(FromData([]float32{-2, -0.5, 0, 3}, 4), 0.2).Data
	for i, want := range []float32{-0.4, -0.1, 0, 3} {
		if got[i] != want {
			t.Fatalf("LeakyReLU = %v, want [-0.4 -0.1 0 3]", got)
		}
	}
}
