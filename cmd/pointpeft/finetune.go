package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/pointpeft/pointpeft/bench"
	"github.com/pointpeft/pointpeft/dataset"
	"github.com/pointpeft/pointpeft/peft"
	"github.com/pointpeft/pointpeft/train"
)

func init() {
	register(command{name: "finetune", summary: "fine-tune a backbone with Point-PEFT, full, linear or bitfit", run: runFinetune})
}

type runSpec = train.Spec

func defaultSpec() runSpec {
	s := train.DefaultSpec()
	s.Points, s.Groups, s.GroupSize, s.Train.Augment = 1024, 64, 32, "scale-translate"
	return s
}

func loadSpecFile(path string, spec *runSpec) error { return spec.LoadFile(path) }

// flagValue finds "--name V" or "--name=V" in args before flag parsing.
func flagValue(args []string, name string) string {
	for i, a := range args {
		a = strings.TrimLeft(a, "-")
		if a == name && i+1 < len(args) {
			return args[i+1]
		}
		if strings.HasPrefix(a, name+"=") {
			return strings.TrimPrefix(a, name+"=")
		}
	}
	return ""
}

func specFlags(fs *flag.FlagSet, s *runSpec) (mode *string) {
	fs.StringVar(&s.Backbone, "backbone", s.Backbone, "pre-trained backbone: an official Point-MAE/Point-BERT .pth or a pointpeft .safetensors")
	fs.StringVar(&s.Data, "data", s.Data, "data set (see above)")
	fs.StringVar(&s.Method, "method", s.Method, "point-peft, full, linear or bitfit")
	fs.IntVar(&s.Points, "points", s.Points, "points per cloud")
	fs.IntVar(&s.Groups, "groups", s.Groups, "groups per cloud (64 for 1024 points, 128 for 2048)")
	fs.IntVar(&s.GroupSize, "group-size", s.GroupSize, "points per group")
	fs.StringVar(&s.Bank, "bank", s.Bank, "memory bank file (point-peft); built from the training split when empty")
	m := string(s.PEFT.Mode)
	mode = &m
	fs.StringVar(mode, "mode", m, "point-peft mode: fixed (prompts get their own coordinates) or faithful (the authors' released code)")
	fs.IntVar(&s.PEFT.NumTokens, "prompts", s.PEFT.NumTokens, "point-peft prompt tokens per layer (K = prompts − 2 memory-bank features)")
	trainFlags(fs, &s.Train)
	fs.IntVar(&s.Train.Vote, "vote", s.Train.Vote, "evaluation views averaged (1: no voting)")
	return mode
}

func runFinetune(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("finetune", "--backbone FILE --data PATH [--method point-peft]", `Fine-tunes a pre-trained backbone on a classification data set, evaluating on its test split
every epoch. Writes to --out: config.yaml, metrics.jsonl, train_curves.png, confusion.png,
last.safetensors (resumable), best.safetensors and, for methods that freeze the backbone,
adapter.safetensors (only the trained tensors). Flags override --config; --resume DIR
continues a stopped run with its saved settings.

`+dataHelp, stderr)
	spec := defaultSpec()
	resume := flagValue(args, "resume")
	cfgPath := flagValue(args, "config")
	if resume != "" {
		cfgPath = filepath.Join(resume, "config.yaml")
	}
	if cfgPath != "" {
		if err := loadSpecFile(cfgPath, &spec); err != nil {
			return err
		}
	}
	fs.String("config", "", "YAML settings: a run's config.yaml, or the authors' cfgs/finetune_*.yaml")
	fs.String("resume", "", "continue the run in this directory from its last checkpoint")
	out := fs.String("out", "", "run directory (default runs/<method>-<time>)")
	verbose := fs.Bool("v", true, "log every epoch")
	limit := fs.Duration("time-limit", 0, "stop cleanly at the first step after this long (e.g. 2h30m), saving the state for --resume")
	mode := specFlags(fs, &spec)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	spec.PEFT.Mode = peft.Mode(*mode)
	if resume != "" {
		*out = resume
	}
	if *out == "" {
		*out = filepath.Join("runs", spec.Method)
	}
	ctx, stop := signalContext()
	defer stop()
	res, m, err := finetune(ctx, spec, *out, resume != "", *limit, stdout, stderr, *verbose)
	if err != nil {
		if errors.Is(err, train.ErrInterrupted) {
			fmt.Fprintf(stderr, "stopped: %v\n", err)
		}
		return err
	}
	sum := peft.Summarize(m.Net.Params())
	var secs float64
	for _, h := range res.History {
		secs += h.Seconds
	}
	fmt.Fprintf(stdout, "%s: best test accuracy %.2f%% (mean class %.2f%%) at epoch %d; last epoch %.2f%% (mean class %.2f%%); "+
		"trainable %d of %d parameters; training time %.0fs; peak RSS %.0f MiB; files in %s\n",
		m.Method, 100*res.Best.TestAcc, 100*res.Best.MeanClassAcc, res.Best.Epoch, 100*res.Last.TestAcc, 100*res.Last.MeanClassAcc,
		sum.Trainable, sum.Total, secs, bench.PeakRSSMB(), *out)
	return nil
}

// finetune builds the model a spec describes and runs it.
func finetune(ctx context.Context, spec runSpec, out string, resume bool, limit time.Duration, stdout, stderr io.Writer, verbose bool) (*train.Result, *train.Model, error) {
	if spec.Backbone == "" || spec.Data == "" {
		return nil, nil, fmt.Errorf("--backbone and --data are required")
	}
	if err := spec.Train.Validate(); err != nil {
		return nil, nil, err
	}
	ds := dataSpec{path: spec.Data, numPoints: spec.Points, shapes: dataset.DefaultShapesConfig()}
	trainSet, err := ds.open("train")
	if err != nil {
		return nil, nil, err
	}
	testSet, err := ds.open("test")
	if err != nil {
		return nil, nil, err
	}
	log := newLogger(stderr, verbose)
	resumeDir := ""
	if resume {
		resumeDir = out
	}
	m, err := buildModel(spec, trainSet, resumeDir, log, stderr)
	if err != nil {
		return nil, nil, err
	}
	run := &train.Run{Dir: out, Cfg: spec.Train, Model: m, Train: trainSet, Test: testSet, Log: log, Progress: stderr,
		Resume: resume, Spec: &spec, TimeLimit: limit}
	res, err := run.Fit(ctx)
	return res, m, err
}
