package idpt_test

import (
	"fmt"
	"math/rand/v2"

	"github.com/pointpeft/pointpeft/model"
	"github.com/pointpeft/pointpeft/nn"
	"github.com/pointpeft/pointpeft/peft/idpt"
	"github.com/pointpeft/pointpeft/tensor"
	"github.com/pointpeft/pointpeft/train"
)

// A Model is what the training loop runs.
var _ train.Classifier = (*idpt.Model)(nil)

// Wrapping a backbone (here a small random one; normally pre-trained weights),
// selecting the authors' trainable set (prompt module 9·24²+8·24, cls token and
// position 2·24, head 89,359) and classifying two clouds.
func Example() {
	rng := rand.New(rand.NewPCG(1, 2))
	bb, err := model.New(model.Config{Arch: "point-mae", TransDim: 24, Depth: 3, Heads: 4, MLPRatio: 2,
		EncoderDims: 24, NumGroup: 16, GroupSize: 8, Classes: 15}, rng)
	if err != nil {
		panic(err)
	}
	cfg := idpt.ScanObjectNN()
	cfg.PromptLayer, cfg.K = 2, 4 // the last of 3 blocks; 4 of 16 tokens
	m, err := idpt.New(bb, cfg, rng)
	if err != nil {
		panic(err)
	}
	recipe := idpt.ScanObjectNNRecipe()
	trainable := 0
	for _, p := range m.Params() {
		p.SetTrainable(recipe.Trains(p.Name()))
		if p.RequiresGrad() {
			trainable += p.Numel()
		}
	}
	points := make([]float32, 2*128*3)
	for i := range points {
		points[i] = float32(rng.NormFloat64())
	}
	var logits *tensor.Tensor
	tensor.NoGrad(func() { logits, err = m.Forward(&nn.Ctx{}, points, 2, 128) })
	if err != nil {
		panic(err)
	}
	fmt.Println("trainable:", trainable, "logits:", logits.Shape(), "lr:", recipe.LR, "augment:", recipe.Augment)
	// Output: trainable: 94783 logits: [2 15] lr: 0.0005 augment: rotate-y
}
