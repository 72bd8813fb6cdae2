package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/pointpeft/pointpeft/bench"
	"github.com/pointpeft/pointpeft/dataset"
	"github.com/pointpeft/pointpeft/peft"
	"github.com/pointpeft/pointpeft/train"
)

func init() { register(newFinetuneCmd) }

// specFlags binds a run spec's settings to flags, with s's values as defaults.
func specFlags(fs *pflag.FlagSet, s *train.Spec) {
	fs.StringVar(&s.Backbone, "backbone", s.Backbone, "pre-trained backbone: an official Point-MAE/Point-BERT .pth or a pointpeft .safetensors (default: the shipped backbone)")
	fs.StringVar(&s.Data, "data", s.Data, "data source (see above)")
	fs.StringVar(&s.Method, "method", s.Method, "fine-tuning method: point-peft, full, linear, bitfit, idpt, dapt, pointgst, pointlora (pointpeft methods lists them)")
	fs.IntVar(&s.Points, "points", s.Points, "points per cloud (default: the data set's reference, 1024; ScanObjectNN 2048)")
	fs.IntVar(&s.Groups, "groups", s.Groups, "groups per cloud (default: the data set's reference, 64; ScanObjectNN 128)")
	fs.IntVar(&s.GroupSize, "group-size", s.GroupSize, "points per group (default 32)")
	fs.StringVar(&s.Bank, "bank", s.Bank, "memory bank file (point-peft); built from the training split when empty")
	modeFlag(fs, &s.PEFT.Mode, "point-peft mode: fixed (prompts get their own coordinates) or faithful (the authors' released code)")
	fs.IntVar(&s.PEFT.NumTokens, "prompts", s.PEFT.NumTokens, "point-peft prompt tokens per layer (K = prompts − 2 memory-bank features)")
	fs.BoolVar(&s.AllowPartial, "allow-partial", s.AllowPartial, "fine-tune from a file with tensors the backbone would ignore, on purpose (they are listed)")
	trainFlags(fs, &s.Train)
	fs.IntVar(&s.Train.FPSPool, "fps-pool", s.Train.FPSPool, "read clouds at this many points, reduce each training batch to them by FPS and draw --points of them at random; evaluate on the FPS of --points (0: off; a peer method's recipe sets its authors' pool, with --fps-pool-cap)")
	fs.BoolVar(&s.Train.FPSPoolCap, "fps-pool-cap", s.Train.FPSPoolCap, "lower a --fps-pool larger than the data set's clouds to their size instead of refusing it")
	fs.Float64Var(&s.Val, "val", s.Val, "hold out this fraction of the training split (stratified) for validation, which picks the best epoch; 0: none")
	fs.Uint64Var(&s.ValSeed, "val-seed", s.ValSeed, "seed of the validation split")
	fs.IntVar(&s.Train.Vote, "vote", s.Train.Vote, "evaluation views averaged (1: no voting)")
}

// checkMode refuses --mode for a method that has none (the flag's default is ignored).
func checkMode(cmd *cobra.Command, s train.Spec) error {
	if cmd.Flags().Changed("mode") && len(peft.MethodModes(peft.Method(s.Method))) == 0 {
		return usagef("method %s has no modes (--mode %s)", s.Method, s.PEFT.Mode)
	}
	return nil
}

