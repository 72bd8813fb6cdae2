package idpt

import (
	"math/rand/v2"

	"github.com/pointpeft/pointpeft/model"
	"github.com/pointpeft/pointpeft/peft"
)

// MethodName is IDPT's --method name.
const MethodName peft.Method = "idpt"

// Importing this package registers IDPT with peft. The prompt enters before the last
// block, as the authors' prompt_layer 11 of 12 does, whatever the backbone's depth.
func init() {
	peft.RegisterMethod(peft.MethodSpec{
		Name:    MethodName,
		Summary: "IDPT (ICCV 2023): an instance-aware prompt from a DGCNN module before the last block, and the head",
		New: func(bb *model.PointTransformer, _ peft.Mode, rng *rand.Rand) (peft.Classifier, error) {
			cfg := ScanObjectNN()
			cfg.PromptLayer = bb.Cfg.Depth - 1
			return New(bb, cfg, rng)
		},
		Trains: Trains,
		Recipe: recipeFor,
	})
}

// recipeFor is the registered recipe for a kind of data set: ScanObjectNNRecipe or
// ModelNet40Recipe, with timm's per-epoch schedule and no voting as Recipe describes.
func recipeFor(kind peft.DataKind) (peft.Recipe, bool) {
	var r Recipe
	var src string
	switch kind {
	case peft.ScanObjectNNKind:
		r, src = ScanObjectNNRecipe(), "IDPT's cfgs/finetune_scan_*_idpt.yaml"
	case peft.ModelNet40Kind:
		r, src = ModelNet40Recipe(), "IDPT's cfgs/finetune_modelnet_idpt.yaml"
	default:
		return peft.Recipe{}, false
	}
	return peft.Recipe{Source: src, Epochs: r.Epochs, BatchSize: r.BatchSize, WarmupEpochs: r.WarmupEpochs, LR: r.LR,
		MinLR: r.MinLR, WarmupLR: r.WarmupLR, WeightDecay: r.WeightDecay, ClipNorm: r.ClipNorm, Schedule: "epoch",
		Augment: r.Augment, Vote: 1, Points: r.Points, FPSPool: r.FPSPool}, true
}
