package optim

import (
	"math"
	"strconv"
	"testing"
)

var (
	_ Schedule = CosineLR{}
	_ Schedule = StepCosine{}
)

// reference is the schedule of spec §6.1 (builder.py:66-75 with lr 5e-4, 300 epochs).
var reference = CosineLR{BaseLR: 5e-4, MinLR: 1e-6, TInitial: 300, WarmupT: 10, WarmupLRInit: 1e-6}

func TestCosineLRReferenceValues(t *testing.T) {
	if err := reference.Validate(); err != nil {
		t.Fatal(err)
	}
	// The spec's examples, compared at the precision it prints them.
	for _, c := range []struct {
		epoch int
		want  string
	}{
		{0, "1e-06"}, {2, "5.09e-05"}, {10, "4.501e-04"}, {11, "4.986e-04"},
		{100, "3.775e-04"}, {200, "1.280e-04"}, {300, "1.014e-06"},
	} {
		mant := c.want[:len(c.want)-4]
		digits := max(len(mant)-2, 0) // digits after the dot
		if got := strconv.FormatFloat(reference.LR(c.epoch), 'e', digits, 64); got != c.want {
			t.Errorf("lr(%d) = %s (%.6g), want %s", c.epoch, got, reference.LR(c.epoch), c.want)
		}
	}
	// lr(e) = g(e-1), exact formulas of the spec.
	g := func(t float64) float64 {
		if t < 10 {
			return 1e-6 + t*(5e-4-1e-6)/10
		}
		return 1e-6 + 0.5*(5e-4-1e-6)*(1+math.Cos(math.Pi*t/300))
	}
	for e := 1; e <= 300; e++ {
		if got, want := reference.LR(e), g(float64(e-1)); math.Abs(got-want) > 1e-18 {
			t.Fatalf("lr(%d) = %v, want %v", e, got, want)
		}
	}
	// The peak 5e-4 is never used, and after one cycle timm holds lr_min.
	for e := 0; e <= 300; e++ {
		if reference.LR(e) >= 5e-4 {
			t.Errorf("lr(%d) = %v reaches the base lr", e, reference.LR(e))
		}
	}
	if got := reference.LR(301); got != 1e-6 {
		t.Errorf("lr(301) = %v, want lr_min", got)
	}
}

func TestCosineLRWithoutWarmup(t *testing.T) {
	c := CosineLR{BaseLR: 1e-3, MinLR: 0, TInitial: 4}
	want := []float64{1e-3, 1e-3, 0.5e-3 * (1 + math.Cos(math.Pi/4)), 0.5e-3, 0.5e-3 * (1 + math.Cos(3*math.Pi/4)), 0}
	for e, w := range want {
		if got := c.LR(e); math.Abs(got-w) > 1e-15 {
			t.Errorf("lr(%d) = %v, want %v", e, got, w)
		}
	}
}

func TestStepCosine(t *testing.T) {
	s := StepCosine{BaseLR: 1e-3, MinLR: 1e-5, WarmupLRInit: 1e-6, WarmupSteps: 100, TotalSteps: 1100}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	check := func(step int, want float64) {
		t.Helper()
		if got := s.LR(step); math.Abs(got-want) > 1e-15 {
			t.Errorf("LR(%d) = %v, want %v", step, got, want)
		}
	}
	check(0, 1e-6)
	check(50, 1e-6+0.5*(1e-3-1e-6))
	check(100, 1e-3)
	check(600, 1e-5+0.5*(1e-3-1e-5))
	check(1100, 1e-5)
	check(5000, 1e-5)
	prev := s.LR(100)
	for i := 101; i <= 1100; i++ {
		if lr := s.LR(i); lr > prev {
			t.Fatalf("LR rises after warm-up at step %d", i)
		} else {
			prev = lr
		}
	}
}

func TestScheduleValidate(t *testing.T) {
	bad := []interface{ Validate() error }{
		CosineLR{BaseLR: 1e-3, TInitial: 0},
		CosineLR{BaseLR: 1e-3, TInitial: 10, WarmupT: -1},
		CosineLR{BaseLR: math.NaN(), TInitial: 10},
		CosineLR{BaseLR: 1e-3, MinLR: -1, TInitial: 10},
		StepCosine{BaseLR: 1e-3, WarmupSteps: 10, TotalSteps: 10},
		StepCosine{BaseLR: 1e-3, WarmupSteps: -1, TotalSteps: 10},
		StepCosine{BaseLR: math.Inf(1), TotalSteps: 10},
	}
	for i, b := range bad {
		if b.Validate() == nil {
			t.Errorf("case %d (%+v): no error", i, b)
		}
	}
}
