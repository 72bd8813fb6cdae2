package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/pointpeft/pointpeft/dataset"
	"github.com/pointpeft/pointpeft/probe"
	"github.com/pointpeft/pointpeft/train"
)

func init() {
	register(command{name: "probe", summary: "linear evaluation of a frozen backbone's features", run: runProbe})
}

// probeReport is what --json writes.
type probeReport struct {
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

func runProbe(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("probe", "--backbone FILE --data PATH", `Linear evaluation of a pre-trained backbone: the frozen encoder gives every training and
test shape a feature (max- and mean-pooled normalised group tokens), a multinomial logistic
regression is fitted on the training features with its L2 strength chosen by stratified
cross-validation on them, and its accuracy on the test features is printed.

`+dataHelp, stderr)
	backbone := fs.String("backbone", "", "pre-trained backbone file")
	data := fs.String("data", "", "data set")
	points := fs.Int("points", 1024, "points per cloud")
	groups := fs.Int("groups", 64, "groups per cloud")
	groupSize := fs.Int("group-size", 32, "points per group")
	batch := fs.Int("batch", 64, "shapes encoded at once")
	folds := fs.Int("folds", 3, "cross-validation folds on the training features")
	lambdas := fs.String("lambdas", "", "comma-separated L2 strengths to choose from (default 0.1,0.01,0.001,1e-4,1e-5)")
	seed := fs.Uint64("seed", 0, "seed of the cross-validation folds")
	jsonOut := fs.String("json", "", "also write the result as JSON to this file")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *backbone == "" || *data == "" {
		fs.Usage()
		return fmt.Errorf("--backbone and --data are required")
	}
	cfg := probe.Config{Folds: *folds, Seed: *seed}
	for _, s := range strings.Split(*lambdas, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || v < 0 {
			return fmt.Errorf("--lambdas: %q is not a non-negative number", s)
		}
		cfg.Lambdas = append(cfg.Lambdas, v)
	}
	trainSet, testSet, err := dataSpec{path: *data, numPoints: *points, shapes: dataset.DefaultShapesConfig()}.openSplits()
	if err != nil {
		return err
	}
	bb, _, err := train.LoadBackbone(*backbone, len(trainSet.Classes()), *groups, *groupSize)
	if err != nil {
		return err
	}
	ctx, stop := signalContext()
	defer stop()
	start := time.Now()
	ftr, err := probe.Extract(ctx, bb, trainSet, *batch, progressFunc(stderr, trainSet.Len(), "train features", "shapes"))
	if err != nil {
		return err
	}
	fte, err := probe.Extract(ctx, bb, testSet, *batch, progressFunc(stderr, testSet.Len(), "test features", "shapes"))
	if err != nil {
		return err
	}
	extract := time.Since(start)
	start = time.Now()
	res, err := probe.Evaluate(ftr, fte, cfg)
	if err != nil {
		return err
	}
	fit := time.Since(start)
	for i, l := range res.Lambdas {
		fmt.Fprintf(stdout, "λ %-8g cross-validated accuracy %.2f%%\n", l, 100*res.CVAcc[i])
	}
	note := ""
	if !res.Converged {
		note = fmt.Sprintf(" (stopped at the iteration limit, %d)", res.Iterations)
	}
	fmt.Fprintf(stdout, "linear probe of %s on %s: test accuracy %.2f%%, mean class accuracy %.2f%% (λ %g, train accuracy %.2f%%%s; "+
		"%d train / %d test shapes; features %.0fs, fit %.0fs)\n",
		*backbone, *data, 100*res.Acc, 100*res.MeanClassAcc, res.Lambda, 100*res.TrainAcc, note,
		trainSet.Len(), testSet.Len(), extract.Seconds(), fit.Seconds())
	if *jsonOut == "" {
		return nil
	}
	rep := probeReport{Backbone: *backbone, Data: *data, Train: trainSet.Len(), Test: testSet.Len(), Lambdas: res.Lambdas, CVAcc: res.CVAcc,
		Lambda: res.Lambda, TrainAcc: res.TrainAcc, Acc: res.Acc, MeanClassAcc: res.MeanClassAcc, Converged: res.Converged,
		Iterations: res.Iterations, ExtractS: extract.Seconds(), FitS: fit.Seconds()}
	return writeJSON(*jsonOut, rep)
}
