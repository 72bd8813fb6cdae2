package fewshot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/pointpeft/pointpeft/dataset"
	"github.com/pointpeft/pointpeft/internal/atomicfile"
	"github.com/pointpeft/pointpeft/peft"
	"github.com/pointpeft/pointpeft/train"
)

// FoldResult is one fold's outcome, saved as fold-K/result.json so that a rerun skips
// the folds already done.
type FoldResult struct {
	Fold         int     `json:"fold"`
	TestAcc      float64 `json:"test_acc"`
	MeanClassAcc float64 `json:"mean_class_acc"`
	Epochs       int     `json:"epochs"`
}

// Summary is a method's few-shot result over the folds run, as summary.json holds it.
type Summary struct {
	Setting
	Method    string       `json:"method"`
	Mode      string       `json:"mode,omitempty"`
	FoldsFile string       `json:"folds_file"`
	Folds     []FoldResult `json:"folds"`
	Mean      float64      `json:"mean_acc"` // percent
	Std       float64      `json:"std_acc"`
	MeanMCA   float64      `json:"mean_class_acc_mean"`
	StdMCA    float64      `json:"mean_class_acc_std"`
}

// RunOptions say which episodes to run and where.
type RunOptions struct {
	Setting
	// FoldsFile is read when it exists; otherwise Draw folds are drawn from FoldSeed and
	// written there.
	FoldsFile string
	Draw      int
	FoldSeed  uint64
	Run       []int  // the folds to run
	Out       string // fold-K/ directories and summary.json go here
	Log       *slog.Logger
	Progress  io.Writer
	// Drew and Done, if set, hear of a fold file drawn and of each fold's result.
	Drew func(path string, n int)
	Done func(FoldResult)
}

// Run fine-tunes spec's method from spec's backbone on each fold of o.Run (its
// training shapes, labels 0..N-1) and reports the last epoch's accuracy on the fold's
// test shapes: no best-epoch selection, no voting. Folds with a result.json are not run
// again.
func Run(ctx context.Context, spec train.Spec, o RunOptions) (*Summary, error) {
	spec, _ = spec.Resolve()
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	spec, trainSet, testSet, notes, err := train.OpenRunData(spec)
	if err != nil {
		return nil, err
	}
	if o.Progress != nil {
		for _, n := range notes {
			fmt.Fprintln(o.Progress, "note:", n)
		}
	}
	folds, err := foldFile(o, trainSet, testSet)
	if err != nil {
		return nil, err
	}
	sum := &Summary{Setting: o.Setting, Method: spec.Method, FoldsFile: o.FoldsFile}
	if peft.Method(spec.Method) == peft.MethodPointPEFT {
		sum.Mode = string(spec.PEFT.Mode)
	}
	for _, k := range o.Run {
		if k < 0 || k >= len(folds.Folds) {
			return nil, fmt.Errorf("fold %d, but %s holds %d folds", k, o.FoldsFile, len(folds.Folds))
		}
		dir := filepath.Join(o.Out, fmt.Sprintf("fold-%d", k))
		done, err := readFoldResult(dir)
		if err != nil {
			return nil, err
		}
		if done == nil {
			tr, te, err := folds.Datasets(trainSet, testSet, k)
			if err != nil {
				return nil, err
			}
			m, err := train.NewRunModel(spec, tr, "", o.Log, nil)
			if err != nil {
				return nil, err
			}
			run := &train.Run{Dir: dir, Cfg: spec.Train, Model: m, Train: tr, Test: te, Log: o.Log, Progress: o.Progress, Spec: &spec,
				Points: spec.Points}
			res, err := run.Fit(ctx)
			if err != nil {
				return nil, fmt.Errorf("fold %d: %w", k, err)
			}
			done = &FoldResult{Fold: k, TestAcc: res.Last.TestAcc, MeanClassAcc: res.Last.MeanClassAcc, Epochs: len(res.History)}
			if err := atomicfile.WriteJSON(filepath.Join(dir, "result.json"), done); err != nil {
				return nil, err
			}
		}
		sum.Folds = append(sum.Folds, *done)
		if o.Done != nil {
			o.Done(*done)
		}
	}
	var acc, mca []float64
	for _, r := range sum.Folds {
		acc, mca = append(acc, 100*r.TestAcc), append(mca, 100*r.MeanClassAcc)
	}
	sum.Mean, sum.Std = MeanStd(acc)
	sum.MeanMCA, sum.StdMCA = MeanStd(mca)
	return sum, atomicfile.WriteJSON(filepath.Join(o.Out, "summary.json"), sum)
}

// foldFile reads the folds of o.FoldsFile, checking they are of o's setting, or draws
// o.Draw of them from o.FoldSeed and writes them there.
func foldFile(o RunOptions, trainSet, testSet dataset.Dataset) (*Folds, error) {
	if _, err := os.Stat(o.FoldsFile); errors.Is(err, fs.ErrNotExist) {
		folds, err := DrawFrom(trainSet, testSet, o.Setting, o.Draw, o.FoldSeed)
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(filepath.Dir(o.FoldsFile), 0o755); err != nil {
			return nil, err
		}
		if err := folds.Save(o.FoldsFile); err != nil {
			return nil, err
		}
		if o.Drew != nil {
			o.Drew(o.FoldsFile, o.Draw)
		}
		return folds, nil
	}
	folds, err := Load(o.FoldsFile)
	if err != nil {
		return nil, err
	}
	if folds.Setting != o.Setting {
		return nil, fmt.Errorf("%s holds %v folds with %d test shapes per class, not %v with %d", o.FoldsFile, folds.Setting, folds.Query, o.Setting, o.Query)
	}
	return folds, nil
}

func readFoldResult(dir string) (*FoldResult, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "result.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var r FoldResult
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, "result.json"), err)
	}
	return &r, nil
}
