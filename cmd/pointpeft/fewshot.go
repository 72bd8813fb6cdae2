package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/pointpeft/pointpeft/dataset"
	"github.com/pointpeft/pointpeft/fewshot"
	"github.com/pointpeft/pointpeft/internal/atomicfile"
	"github.com/pointpeft/pointpeft/peft"
	"github.com/pointpeft/pointpeft/train"
)

func init() {
	register(command{name: "fewshot", summary: "N-way K-shot fine-tuning over saved folds, mean ± std", run: runFewshot})
}

// foldResult is one fold's outcome, saved as fold-K/result.json so that a rerun skips
// the folds already done.
type foldResult struct {
	Fold         int     `json:"fold"`
	TestAcc      float64 `json:"test_acc"`
	MeanClassAcc float64 `json:"mean_class_acc"`
	Epochs       int     `json:"epochs"`
}

// fewshotSummary is what summary.json holds.
type fewshotSummary struct {
	fewshot.Setting
	Method    string       `json:"method"`
	Mode      string       `json:"mode,omitempty"`
	FoldsFile string       `json:"folds_file"`
	Folds     []foldResult `json:"folds"`
	Mean      float64      `json:"mean_acc"`
	Std       float64      `json:"std_acc"`
	MeanMCA   float64      `json:"mean_class_acc_mean"`
	StdMCA    float64      `json:"mean_class_acc_std"`
}

func runFewshot(args []string, stdout, stderr io.Writer) error {
	fset := newFlags("fewshot", "--backbone FILE --data PATH --folds-file FILE [--way 5 --shot 10]", `Few-shot classification as Point-BERT and Point-MAE measure it on ModelNet40: each fold is
an N-way K-shot episode (N random classes, K training shapes of each, 20 test shapes of each
from the test split, labels 0..N-1). The folds are read from --folds-file, or drawn from
--fold-seed and written there when it does not exist, so every method runs on the same
episodes. Each fold listed in --run is fine-tuned from the backbone (flags as finetune's) into
--out/fold-K, and the last epoch's test accuracy (no best-epoch selection, no voting) is
reported per fold and as mean ± sample standard deviation (summary.json). Folds whose
fold-K/result.json exists are not run again.

`+dataHelp, stderr)
	spec := defaultSpec()
	// Point-MAE's few-shot recipe (cfgs/fewshot.yaml): 150 epochs, 10 of warm-up.
	spec.Train.Epochs, spec.Train.WarmupEpochs = 150, 10
	mode := specFlags(fset, &spec)
	way := fset.Int("way", 5, "classes per episode (N)")
	shot := fset.Int("shot", 10, "training shapes per class (K)")
	query := fset.Int("query", 20, "test shapes per class")
	foldsFile := fset.String("folds-file", "", "fold file (JSON): read if it exists, else drawn and written")
	draw := fset.Int("draw", 10, "folds to draw when the fold file does not exist")
	foldSeed := fset.Uint64("fold-seed", 0, "seed the folds are drawn from")
	runList := fset.String("run", "0-9", "folds to run: a list of K and K-L ranges, e.g. 0-4 or 0,2,5")
	out := fset.String("out", "", "output directory (default runs/fewshot-<way>way<shot>shot-<method>)")
	verbose := fset.Bool("v", false, "log every epoch")
	if err := parseFlags(fset, args); err != nil {
		return err
	}
	spec.PEFT.Mode = peft.Mode(*mode)
	if spec.Backbone == "" || spec.Data == "" || *foldsFile == "" {
		fset.Usage()
		return fmt.Errorf("--backbone, --data and --folds-file are required")
	}
	if err := spec.Train.Validate(); err != nil {
		return err
	}
	which, err := parseFoldList(*runList)
	if err != nil {
		return fmt.Errorf("--run: %w", err)
	}
	setting := fewshot.Setting{Way: *way, Shot: *shot, Query: *query}
	if *out == "" {
		*out = filepath.Join("runs", fmt.Sprintf("fewshot-%dway%dshot-%s", *way, *shot, spec.Method))
	}
	trainSet, testSet, err := dataSpec{path: spec.Data, numPoints: spec.Points, shapes: dataset.DefaultShapesConfig()}.openSplits()
	if err != nil {
		return err
	}
	folds, err := foldFile(*foldsFile, trainSet, testSet, setting, *draw, *foldSeed, stdout)
	if err != nil {
		return err
	}
	ctx, stop := signalContext()
	defer stop()
	log := newLogger(stderr, *verbose)
	sum := fewshotSummary{Setting: setting, Method: spec.Method, FoldsFile: *foldsFile}
	if peft.Method(spec.Method) == peft.MethodPointPEFT {
		sum.Mode = string(spec.PEFT.Mode)
	}
	for _, k := range which {
		if k >= len(folds.Folds) {
			return fmt.Errorf("--run: fold %d, but %s holds %d folds", k, *foldsFile, len(folds.Folds))
		}
		dir := filepath.Join(*out, fmt.Sprintf("fold-%d", k))
		done, err := readFoldResult(dir)
		if err != nil {
			return err
		}
		if done == nil {
			tr, te, err := folds.Datasets(trainSet, testSet, k)
			if err != nil {
				return err
			}
			m, err := buildModel(spec, tr, "", log, nil)
			if err != nil {
				return err
			}
			run := &train.Run{Dir: dir, Cfg: spec.Train, Model: m, Train: tr, Test: te, Log: log, Spec: spec}
			if *verbose {
				run.Progress = stderr
			}
			res, err := run.Fit(ctx)
			if err != nil {
				return fmt.Errorf("fold %d: %w", k, err)
			}
			done = &foldResult{Fold: k, TestAcc: res.Last.TestAcc, MeanClassAcc: res.Last.MeanClassAcc, Epochs: len(res.History)}
			if err := writeJSON(filepath.Join(dir, "result.json"), done); err != nil {
				return err
			}
		}
		sum.Folds = append(sum.Folds, *done)
		fmt.Fprintf(stdout, "%v %s fold %d: test accuracy %.2f%% (mean class %.2f%%)\n", setting, spec.Method, k, 100*done.TestAcc, 100*done.MeanClassAcc)
	}
	var acc, mca []float64
	for _, r := range sum.Folds {
		acc, mca = append(acc, 100*r.TestAcc), append(mca, 100*r.MeanClassAcc)
	}
	sum.Mean, sum.Std = fewshot.MeanStd(acc)
	sum.MeanMCA, sum.StdMCA = fewshot.MeanStd(mca)
	fmt.Fprintf(stdout, "%v %s over %d folds: %.1f ± %.1f (mean class %.1f ± %.1f); files in %s\n",
		setting, spec.Method, len(acc), sum.Mean, sum.Std, sum.MeanMCA, sum.StdMCA, *out)
	return writeJSON(filepath.Join(*out, "summary.json"), sum)
}

