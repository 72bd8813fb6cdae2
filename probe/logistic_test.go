package probe

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

var tight = FitSettings{MaxIter: 1000, GradTol: 1e-10}

func column(v ...float64) *mat.Dense { return mat.NewDense(len(v), 1, v) }

// TestLogisticSeparableKnownOptimum: one point per class at x = ±1. By symmetry the
// optimum puts weights ±a on the feature and equal biases, so the objective is
// log(1+e^{−2a}) + λa², minimised where λa = σ(−2a), and p(1 | x=1) = σ(2a).
func TestLogisticSeparableKnownOptimum(t *testing.T) {
	const lambda = 0.1
	lo, hi := 0.0, 10.0
	for k := 0; k < 200; k++ {
		a := (lo + hi) / 2
		if lambda*a < 1/(1+math.Exp(2*a)) {
			lo = a
		} else {
			hi = a
		}
	}
	want := 1 / (1 + math.Exp(-2*lo))
	m, err := FitLogistic(column(-1, 1), []int{0, 1}, 2, lambda, tight)
	if err != nil {
		t.Fatal(err)
	}
	p := m.Probs(nil, column(1, -1))
	if got := p.At(0, 1); math.Abs(got-want) > 1e-7 || math.Abs(p.At(1, 0)-want) > 1e-7 {
		t.Fatalf("p(1|x=1) = %.9f, p(0|x=-1) = %.9f, want %.9f (a = %.6f)", got, p.At(1, 0), want, lo)
	}
	if !m.Converged {
		t.Errorf("fit did not converge in %d iterations", m.Iterations)
	}
	if w := m.W.At(0, 1); math.Abs(w-lo) > 1e-6 {
		t.Errorf("weight %.8f, want %.8f", w, lo)
	}
}

// TestLogisticNonSeparableMLE: at x = +1 three of four samples are class 1, at x = −1
// three of four are class 0; unregularised, the fit reproduces those frequencies.
func TestLogisticNonSeparableMLE(t *testing.T) {
	x := column(1, 1, 1, -1, -1, -1, -1, 1)
	y := []int{1, 1, 1, 1, 0, 0, 0, 0}
	m, err := FitLogistic(x, y, 2, 0, tight)
	if err != nil {
		t.Fatal(err)
	}
	p := m.Probs(nil, column(1, -1))
	if math.Abs(p.At(0, 1)-0.75) > 1e-7 || math.Abs(p.At(1, 0)-0.75) > 1e-7 {
		t.Fatalf("p(1|+1) = %.9f, p(0|−1) = %.9f, want 0.75", p.At(0, 1), p.At(1, 0))
	}
	pred := m.Predict(nil, x)
	acc, mca, conf := Score(pred, y, 2)
	if acc != 0.75 || mca != 0.75 || conf[1][0] != 1 || conf[0][1] != 1 {
		t.Fatalf("accuracy %v, mean class %v, confusion %v", acc, mca, conf)
	}
}

// TestLogisticConstantFeatureGivesPriors: a feature that never changes carries no
// information; the unpenalised biases then give the class frequencies, whatever λ.
func TestLogisticConstantFeatureGivesPriors(t *testing.T) {
	x := column(7, 7, 7, 7, 7, 7, 7, 7, 7, 7)
	y := []int{0, 0, 0, 0, 0, 1, 1, 1, 2, 2}
	m, err := FitLogistic(x, y, 3, 1, tight)
	if err != nil {
		t.Fatal(err)
	}
	p := m.Probs(nil, column(7))
	for c, want := range []float64{0.5, 0.3, 0.2} {
		if math.Abs(p.At(0, c)-want) > 1e-7 {
			t.Errorf("p(%d) = %.9f, want %v", c, p.At(0, c), want)
		}
	}
}

// TestObjectiveGradient checks the analytic gradient against central differences.
func TestObjectiveGradient(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const n, d, k = 12, 4, 3
	x := mat.NewDense(n, d, nil)
	y := make([]int, n)
	for i := 0; i < n; i++ {
		for j := 0; j < d; j++ {
			x.Set(i, j, rng.NormFloat64())
		}
		y[i] = rng.IntN(k)
	}
	mean, scale, err := standardiser(x, y, k)
	if err != nil {
		t.Fatal(err)
	}
	o := newObjective(augmented(x, mean, scale), y, k, 0.3)
	w := make([]float64, (d+1)*k)
	for i := range w {
		w[i] = rng.NormFloat64()
	}
	o.eval(w)
	grad := append([]float64(nil), o.grad...)
	for i := range w {
		const h = 1e-6
		wp, wm := append([]float64(nil), w...), append([]float64(nil), w...)
		wp[i] += h
		wm[i] -= h
		o.eval(wp)
		fp := o.f
		o.eval(wm)
		num := (fp - o.f) / (2 * h)
		if math.Abs(num-grad[i]) > 1e-7 {
			t.Errorf("gradient %d: analytic %.9f, numeric %.9f", i, grad[i], num)
		}
	}
}

func TestLogisticBadInput(t *testing.T) {
	if _, err := FitLogistic(column(1, math.NaN()), []int{0, 1}, 2, 0.1, tight); err == nil {
		t.Error("NaN feature accepted")
	}
	if _, err := FitLogistic(column(1, 2), []int{0, 2}, 2, 0.1, tight); err == nil {
		t.Error("label out of range accepted")
	}
	if _, err := FitLogistic(column(1, 2), []int{0, 1}, 2, -1, tight); err == nil {
		t.Error("negative λ accepted")
	}
	if _, err := FitLogistic(column(1, 2), []int{0}, 2, 0.1, tight); err == nil {
		t.Error("row/label count mismatch accepted")
	}
}

// TestEvaluateChoosesOnTrainOnly: three well-separated Gaussian blobs; cross-validation
// picks a λ from the training features and the test blobs are classified perfectly.
// A test set with its labels shuffled must not change the λ chosen.
func TestEvaluateChoosesOnTrainOnly(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	blobs := func(n int) *Features {
		f := &Features{X: mat.NewDense(3*n, 2, nil), Classes: []string{"a", "b", "c"}}
		centres := [][2]float64{{0, 4}, {4, 0}, {-4, -4}}
		for i := 0; i < 3*n; i++ {
			c := i % 3
			f.X.Set(i, 0, centres[c][0]+rng.NormFloat64())
			f.X.Set(i, 1, centres[c][1]+rng.NormFloat64())
			f.Labels = append(f.Labels, c)
		}
		return f
	}
	train, test := blobs(30), blobs(20)
	res, err := Evaluate(train, test, Config{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if res.Acc != 1 || res.MeanClassAcc != 1 || res.TrainAcc < 0.98 {
		t.Fatalf("test accuracy %v (mean class %v), train %v, want 1", res.Acc, res.MeanClassAcc, res.TrainAcc)
	}
	if len(res.CVAcc) != len(DefaultLambdas) || res.Lambdas[0] != 1e-1 {
		t.Fatalf("candidates %v with CV accuracy %v", res.Lambdas, res.CVAcc)
	}
	shuffled := *test
	shuffled.Labels = append([]int(nil), test.Labels...)
	rng.Shuffle(len(shuffled.Labels), func(i, j int) { shuffled.Labels[i], shuffled.Labels[j] = shuffled.Labels[j], shuffled.Labels[i] })
	again, err := Evaluate(train, &shuffled, Config{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if again.Lambda != res.Lambda || again.CVAcc[0] != res.CVAcc[0] || again.Acc > 0.6 {
		t.Fatalf("test labels moved the choice: λ %v vs %v, accuracy %v", again.Lambda, res.Lambda, again.Acc)
	}
}