func newFinetuneCmd() *cobra.Command {
	spec := train.DefaultSpec()
	var config, resume, out string
	var overwrite, verbose bool
	var limit time.Duration
	cmd := &cobra.Command{
		Use:   "finetune --data SOURCE [--backbone FILE] [--method point-peft]",
		Short: "fine-tune a backbone with Point-PEFT, a peer method (idpt, dapt, pointgst, pointlora), full, linear or bitfit",
		Long: `Fine-tunes a pre-trained backbone (the shipped one unless --backbone names another) on a
classification data set, evaluating on its test split every epoch. Writes to --out: config.yaml,
metrics.jsonl, train_curves.png, confusion.png, last.safetensors (resumable), best.safetensors
and, for methods that freeze the backbone, adapter.safetensors (only the trained tensors).
Points, grouping and augmentation follow the data set's reference config unless flags say
otherwise. A peer method (idpt, dapt, pointgst, pointlora) starts from its authors'
released recipe for the kind of data set (ScanObjectNN for scanobjectnn: sources,
ModelNet40 for any other) instead of the reference recipe the defaults below show;
"pointpeft methods" lists them. --config overrides the recipe, flags override both; the
resolved settings are printed as the run starts and saved in config.yaml. --resume DIR
continues a stopped run with its saved settings.

` + dataset.SourceHelp,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if resume != "" {
				if out != "" && out != resume {
					return usagef("--resume %s and --out %s name different directories", resume, out)
				}
				out, config = resume, filepath.Join(resume, "config.yaml")
			}
			s, err := layered(cmd.Flags(), config, resume == "")
			if err != nil {
				return err
			}
			spec = s
			if err := checkMode(cmd, spec); err != nil {
				return err
			}
			if out == "" {
				out = train.DefaultRunDir(spec.Method)
			}
			ctx, stop := signalContext()
			defer stop()
			res, m, err := train.Finetune(ctx, spec, train.RunOptions{Dir: out, Resume: resume != "", Overwrite: overwrite,
				TimeLimit: limit, Log: newLogger(cmd.ErrOrStderr(), verbose), Progress: progressTo(cmd)})
			if errors.Is(err, train.ErrInterrupted) {
				fmt.Fprintf(cmd.ErrOrStderr(), "stopped: %v\n", err)
			}
			if err != nil {
				return err
			}
			sum := peft.Summarize(m.Net.Params())
			var secs float64
			for _, h := range res.History {
				secs += h.Seconds
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: best test accuracy %.2f%% (mean class %.2f%%) at epoch %d; last epoch %.2f%% (mean class %.2f%%); "+
				"trainable %d of %d parameters; training time %.0fs; peak RSS %.0f MiB; files in %s\n",
				m.Method, 100*res.Best.TestAcc, 100*res.Best.MeanClassAcc, res.Best.Epoch, 100*res.Last.TestAcc, 100*res.Last.MeanClassAcc,
				sum.Trainable, sum.Total, secs, bench.PeakRSSMB(), out)
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&config, "config", "", "YAML settings: a run's config.yaml, or the authors' cfgs/finetune_*.yaml")
	fs.StringVar(&resume, "resume", "", "continue the run in this directory from its last checkpoint")
	fs.StringVar(&out, "out", "", "run directory (default runs/<method>-<time>); it must be new or empty unless --overwrite")
	fs.BoolVar(&overwrite, "overwrite", false, "replace the run files in a non-empty --out")
	fs.BoolVarP(&verbose, "verbose", "v", true, "log every epoch")
	fs.DurationVar(&limit, "time-limit", 0, "stop cleanly at the first step after this long (e.g. 2h30m), saving the state for --resume")
	specFlags(fs, &spec)
	return cmd
}

// layered is the spec of a run: the defaults, the settings file at path (if any) on
// top, and the flags given on the command line on top of both. With recipe set the
// defaults are the method's recipe for the data set (train.SpecFor), so the method and
// the data set are read from the file and the flags first; without it (a resumed run,
// whose file holds every setting) the reference ones.
func layered(given *pflag.FlagSet, path string, recipe bool) (train.Spec, error) {
	s := train.DefaultSpec()
	if err := layer(&s, given, path); err != nil || !recipe {
		return s, err
	}
	s = train.SpecFor(s.Method, s.Data)
	return s, layer(&s, given, path)
}

// layer puts the settings file at path (if any), then the given flags, onto s.
func layer(s *train.Spec, given *pflag.FlagSet, path string) error {
	if path != "" {
		if err := s.LoadFile(path); err != nil {
			return err
		}
	}
	onto := pflag.NewFlagSet("layer", pflag.ContinueOnError)
	specFlags(onto, s)
	var err error
	given.Visit(func(f *pflag.Flag) {
		if onto.Lookup(f.Name) != nil && err == nil {
			err = onto.Set(f.Name, f.Value.String())
		}
	})
	return err
}
