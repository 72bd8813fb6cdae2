package train

import (
	"fmt"
	"math/rand/v2"
	"sort"

	"github.com/pointpeft/pointpeft/dataset"
	"github.com/pointpeft/pointpeft/geom"
	"github.com/pointpeft/pointpeft/nn"
)

// Config is a fine-tuning recipe. DefaultConfig is the reference's (spec §6).
type Config struct {
	Epochs       int     `yaml:"epochs" json:"epochs"`
	BatchSize    int     `yaml:"batch_size" json:"batch_size"`
	LR           float64 `yaml:"lr" json:"lr"`
	MinLR        float64 `yaml:"min_lr" json:"min_lr"`
	WarmupEpochs int     `yaml:"warmup_epochs" json:"warmup_epochs"`
	WarmupLR     float64 `yaml:"warmup_lr" json:"warmup_lr"`
	WeightDecay  float64 `yaml:"weight_decay" json:"weight_decay"`
	ClipNorm     float64 `yaml:"clip_norm" json:"clip_norm"`
	Smoothing    float32 `yaml:"label_smoothing" json:"label_smoothing"`
	// Schedule is "epoch" (timm's per-epoch cosine, the reference) or "step" (a
	// per-step cosine over the whole run, for short runs).
	Schedule string `yaml:"schedule" json:"schedule"`
	// Augment names the training augmentation (see Augmentations).
	Augment string `yaml:"augment" json:"augment"`
	// FPSPool, when positive, is the training-time resampling of the peer methods'
	// runners: the clouds are read at FPSPool points (the first stored ones, never
	// filled up by resampling), each training batch is reduced by FPS to FPSPool points
	// and the model's points (Spec.Points) are drawn from them at random
	// (geom.PoolSample), before Augment; evaluation takes the FPS of the model's points.
	// With clouds of exactly FPSPool points the FPS only reorders them, and the draw is
	// a random subset. A data set whose clouds hold fewer points is an error, unless
	// FPSPoolCap lowers the pool to their size. 0: off, clouds are read at the model's
	// points.
	FPSPool int `yaml:"fps_pool" json:"fps_pool"`
	// FPSPoolCap lowers an FPSPool larger than the data set's clouds to their size, as
	// the authors' runners do (point_all = points.size(1)); a run's saved settings show
	// the pool it used.
	FPSPoolCap bool `yaml:"fps_pool_cap" json:"fps_pool_cap"`
	// Vote is the number of augmented views averaged at evaluation (1: none).
	Vote      int    `yaml:"vote" json:"vote"`
	Seed      uint64 `yaml:"seed" json:"seed"`
	Workers   int    `yaml:"workers" json:"workers"`
	EvalBatch int    `yaml:"eval_batch" json:"eval_batch"`
	// Recompute is which Transformer activations the backward pass recomputes instead
	// of keeping: memory for time (nn.Recompute; DefaultConfig: the MLP's hidden layer).
	Recompute nn.Recompute `yaml:"recompute" json:"recompute"`
}

// DefaultConfig is the reference recipe: AdamW lr 5e-4, weight decay 0.05, 300 epochs
// with a 10-epoch warm-up from 1e-6 and cosine to 1e-6 stepped per epoch, batch 32,
// gradient clipping at norm 10, no label smoothing, no voting; the MLP's hidden layer is
// recomputed in the backward pass (nn.RecomputeMLP).
func DefaultConfig() Config {
	return Config{Epochs: 300, BatchSize: 32, LR: 5e-4, MinLR: 1e-6, WarmupEpochs: 10, WarmupLR: 1e-6,
		WeightDecay: 0.05, ClipNorm: 10, Schedule: "epoch", Augment: "scale-translate", Vote: 1, EvalBatch: 64,
		Recompute: nn.RecomputeMLP}
}

