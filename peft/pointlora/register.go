package pointlora

import (
	"math/rand/v2"

	"github.com/pointpeft/pointpeft/model"
	"github.com/pointpeft/pointpeft/peft"
)

// MethodName is PointLoRA's --method name.
const MethodName peft.Method = "pointlora"

// Importing this package registers PointLoRA with peft (fixed mode by default: the
// released prompt-MLP range only differs on backbones with fewer than 128 groups).
func init() {
	peft.RegisterMethod(peft.MethodSpec{
		Name:    MethodName,
		Summary: "PointLoRA (CVPR 2025): LoRA on the attention projections with prompt MLPs and multi-scale token selection",
		Modes:   []peft.Mode{peft.Fixed, peft.Faithful},
		New: func(bb *model.PointTransformer, mode peft.Mode, rng *rand.Rand) (peft.Classifier, error) {
			cfg := ScanObjectNN()
			cfg.Mode = mode
			return New(bb, cfg, rng)
		},
		Trains: Trains,
		Recipe: recipeFor,
	})
}

// recipeFor is the registered recipe: RecipeScanObjectNN for ScanObjectNN, the only
// configuration the authors released. RecipeModelNet40 is Point-MAE's, not theirs,
// so ModelNet40 keeps the reference recipe.
func recipeFor(kind peft.DataKind) (peft.Recipe, bool) {
	if kind != peft.ScanObjectNNKind {
		return peft.Recipe{}, false
	}
	r := RecipeScanObjectNN()
	return peft.Recipe{Source: "PointLoRA's cfgs/finetune_scan_hardest_pointlora.yaml", Epochs: r.Epochs,
		BatchSize: r.BatchSize, WarmupEpochs: r.WarmupEpochs, LR: r.LR, MinLR: r.MinLR, WarmupLR: r.WarmupLR,
		WeightDecay: r.WeightDecay, ClipNorm: r.ClipNorm, Schedule: "epoch", Augment: r.Augment, Vote: 1,
		Points: r.Points, Groups: r.Backbone.NumGroup, GroupSize: r.Backbone.GroupSize, FPSPool: r.FPSPool}, true
}
