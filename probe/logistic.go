package probe

import (
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/optimize"

	"github.com/pointpeft/pointpeft/internal/blas"
)

// Logistic is a multinomial logistic regression on standardised features:
// p(y | x) = softmax(((x − Mean) / Scale)·W + b).
type Logistic struct {
	Mean, Scale []float64 // per feature, from the training features
	// W is [Dim+1, Classes]: one row per feature, the last row is the bias b.
	W      *mat.Dense
	Lambda float64
	// Iterations is the number of L-BFGS iterations the fit took; Converged says whether
	// it stopped on the gradient tolerance rather than the iteration limit.
	Iterations int
	Converged  bool
}

// FitSettings bound the L-BFGS fit.
type FitSettings struct {
	// MaxIter caps the L-BFGS iterations (0: 300).
	MaxIter int
	// GradTol stops the fit when the gradient's largest entry is below it (0: 1e-4,
	// scikit-learn's default for the same solver).
	GradTol float64
}

func (s FitSettings) withDefaults() FitSettings {
	if s.MaxIter <= 0 {
		s.MaxIter = 300
	}
	if s.GradTol <= 0 {
		s.GradTol = 1e-4
	}
	return s
}

// FitLogistic fits a multinomial logistic regression of y (labels in [0, classes)) on
// the rows of x by minimising, in float64 with L-BFGS from zero weights,
//
//	(1/N) Σ_i −log softmax(z_i)[y_i] + (λ/2)‖W‖²
//
// where the bias is not penalised. Features are standardised with the mean and standard
// deviation of x (a constant feature keeps scale 1). The fit is deterministic.
func FitLogistic(x *mat.Dense, y []int, classes int, lambda float64, s FitSettings) (*Logistic, error) {
	mean, scale, err := standardiser(x, y, classes)
	if err != nil {
		return nil, err
	}
	if lambda < 0 || math.IsNaN(lambda) {
		return nil, fmt.Errorf("logistic regression: λ %g, want ≥ 0", lambda)
	}
	xa := augmented(x, mean, scale)
	m := &Logistic{Mean: mean, Scale: scale, Lambda: lambda}
	w, iters, ok, err := minimise(xa, y, classes, lambda, nil, s.withDefaults())
	if err != nil {
		return nil, err
	}
	_, d := x.Dims()
	m.W = mat.NewDense(d+1, classes, w)
	m.Iterations, m.Converged = iters, ok
	return m, nil
}

// standardiser checks a training problem and returns each feature's mean and scale.
func standardiser(x *mat.Dense, y []int, classes int) (mean, scale []float64, err error) {
	n, d := x.Dims()
	if n == 0 || n != len(y) {
		return nil, nil, fmt.Errorf("logistic regression: %d feature rows for %d labels", n, len(y))
	}
	if classes < 2 {
		return nil, nil, fmt.Errorf("logistic regression: %d classes, want ≥ 2", classes)
	}
	for i, l := range y {
		if l < 0 || l >= classes {
			return nil, nil, fmt.Errorf("logistic regression: sample %d has label %d, want [0,%d)", i, l, classes)
		}
	}
	mean, scale = make([]float64, d), make([]float64, d)
	for j := 0; j < d; j++ {
		var s float64
		for i := 0; i < n; i++ {
			v := x.At(i, j)
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, nil, fmt.Errorf("logistic regression: feature %d of sample %d is %v", j, i, v)
			}
			s += v
		}
		mean[j] = s / float64(n)
		var ss float64
		for i := 0; i < n; i++ {
			dv := x.At(i, j) - mean[j]
			ss += dv * dv
		}
		scale[j] = math.Sqrt(ss / float64(n))
		if scale[j] < 1e-12 {
			scale[j] = 1
		}
	}
	return mean, scale, nil
}

// augmented is [(x − mean) / scale, 1]: the standardised features and a bias column.
func augmented(x *mat.Dense, mean, scale []float64) *mat.Dense {
	n, d := x.Dims()
	xa := mat.NewDense(n, d+1, nil)
	for i := 0; i < n; i++ {
		row := xa.RawRowView(i)
		for j, v := range x.RawRowView(i) {
			row[j] = (v - mean[j]) / scale[j]
		}
		row[d] = 1
	}
	return xa
}

// objective is the regularised cross-entropy of a problem and its gradient, for
// L-BFGS; it caches the last evaluation, since L-BFGS asks for the value and the
// gradient at the same point one after the other.
type objective struct {
	xa      *mat.Dense
	y       []int
	classes int
	lambda  float64
	z, gw   *mat.Dense // scratch: logits / residuals [N, K], gradient [D+1, K]
	at      []float64  // the point of the cached evaluation
	f       float64
	grad    []float64
}

