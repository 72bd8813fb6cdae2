package main

import (
	"fmt"
	"io"
	"math/rand/v2"

	"github.com/pointpeft/pointpeft/dataset"
	"github.com/pointpeft/pointpeft/model"
	"github.com/pointpeft/pointpeft/train"
)

func init() {
	register(command{name: "pretrain", summary: "pre-train a Point-MAE backbone (masked point modelling)", run: runPretrain})
}

// pretrainPresets are the model sizes `pretrain --preset` offers.
var pretrainPresets = map[string]func() (model.Config, model.MAEConfig){
	// The authors' ViT-S encoder: what a GPU user runs on ShapeNet-55.
	"full": func() (model.Config, model.MAEConfig) {
		return model.PointMAEPretrainConfig(), model.DefaultMAEConfig()
	},
	// The shipped backbone: 6 blocks of width 192, pre-trained in about an hour on two
	// CPU cores.
	"small": func() (model.Config, model.MAEConfig) {
		c := model.PointMAEPretrainConfig()
		c.TransDim, c.EncoderDims, c.Depth = 192, 192, 6
		c.EncoderHidden = [3]int{64, 128, 256}
		m := model.DefaultMAEConfig()
		m.DecoderDepth = 2
		return c, m
	},
}

func runPretrain(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("pretrain", "--data PATH", `Pre-trains a Point-MAE backbone by masked point modelling: 60% of the groups are hidden and
a light decoder rebuilds them (Chamfer-L2 loss). Labels are not used. Writes to --out:
config.yaml, metrics.jsonl, last.safetensors (resumable) and backbone.safetensors (the encoder,
for 'pointpeft finetune --backbone').

`+dataHelp, stderr)
	data := fs.String("data", "", "training data (its train split is used)")
	out := fs.String("out", "runs/pretrain", "run directory")
	preset := fs.String("preset", "small", "model size: small (6×192, for CPUs) or full (12×384, the authors')")
	points := fs.Int("points", 1024, "points per cloud")
	groups := fs.Int("groups", 64, "groups per cloud")
	groupSize := fs.Int("group-size", 32, "points per group")
	resume := fs.Bool("resume", false, "continue the run in --out from its last checkpoint")
	verbose := fs.Bool("v", true, "log every epoch")
	limit := fs.Duration("time-limit", 0, "stop cleanly at the first step after this long (e.g. 2h30m), saving the state for --resume")
	keep := fs.Int("keep-every", 0, "also keep the encoder of every N-th epoch as backbone-epochNNN.safetensors (0: only the last)")
	cfg := train.DefaultConfig()
	cfg.LR, cfg.Epochs, cfg.BatchSize, cfg.Schedule = 1e-3, 300, 32, "epoch"
	trainFlags(fs, &cfg)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *data == "" {
		fs.Usage()
		return fmt.Errorf("--data is required")
	}
	mk, ok := pretrainPresets[*preset]
	if !ok {
		return fmt.Errorf("unknown preset %q (small or full)", *preset)
	}
	mcfg, mae := mk()
	mcfg.NumGroup, mcfg.GroupSize = *groups, *groupSize
	ds, err := dataSpec{path: *data, numPoints: *points, shapes: dataset.DefaultShapesConfig()}.open("train")
	if err != nil {
		return err
	}
	m, err := model.NewPointMAEPretrain(mcfg, mae, rand.New(rand.NewPCG(cfg.Seed, 1)))
	if err != nil {
		return err
	}
	ctx, stop := signalContext()
	defer stop()
	run := &train.PretrainRun{Dir: *out, Cfg: cfg, Model: m, Data: ds, Log: newLogger(stderr, *verbose), Progress: stderr, Resume: *resume,
		TimeLimit: *limit, KeepEvery: *keep}
	hist, err := run.Fit(ctx)
	if err != nil {
		return err
	}
	if len(hist) > 0 {
		fmt.Fprintf(stdout, "pre-trained %d epochs; final Chamfer-L2 %.5f; backbone: %s/backbone.safetensors\n",
			len(hist), hist[len(hist)-1].TrainLoss, *out)
	}
	return nil
}
