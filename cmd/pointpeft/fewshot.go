package main

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pointpeft/pointpeft/dataset"
	"github.com/pointpeft/pointpeft/fewshot"
	"github.com/pointpeft/pointpeft/train"
)

func init() { register(newFewshotCmd) }

func newFewshotCmd() *cobra.Command {
	spec := train.DefaultSpec()
	// Point-MAE's few-shot recipe (cfgs/fewshot.yaml): 150 epochs, 10 of warm-up.
	spec.Train.Epochs, spec.Train.WarmupEpochs = 150, 10
	o := fewshot.RunOptions{Setting: fewshot.Setting{Way: 5, Shot: 10, Query: 20}}
	var runList string
	var verbose bool
	cmd := &cobra.Command{
		Use:   "fewshot --data SOURCE --folds-file FILE [--way 5 --shot 10] [--backbone FILE]",
		Short: "N-way K-shot fine-tuning over saved folds, mean ± std",
		Long: `Few-shot classification as Point-BERT and Point-MAE measure it on ModelNet40: each fold is
an N-way K-shot episode (N random classes, K training shapes of each, 20 test shapes of each
from the test split, labels 0..N-1). The folds are read from --folds-file, or drawn from
--fold-seed and written there when it does not exist, so every method runs on the same
episodes. Each fold listed in --run is fine-tuned from the backbone (flags as finetune's) into
--out/fold-K, and the last epoch's test accuracy (no best-epoch selection, no voting) is
reported per fold and as mean ± sample standard deviation (summary.json). Folds whose
fold-K/result.json exists are not run again.

` + dataset.SourceHelp,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if spec.Data == "" || o.FoldsFile == "" {
				return usagef("--data and --folds-file are required")
			}
			if err := checkMode(cmd, spec); err != nil {
				return err
			}
			var err error
			if o.Run, err = parseFoldList(runList); err != nil {
				return usagef("--run: %v", err)
			}
			if o.Out == "" {
				o.Out = filepath.Join("runs", fmt.Sprintf("fewshot-%dway%dshot-%s", o.Way, o.Shot, spec.Method))
			}
			stdout := cmd.OutOrStdout()
			o.Log = newLogger(cmd.ErrOrStderr(), verbose)
			if verbose {
				o.Progress = progressTo(cmd)
			}
			o.Drew = func(path string, n int) {
				fmt.Fprintf(stdout, "drew %d %v folds from seed %d into %s\n", n, o.Setting, o.FoldSeed, path)
			}
			o.Done = func(r fewshot.FoldResult) {
				fmt.Fprintf(stdout, "%v %s fold %d: test accuracy %.2f%% (mean class %.2f%%)\n", o.Setting, spec.Method, r.Fold,
					100*r.TestAcc, 100*r.MeanClassAcc)
			}
			ctx, stop := signalContext()
			defer stop()
			sum, err := fewshot.Run(ctx, spec, o)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "%v %s over %d folds: %.1f ± %.1f (mean class %.1f ± %.1f); files in %s\n",
				o.Setting, spec.Method, len(sum.Folds), sum.Mean, sum.Std, sum.MeanMCA, sum.StdMCA, o.Out)
			return nil
		},
	}
	fs := cmd.Flags()
	specFlags(fs, &spec)
	fs.IntVar(&o.Way, "way", o.Way, "classes per episode (N)")
	fs.IntVar(&o.Shot, "shot", o.Shot, "training shapes per class (K)")
	fs.IntVar(&o.Query, "query", o.Query, "test shapes per class")
	fs.StringVar(&o.FoldsFile, "folds-file", "", "fold file (JSON): read if it exists, else drawn and written")
	fs.IntVar(&o.Draw, "draw", 10, "folds to draw when the fold file does not exist")
	fs.Uint64Var(&o.FoldSeed, "fold-seed", 0, "seed the folds are drawn from")
	fs.StringVar(&runList, "run", "0-9", "folds to run: a list of K and K-L ranges, e.g. 0-4 or 0,2,5")
	fs.StringVar(&o.Out, "out", "", "output directory (default runs/fewshot-<way>way<shot>shot-<method>)")
	fs.BoolVarP(&verbose, "verbose", "v", false, "log every epoch")
	return cmd
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