func newObjective(xa *mat.Dense, y []int, classes int, lambda float64) *objective {
	n, d1 := xa.Dims()
	return &objective{xa: xa, y: y, classes: classes, lambda: lambda,
		z: mat.NewDense(n, classes, nil), gw: mat.NewDense(d1, classes, nil)}
}

func (o *objective) eval(w []float64) {
	if o.at != nil && slices.Equal(o.at, w) {
		return
	}
	n, d1 := o.xa.Dims()
	k := o.classes
	xa, z, g := o.xa.RawMatrix().Data, o.z.RawMatrix().Data, o.gw.RawMatrix().Data
	// The two products are nearly all of the work: OpenBLAS's dgemm when built with it.
	blas.Dgemm(false, false, n, k, d1, 1, xa, d1, w, k, 0, z, k)
	var loss float64
	for i := 0; i < n; i++ {
		loss += softmaxResidual(z[i*k:(i+1)*k], o.y[i])
	}
	inv := 1 / float64(n)
	blas.Dgemm(true, false, d1, k, n, inv, xa, d1, z, k, 0, g, k)
	var reg float64
	for j := 0; j < (d1-1)*k; j++ { // the bias row is not penalised
		reg += w[j] * w[j]
		g[j] += o.lambda * w[j]
	}
	o.f = loss*inv + 0.5*o.lambda*reg
	o.at = append(o.at[:0], w...)
	o.grad = append(o.grad[:0], g...)
}

// softmax turns a row of logits into probabilities in place and returns the log of the
// normaliser, log Σ exp(row) (shifted by the maximum for range).
func softmax(row []float64) (logSum float64) {
	mx := floats.Max(row)
	var s float64
	for j, v := range row {
		row[j] = math.Exp(v - mx)
		s += row[j]
	}
	floats.Scale(1/s, row)
	return mx + math.Log(s)
}

// softmaxResidual turns a row of logits into softmax − onehot(label) in place and
// returns −log softmax[label].
func softmaxResidual(row []float64, label int) float64 {
	z := row[label]
	nll := softmax(row) - z
	row[label]--
	return nll
}

// minimise runs L-BFGS on the problem from w0 (nil: zeros) and returns the weights.
// Hitting the iteration limit, or a line search that can no longer make progress, still
// returns the best weights found, with converged false.
func minimise(xa *mat.Dense, y []int, classes int, lambda float64, w0 []float64, s FitSettings) (w []float64, iters int, converged bool, err error) {
	_, d1 := xa.Dims()
	o := newObjective(xa, y, classes, lambda)
	p := optimize.Problem{
		Func: func(w []float64) float64 { o.eval(w); return o.f },
		Grad: func(g, w []float64) { o.eval(w); copy(g, o.grad) },
	}
	if w0 == nil {
		w0 = make([]float64, d1*classes)
	}
	res, err := optimize.Minimize(p, w0, &optimize.Settings{
		MajorIterations:   s.MaxIter,
		GradientThreshold: s.GradTol, // on the gradient's largest entry
		Converger:         &optimize.FunctionConverge{Absolute: 1e-12, Iterations: 50},
	}, &optimize.LBFGS{})
	if res == nil || math.IsNaN(res.F) || math.IsInf(res.F, 0) {
		return nil, 0, false, fmt.Errorf("logistic regression (λ %g): %v", lambda, err)
	}
	converged = err == nil && (res.Status == optimize.GradientThreshold || res.Status == optimize.FunctionConvergence)
	return res.X, res.MajorIterations, converged, nil
}

// Probs writes the class probabilities of the rows of x into dst ([N, Classes]; nil
// allocates) and returns it.
func (m *Logistic) Probs(dst, x *mat.Dense) *mat.Dense {
	n, _ := x.Dims()
	_, k := m.W.Dims()
	if dst == nil {
		dst = mat.NewDense(n, k, nil)
	}
	dst.Mul(augmented(x, m.Mean, m.Scale), m.W)
	for i := 0; i < n; i++ {
		softmax(dst.RawRowView(i))
	}
	return dst
}

// Predict writes the most probable class of every row of x into dst (nil allocates)
// and returns it.
func (m *Logistic) Predict(dst []int, x *mat.Dense) []int {
	n, _ := x.Dims()
	if dst == nil {
		dst = make([]int, n)
	}
	p := m.Probs(nil, x)
	for i := range dst[:n] {
		dst[i] = floats.MaxIdx(p.RawRowView(i))
	}
	return dst
}
