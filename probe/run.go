package probe

import (
	"cmp"
	"context"
	"io"
	"time"

	"github.com/pointpeft/pointpeft/dataset"
	"github.com/pointpeft/pointpeft/progress"
	"github.com/pointpeft/pointpeft/train"
)

// Options say which backbone to probe on which data.
type Options struct {
	Backbone string // backbone file; empty: the shipped one
	Data     string // data source as dataset.Open takes it
	// Points, Groups and GroupSize of 0 take the data source's reference settings.
	Points, Groups, GroupSize int
	Batch                     int // shapes encoded at once (0: 64)
	Config
}

// Report is a probe's outcome, as `pointpeft probe --json` writes it.
type Report struct {
	Backbone     string    `json:"backbone"`
	Data         string    `json:"data"`
	Train        int       `json:"train_shapes"`
	Test         int       `json:"test_shapes"`
	Lambdas      []float64 `json:"lambdas"`
	CVAcc        []float64 `json:"cv_acc"`
	Lambda       float64   `json:"lambda"`
	TrainAcc     float64   `json:"train_acc"`
	Acc          float64   `json:"test_acc"`
	MeanClassAcc float64   `json:"mean_class_acc"`
	Converged    bool      `json:"converged"`
	Iterations   int       `json:"iterations"`
	ExtractS     float64   `json:"extract_seconds"`
	FitS         float64   `json:"fit_seconds"`
}

// Run is linear evaluation of a backbone: features of every training and test shape
// (Extract), a logistic regression fitted on the training ones with its L2 strength
// chosen by cross-validation on them (Evaluate), its accuracy on the test ones. w, if
// not nil, shows the feature extraction's progress.
func Run(ctx context.Context, o Options, w io.Writer) (*Report, error) {
	ref := dataset.Reference(o.Data)
	points, groups, size := cmp.Or(o.Points, ref.Points), cmp.Or(o.Groups, ref.Groups), cmp.Or(o.GroupSize, ref.GroupSize)
	trainSet, testSet, err := dataset.OpenSplits(o.Data, dataset.OpenOptions{NumPoints: points})
	if err != nil {
		return nil, err
	}
	bb, _, err := train.LoadBackbone(o.Backbone, len(trainSet.Classes()), groups, size)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	extract := func(ds dataset.Dataset, label string) (*Features, error) {
		bar := progress.New(w, label, ds.Len(), "shapes")
		defer bar.Done()
		done := 0
		return Extract(ctx, bb, ds, o.Batch, func(n int) { bar.Add(n - done); done = n })
	}
	ftr, err := extract(trainSet, "train features")
	if err != nil {
		return nil, err
	}
	fte, err := extract(testSet, "test features")
	if err != nil {
		return nil, err
	}
	ext := time.Since(start)
	start = time.Now()
	res, err := Evaluate(ftr, fte, o.Config)
	if err != nil {
		return nil, err
	}
	return &Report{Backbone: o.Backbone, Data: o.Data, Train: trainSet.Len(), Test: testSet.Len(), Lambdas: res.Lambdas,
		CVAcc: res.CVAcc, Lambda: res.Lambda, TrainAcc: res.TrainAcc, Acc: res.Acc, MeanClassAcc: res.MeanClassAcc,
		Converged: res.Converged, Iterations: res.Iterations, ExtractS: ext.Seconds(), FitS: time.Since(start).Seconds()}, nil
}
