package pointlora_test

import (
	"fmt"
	"math/rand/v2"

	"github.com/pointpeft/pointpeft/model"
	"github.com/pointpeft/pointpeft/nn"
	"github.com/pointpeft/pointpeft/peft/pointlora"
	"github.com/pointpeft/pointpeft/tensor"
)

// Fine-tuning with PointLoRA: build the backbone of the recipe (load the pre-trained
// Point-MAE weights into it with nn.LoadState), wrap it, freeze what the authors freeze,
// and train with the recipe's optimiser and schedule. Here a small random backbone
// stands in for ViT-S.
func Example() {
	recipe := pointlora.RecipeScanObjectNN()
	bcfg := recipe.Backbone
	bcfg.TransDim, bcfg.EncoderDims, bcfg.Depth, bcfg.Heads = 48, 48, 2, 4
	bcfg.NumGroup, bcfg.GroupSize = 16, 8
	rng := rand.New(rand.NewPCG(1, 2))
	bb, err := model.New(bcfg, rng)
	if err != nil {
		panic(err)
	}
	cfg := pointlora.ScanObjectNN()
	cfg.Scales = [2]pointlora.Scale{{Groups: 16, GroupSize: 8, Keep: 4}, {Groups: 8, GroupSize: 16, Keep: 2}}
	m, err := pointlora.New(bb, cfg, rng)
	if err != nil {
		panic(err)
	}
	m.SetTrainable() // pointlora.Trains on every name

	const b, n = 2, 128
	pts := make([]float32, b*n*3)
	for i := range pts {
		pts[i] = float32(rng.NormFloat64())
	}
	ctx := &nn.Ctx{Train: true, RNG: rng}
	logits, err := m.Forward(ctx, pts, b, n)
	if err != nil {
		panic(err)
	}
	// The loop's loss of the logits; the mask loss rides along (tensor.WithLoss).
	tensor.Backward(tensor.CrossEntropy(logits, []int{3, 7}, 0))

	// For inference, fold the LoRA updates into the frozen projections.
	m.Merge()
	fmt.Println("logits", logits.Shape())
	fmt.Printf("AdamW lr %g, weight decay %g, %d epochs (%d warm-up), batch %d, %s\n",
		recipe.LR, recipe.WeightDecay, recipe.Epochs, recipe.WarmupEpochs, recipe.BatchSize, recipe.Augment)
	// Output:
	// logits [2 15]
	// AdamW lr 0.0005, weight decay 0.05, 300 epochs (10 warm-up), batch 32, scale-translate
}
