package main

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/pointpeft/pointpeft/dataset"
	"github.com/pointpeft/pointpeft/train"
)

func init() { register(newPretrainCmd) }

func newPretrainCmd() *cobra.Command {
	spec := train.DefaultPretrainSpec()
	var out string
	var resume, overwrite, verbose bool
	var limit time.Duration
	var keep int
	cmd := &cobra.Command{
		Use:   "pretrain --data SOURCE [flags]",
		Short: "pre-train a Point-MAE backbone (masked point modelling)",
		Long: `Pre-trains a Point-MAE backbone by masked point modelling: 60% of the groups are hidden and
a light decoder rebuilds them (Chamfer-L2 loss). Labels are not used. Writes to --out:
config.yaml, metrics.jsonl, last.safetensors (resumable) and backbone.safetensors (the encoder,
for 'pointpeft finetune --backbone').

` + dataset.SourceHelp,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" && resume {
				return usagef("--resume continues the run in --out: name it")
			}
			if out == "" {
				out = train.DefaultRunDir("pretrain")
			}
			ctx, stop := signalContext()
			defer stop()
			opt := train.PretrainOptions{RunOptions: train.RunOptions{Dir: out, Resume: resume, Overwrite: overwrite, TimeLimit: limit,
				Log: newLogger(cmd.ErrOrStderr(), verbose), Progress: progressTo(cmd)}, KeepEvery: keep}
			hist, err := train.Pretrain(ctx, spec, opt)
			if err != nil {
				return err
			}
			if len(hist) > 0 {
				fmt.Fprintf(cmd.OutOrStdout(), "pre-trained %d epochs; final Chamfer-L2 %.5f; backbone: %s\n",
					len(hist), hist[len(hist)-1].TrainLoss, filepath.Join(out, "backbone.safetensors"))
			}
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&spec.Data, "data", "", "training data (its train split is used)")
	fs.StringVar(&out, "out", "", "run directory (default runs/pretrain-<time>); it must be new or empty unless --resume or --overwrite")
	fs.StringVar(&spec.Preset, "preset", spec.Preset, "model size: small (6×192, for CPUs) or full (12×384, the authors')")
	fs.IntVar(&spec.Points, "points", 0, "points per cloud (default: the data set's reference)")
	fs.IntVar(&spec.Groups, "groups", 0, "groups per cloud (default: the data set's reference)")
	fs.IntVar(&spec.GroupSize, "group-size", 0, "points per group (default 32)")
	fs.BoolVar(&resume, "resume", false, "continue the run in --out from its last checkpoint")
	fs.BoolVar(&overwrite, "overwrite", false, "replace the run files in a non-empty --out")
	fs.BoolVarP(&verbose, "verbose", "v", true, "log every epoch")
	fs.DurationVar(&limit, "time-limit", 0, "stop cleanly at the first step after this long (e.g. 2h30m), saving the state for --resume")
	fs.StringVar(&spec.Init, "init", "", "start from these weights (a pre-training checkpoint or snapshot, or a backbone file) with a fresh optimizer and schedule")
	fs.IntVar(&keep, "keep-every", 0, "also keep the encoder of every N-th epoch as backbone-epochNNN.safetensors (0: only the last)")
	trainFlags(fs, &spec.Train)
	return cmd
}
