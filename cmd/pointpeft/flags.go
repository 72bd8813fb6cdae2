package main

import (
	"flag"

	"github.com/pointpeft/pointpeft/train"
)

// trainFlags binds the recipe's settings to flags, with cfg's values as defaults.
func trainFlags(fs *flag.FlagSet, cfg *train.Config) {
	fs.IntVar(&cfg.Epochs, "epochs", cfg.Epochs, "epochs")
	fs.IntVar(&cfg.BatchSize, "batch", cfg.BatchSize, "batch size")
	fs.Float64Var(&cfg.LR, "lr", cfg.LR, "peak learning rate (AdamW)")
	fs.Float64Var(&cfg.MinLR, "min-lr", cfg.MinLR, "final learning rate of the cosine schedule")
	fs.IntVar(&cfg.WarmupEpochs, "warmup", cfg.WarmupEpochs, "warm-up epochs")
	fs.Float64Var(&cfg.WeightDecay, "weight-decay", cfg.WeightDecay, "AdamW weight decay (not on biases, 1-D tensors, tokens)")
	fs.Float64Var(&cfg.ClipNorm, "clip", cfg.ClipNorm, "gradient clipping norm (0: off)")
	fs.StringVar(&cfg.Schedule, "schedule", cfg.Schedule, "lr schedule: epoch (timm, per epoch, the reference) or step (per step)")
	fs.StringVar(&cfg.Augment, "augment", cfg.Augment, "training augmentation: none, scale-translate, scan (y up), scan-z (z up)")
	fs.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "random seed (same seed, same numbers)")
	fs.IntVar(&cfg.Workers, "workers", cfg.Workers, "data loader goroutines (0: one per CPU)")
	fs.BoolVar(&cfg.Recompute, "recompute", cfg.Recompute, "recompute the Transformer's activations in the backward pass: about 30% less memory, 15% more time")
}