// Validate reports the first unusable setting.
func (c Config) Validate() error {
	switch {
	case c.Epochs < 1:
		return fmt.Errorf("train config: epochs %d, want >= 1", c.Epochs)
	case c.BatchSize < 2:
		return fmt.Errorf("train config: batch size %d, want >= 2 (BatchNorm needs two samples)", c.BatchSize)
	case !finite(c.LR, c.MinLR, c.WarmupLR, c.WeightDecay, c.ClipNorm):
		return fmt.Errorf("train config: lr %g, min lr %g, warm-up lr %g, weight decay %g, clip %g: each must be a finite number",
			c.LR, c.MinLR, c.WarmupLR, c.WeightDecay, c.ClipNorm)
	case c.LR <= 0 || c.MinLR < 0 || c.WarmupLR < 0 || c.WeightDecay < 0 || c.ClipNorm < 0:
		return fmt.Errorf("train config: learning rates, weight decay and clip norm must be positive")
	case c.Schedule != "epoch" && c.Schedule != "step":
		return fmt.Errorf("train config: schedule %q is neither epoch nor step", c.Schedule)
	case c.WarmupEpochs < 0 || (c.Schedule == "step" && c.WarmupEpochs >= c.Epochs):
		return fmt.Errorf("train config: %d warm-up epochs leave no room in %d epochs", c.WarmupEpochs, c.Epochs)
	case c.Workers < 0 || c.EvalBatch < 1:
		return fmt.Errorf("train config: %d workers, eval batch %d", c.Workers, c.EvalBatch)
	case c.Vote < 1:
		return fmt.Errorf("train config: vote %d, want >= 1", c.Vote)
	case c.Smoothing < 0 || c.Smoothing >= 1:
		return fmt.Errorf("train config: label smoothing %g outside [0,1)", c.Smoothing)
	case c.FPSPool < 0:
		return fmt.Errorf("train config: fps_pool %d, want 0 (off) or a number of points", c.FPSPool)
	}
	if _, ok := Augmentations[c.Augment]; !ok {
		return fmt.Errorf("train config: unknown augmentation %q (known: %v)", c.Augment, AugmentationNames())
	}
	return nil
}

// Augmentations are the training augmentations by name. Each edits a batch in place.
var Augmentations = map[string]dataset.Transform{
	"none": func([]float32, int, int, *rand.Rand) {},
	// Point-MAE's ModelNet40 recipe: per-sample anisotropic scale U(2/3, 3/2)³ and
	// translation U(−0.2, 0.2)³.
	"scale-translate": func(p []float32, b, n int, rng *rand.Rand) {
		must(geom.ScaleTranslate(p, b, n, geom.ScaleLow, geom.ScaleHigh, geom.TranslateRange, rng))
	},
	// Point-PEFT's ScanObjectNN recipe: scale U(0.9, 1.1)³ per sample, then one rotation
	// about the up axis (y in ScanObjectNN) by U(−π, π) for the whole batch.
	"scan": func(p []float32, b, n int, rng *rand.Rand) {
		must(geom.Scale(p, b, n, geom.MildScaleLow, geom.MildScaleHigh, rng))
		_, err := geom.RotateUp(p, b, n, geom.AxisY, false, rng)
		must(err)
	},
	// The same with z up (ModelNet40 and the procedural shapes), one angle per sample as
	// ACT/ReCon do (a declared deviation from the per-batch angle).
	"scan-z": func(p []float32, b, n int, rng *rand.Rand) {
		must(geom.Scale(p, b, n, geom.MildScaleLow, geom.MildScaleHigh, rng))
		_, err := geom.RotateUp(p, b, n, geom.AxisZ, true, rng)
		must(err)
	},
	// IDPT's ScanObjectNN recipe: PointcloudRotate (from ACT), one angle per cloud about
	// the y axis and nothing else. Their U(0, 2π) and RotateUp's U(−π, π) are the same
	// rotations.
	"rotate-y": func(p []float32, b, n int, rng *rand.Rand) {
		_, err := geom.RotateUp(p, b, n, geom.AxisY, true, rng)
		must(err)
	},
}

// AugmentationNames lists Augmentations' keys in order.
func AugmentationNames() []string {
	var names []string
	for k := range Augmentations {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// must panics on errors the augmentations cannot get from a well-formed batch (the
// loader checked sizes; coordinates were checked when read).
func must(err error) {
	if err != nil {
		panic(fmt.Sprintf("augmentation on a well-formed batch: %v", err))
	}
}