// foldFile reads the folds at path, checking they are of setting s, or draws n of them
// from seed and writes them there.
func foldFile(path string, trainSet, testSet dataset.Dataset, s fewshot.Setting, n int, seed uint64, stdout io.Writer) (*fewshot.Folds, error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		folds, err := fewshot.DrawFrom(trainSet, testSet, s, n, seed)
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, err
		}
		if err := folds.Save(path); err != nil {
			return nil, err
		}
		fmt.Fprintf(stdout, "drew %d %v folds from seed %d into %s\n", n, s, seed, path)
		return folds, nil
	}
	folds, err := fewshot.Load(path)
	if err != nil {
		return nil, err
	}
	if folds.Setting != s {
		return nil, fmt.Errorf("%s holds %v folds with %d test shapes per class, not %v with %d", path, folds.Setting, folds.Query, s, s.Query)
	}
	return folds, nil
}

func readFoldResult(dir string) (*foldResult, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "result.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var r foldResult
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, "result.json"), err)
	}
	return &r, nil
}

func writeJSON(path string, v any) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return atomicfile.Write(path, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	})
}

// parseFoldList reads "0-4", "0,2,5" or a mix into fold numbers, in order.
func parseFoldList(s string) ([]int, error) {
	var out []int
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 {
			return nil, fmt.Errorf("%q is not a fold number or range", part)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return nil, fmt.Errorf("%q is not a fold range", part)
			}
		}
		for k := a; k <= b; k++ {
			out = append(out, k)
		}
	}
	return out, nil
}
