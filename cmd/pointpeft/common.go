package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/pointpeft/pointpeft/peft"
	"github.com/pointpeft/pointpeft/train"
)

// signalContext is cancelled by the first Ctrl-C (or SIGTERM); a second one kills.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// quiet is the root's --quiet: no progress display and no per-epoch log lines.
var quiet bool

// progressTo is where a command's progress goes: stderr (a bar on a terminal, plain
// lines in a log), or nowhere with --quiet.
func progressTo(cmd *cobra.Command) io.Writer {
	if quiet {
		return nil
	}
	return cmd.ErrOrStderr()
}

// newLogger logs through slog as text to w; with verbose off or --quiet, only warnings.
func newLogger(w io.Writer, verbose bool) *slog.Logger {
	level := slog.LevelInfo
	if !verbose || quiet {
		level = slog.LevelWarn
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

// trainFlags binds the recipe's settings to flags, with cfg's values as defaults.
func trainFlags(fs *pflag.FlagSet, cfg *train.Config) {
	fs.IntVar(&cfg.Epochs, "epochs", cfg.Epochs, "epochs")
	fs.IntVar(&cfg.BatchSize, "batch", cfg.BatchSize, "batch size")
	fs.Float64Var(&cfg.LR, "lr", cfg.LR, "peak learning rate (AdamW)")
	fs.Float64Var(&cfg.MinLR, "min-lr", cfg.MinLR, "final learning rate of the cosine schedule")
	fs.IntVar(&cfg.WarmupEpochs, "warmup", cfg.WarmupEpochs, "warm-up epochs (clamped to a tenth of the run when they take more than half of it)")
	fs.Float64Var(&cfg.WeightDecay, "weight-decay", cfg.WeightDecay, "AdamW weight decay (not on biases, 1-D tensors, tokens)")
	fs.Float64Var(&cfg.ClipNorm, "clip", cfg.ClipNorm, "gradient clipping norm (0: off)")
	fs.StringVar(&cfg.Schedule, "schedule", cfg.Schedule, "lr schedule: epoch (timm, per epoch, the reference) or step (per step)")
	fs.StringVar(&cfg.Augment, "augment", cfg.Augment, "training augmentation: none, scale-translate, scan (y up), scan-z (z up), rotate-y (a random angle about y per cloud) (default: the data set's reference)")
	fs.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "random seed (same seed, same numbers)")
	fs.IntVar(&cfg.Workers, "workers", cfg.Workers, "data loader goroutines (0: one per CPU)")
	fs.Var(&cfg.Recompute, "recompute", "Transformer activations recomputed in the backward pass instead of kept: none; mlp, the MLP's hidden layer (20% less memory, about 6% more time); all, both branches (30% less memory, about 12% more time)")
}

// modeFlag binds a Point-PEFT mode.
func modeFlag(fs *pflag.FlagSet, m *peft.Mode, help string) {
	fs.StringVar((*string)(m), "mode", string(*m), help)
}
