package probe

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"math"
	"slices"

	"gonum.org/v1/gonum/mat"

	"github.com/pointpeft/pointpeft/dataset"
	"github.com/pointpeft/pointpeft/model"
	"github.com/pointpeft/pointpeft/nn"
	"github.com/pointpeft/pointpeft/tensor"
)

// Features holds one feature vector per shape, in data set order.
type Features struct {
	X       *mat.Dense // [N, Dim]
	Labels  []int
	Classes []string
}

// Extract runs the frozen encoder of bb over every shape of ds, in order, without
// augmentation and with BatchNorm in evaluation mode, batch shapes at a time, and
// returns each shape's feature: the maximum and the mean over its normalised group
// tokens (model.PointTransformer.Tokens), concatenated ([2C]). progress, if set, is
// called after each batch with the shapes done so far.
func Extract(ctx context.Context, bb *model.PointTransformer, ds dataset.Dataset, batch int, progress func(done int)) (*Features, error) {
	n := ds.Len()
	if n == 0 {
		return nil, fmt.Errorf("probe features: the data set is empty")
	}
	if batch < 1 {
		batch = 64
	}
	loader, err := dataset.NewLoader(ds, dataset.LoaderConfig{BatchSize: batch})
	if err != nil {
		return nil, err
	}
	c := bb.Cfg.TransDim
	f := &Features{X: mat.NewDense(n, 2*c, nil), Labels: make([]int, 0, n), Classes: ds.Classes()}
	it := loader.Epoch(0)
	defer it.Close()
	arena := tensor.NewArena()
	defer arena.Close()
	for done := 0; ; {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("probe features: %w", err)
		}
		b, err := it.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		var ferr error
		// The batch's activations are the arena's until the step ends: copied out inside.
		arena.Step(func() {
			tensor.NoGrad(func() {
				g, err := bb.Group(b.Points, b.Size, b.N)
				if err != nil {
					ferr = fmt.Errorf("probe features: samples %d-%d: %w", done, done+b.Size-1, err)
					return
				}
				tok := bb.Tokens(&nn.Ctx{}, g)
				mx, _ := tensor.Max(tok, 1)
				mean := tensor.Mean(tok, 1)
				for i := 0; i < b.Size; i++ {
					row := f.X.RawRowView(done + i)
					for j := 0; j < c; j++ {
						row[j], row[c+j] = float64(mx.Data[i*c+j]), float64(mean.Data[i*c+j])
					}
					for _, v := range row {
						if math.IsNaN(v) || math.IsInf(v, 0) {
							ferr = fmt.Errorf("probe features: sample %d has a non-finite feature", b.Indices[i])
							return
						}
					}
				}
			})
		})
		if ferr != nil {
			return nil, ferr
		}
		f.Labels = append(f.Labels, b.Labels...)
		done += b.Size
		if progress != nil {
			progress(done)
		}
	}
	return f, nil
}

// Config is the linear-evaluation protocol.
type Config struct {
	// Lambdas are the candidate L2 strengths (nil: DefaultLambdas).
	Lambdas []float64
	// Folds is the number of cross-validation folds on the training features (0: 3).
	Folds int
	// Seed draws the folds.
	Seed uint64
	Fit  FitSettings
}

// DefaultLambdas are the L2 strengths cross-validation chooses from, on standardised
// features and a per-sample mean loss.
var DefaultLambdas = []float64{1e-1, 1e-2, 1e-3, 1e-4, 1e-5}

// Result is a linear evaluation.
type Result struct {
	// Lambdas and CVAcc are the candidates, strongest first, and their mean
	// cross-validated accuracy on the training features; Lambda is the one chosen.
	Lambdas, CVAcc []float64
	Lambda         float64
	// TrainAcc is the final classifier's accuracy on the training features; Acc and
	// MeanClassAcc are on the test features.
	TrainAcc, Acc, MeanClassAcc float64
	Confusion                   [][]int // test, [true][predicted]
	Iterations                  int
	Converged                   bool
}

