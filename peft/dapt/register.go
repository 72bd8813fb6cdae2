package dapt

import (
	"math/rand/v2"

	"github.com/pointpeft/pointpeft/model"
	"github.com/pointpeft/pointpeft/peft"
)

// MethodName is DAPT's --method name.
const MethodName peft.Method = "dapt"

// Importing this package registers DAPT with peft. Its two released configurations
// differ with the data set; the model takes the one of the backbone's grouping
// (ConfigFor), training the recipe of the data set's kind, whose grouping agrees.
func init() {
	peft.RegisterMethod(peft.MethodSpec{
		Name:    MethodName,
		Summary: "DAPT (CVPR 2024): dynamic adapters with a per-token scale and internal prompts in every block",
		New: func(bb *model.PointTransformer, _ peft.Mode, rng *rand.Rand) (peft.Classifier, error) {
			return New(bb, ConfigFor(bb.Cfg.NumGroup), rng)
		},
		Trains: Trains,
		Recipe: recipeFor,
	})
}

// recipeFor is the registered recipe for a kind of data set: ScanObjectNNRecipe (the
// PB_T50_RS one: OBJ_BG and OBJ_ONLY differ only in the model's dropout) or
// ModelNet40Recipe.
func recipeFor(kind peft.DataKind) (peft.Recipe, bool) {
	var r Recipe
	var src string
	switch kind {
	case peft.ScanObjectNNKind:
		r, src = ScanObjectNNRecipe(), "DAPT's cfgs/finetune_scan_hardest_dapt.yaml"
	case peft.ModelNet40Kind:
		r, src = ModelNet40Recipe(), "DAPT's cfgs/finetune_modelnet_dapt.yaml"
	default:
		return peft.Recipe{}, false
	}
	return peft.Recipe{Source: src, Epochs: r.Epochs, BatchSize: r.BatchSize, WarmupEpochs: r.WarmupEpochs, LR: r.LR,
		MinLR: r.MinLR, WarmupLR: r.WarmupLR, WeightDecay: r.WeightDecay, ClipNorm: r.ClipNorm, Schedule: r.Schedule,
		Smoothing: r.Smoothing, Augment: r.Augment, Vote: r.Vote, Points: r.Points, Groups: r.NumGroup,
		GroupSize: r.GroupSize, FPSPool: r.FPSPool}, true
}
