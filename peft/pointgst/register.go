package pointgst

import (
	"math/rand/v2"

	"github.com/pointpeft/pointpeft/model"
	"github.com/pointpeft/pointpeft/peft"
)

// MethodName is PointGST's --method name.
const MethodName peft.Method = "pointgst"

// Importing this package registers PointGST with peft (fixed mode by default: each
// cloud is classified on its own).
func init() {
	peft.RegisterMethod(peft.MethodSpec{
		Name:    MethodName,
		Summary: "PointGST (TPAMI 2025): spectral adapters over graph Fourier bases of the token neighbourhoods",
		Modes:   []peft.Mode{peft.Fixed, peft.Faithful},
		New: func(bb *model.PointTransformer, mode peft.Mode, rng *rand.Rand) (peft.Classifier, error) {
			return New(bb, ScanObjectNN(mode), rng)
		},
		Trains: Trains,
		Recipe: recipeFor,
	})
}

// recipeFor is the registered recipe for a kind of data set: ScanObjectNNRecipe or
// ModelNet40Recipe, whose training settings are the same in both modes.
func recipeFor(kind peft.DataKind) (peft.Recipe, bool) {
	var r Recipe
	var src string
	switch kind {
	case peft.ScanObjectNNKind:
		r, src = ScanObjectNNRecipe(Fixed), "PointGST's cfgs/mae/finetune_scan_hardest_pgst.yaml"
	case peft.ModelNet40Kind:
		r, src = ModelNet40Recipe(Fixed), "PointGST's cfgs/mae/finetune_modelnet_pgst.yaml"
	default:
		return peft.Recipe{}, false
	}
	return peft.Recipe{Source: src, Epochs: r.Epochs, BatchSize: r.BatchSize, WarmupEpochs: r.WarmupEpochs, LR: r.LR,
		MinLR: r.MinLR, WarmupLR: r.WarmupLR, WeightDecay: r.WeightDecay, ClipNorm: r.ClipNorm, Schedule: r.Schedule,
		Augment: r.Augment, Vote: r.Vote, Points: r.Points, Groups: r.Backbone.NumGroup, GroupSize: r.Backbone.GroupSize,
		FPSPool: r.FPSPool}, true
}