// Evaluate chooses λ by stratified cross-validation on the training features only,
// fits the classifier on all of them with that λ, and measures it on the test
// features.
func Evaluate(train, test *Features, cfg Config) (*Result, error) {
	classes := len(train.Classes)
	if !slices.Equal(train.Classes, test.Classes) {
		return nil, fmt.Errorf("linear evaluation: training classes %v differ from test classes %v", train.Classes, test.Classes)
	}
	lambdas, cvAcc, err := SelectLambda(train.X, train.Labels, classes, cfg)
	if err != nil {
		return nil, err
	}
	best := 0
	for i, a := range cvAcc {
		if a > cvAcc[best] { // ties keep the stronger regularisation
			best = i
		}
	}
	m, err := FitLogistic(train.X, train.Labels, classes, lambdas[best], cfg.Fit)
	if err != nil {
		return nil, err
	}
	res := &Result{Lambdas: lambdas, CVAcc: cvAcc, Lambda: lambdas[best], Iterations: m.Iterations, Converged: m.Converged}
	res.TrainAcc, _, _ = Score(m.Predict(nil, train.X), train.Labels, classes)
	res.Acc, res.MeanClassAcc, res.Confusion = Score(m.Predict(nil, test.X), test.Labels, classes)
	return res, nil
}

// SelectLambda returns cfg's candidate λ sorted strongest first and the mean accuracy
// of each over stratified folds of (x, y): every fold is predicted by a classifier fitted
// on the others, standardised with their statistics. Along a fold's path each fit starts
// from the previous (stronger) one's weights.
func SelectLambda(x *mat.Dense, y []int, classes int, cfg Config) (lambdas, acc []float64, err error) {
	lambdas = slices.Clone(cfg.Lambdas)
	if len(lambdas) == 0 {
		lambdas = slices.Clone(DefaultLambdas)
	}
	slices.SortFunc(lambdas, func(a, b float64) int { return cmp.Compare(b, a) })
	k := cfg.Folds
	if k == 0 {
		k = 3
	}
	folds, err := dataset.StratifiedFolds(y, k, cfg.Seed)
	if err != nil {
		return nil, nil, fmt.Errorf("linear evaluation: %w", err)
	}
	acc = make([]float64, len(lambdas))
	n, _ := x.Dims()
	for _, held := range folds {
		inHeld := make([]bool, n)
		for _, i := range held {
			inHeld[i] = true
		}
		var keep []int
		for i := 0; i < n; i++ {
			if !inHeld[i] {
				keep = append(keep, i)
			}
		}
		xt, yt := rows(x, keep), pick(y, keep)
		xv, yv := rows(x, held), pick(y, held)
		mean, scale, err := standardiser(xt, yt, classes)
		if err != nil {
			return nil, nil, err
		}
		xa := augmented(xt, mean, scale)
		var w []float64
		for li, lambda := range lambdas {
			if w, _, _, err = minimise(xa, yt, classes, lambda, w, cfg.Fit.withDefaults()); err != nil {
				return nil, nil, err
			}
			_, d := x.Dims()
			m := &Logistic{Mean: mean, Scale: scale, W: mat.NewDense(d+1, classes, slices.Clone(w))}
			a, _, _ := Score(m.Predict(nil, xv), yv, classes)
			acc[li] += a / float64(len(folds))
		}
	}
	return lambdas, acc, nil
}

// rows copies the rows idx of x.
func rows(x *mat.Dense, idx []int) *mat.Dense {
	_, d := x.Dims()
	out := mat.NewDense(len(idx), d, nil)
	for r, i := range idx {
		copy(out.RawRowView(r), x.RawRowView(i))
	}
	return out
}

func pick(y, idx []int) []int {
	out := make([]int, len(idx))
	for r, i := range idx {
		out[r] = y[i]
	}
	return out
}

// Score returns the overall accuracy, the mean over classes present of each class's
// accuracy, and the confusion matrix [true][predicted] of predictions against labels.
func Score(pred, labels []int, classes int) (acc, meanClassAcc float64, confusion [][]int) {
	confusion = make([][]int, classes)
	for c := range confusion {
		confusion[c] = make([]int, classes)
	}
	correct := 0
	for i, l := range labels {
		confusion[l][pred[i]]++
		if pred[i] == l {
			correct++
		}
	}
	present := 0
	for c, row := range confusion {
		total := 0
		for _, v := range row {
			total += v
		}
		if total > 0 {
			meanClassAcc += float64(row[c]) / float64(total)
			present++
		}
	}
	if len(labels) > 0 {
		acc = float64(correct) / float64(len(labels))
	}
	if present > 0 {
		meanClassAcc /= float64(present)
	}
	return acc, meanClassAcc, confusion
}
