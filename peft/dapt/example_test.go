package dapt_test

import (
	"fmt"
	"math/rand/v2"

	"github.com/pointpeft/pointpeft/model"
	"github.com/pointpeft/pointpeft/nn"
	"github.com/pointpeft/pointpeft/peft/dapt"
	"github.com/pointpeft/pointpeft/tensor"
)

// A DAPT model on a backbone, its trainable share, and one forward pass. A real run
// builds model.PointMAE(recipe.Classes, recipe.NumGroup, recipe.GroupSize), loads the
// pre-trained weights into it, and trains with the recipe's settings.
func Example() {
	recipe := dapt.ScanObjectNNRecipe()
	rng := rand.New(rand.NewPCG(1, 2))
	bcfg := model.PointMAE(recipe.Classes, 16, 8) // a small backbone for the example
	bcfg.TransDim, bcfg.EncoderDims, bcfg.Depth, bcfg.Heads = 48, 48, 2, 4
	bb, err := model.New(bcfg, rng)
	if err != nil {
		panic(err)
	}
	m, err := dapt.New(bb, recipe.Model, rng)
	if err != nil {
		panic(err)
	}
	var trainable, total int
	for _, p := range m.Params() {
		total += p.Numel()
		if p.RequiresGrad() { // dapt.Trains(p.Name()), set by New
			trainable += p.Numel()
		}
	}
	fmt.Printf("trainable %d of %d\n", trainable, total)

	const b, n = 2, 256
	points := make([]float32, b*n*3)
	for i := range points {
		points[i] = float32(rng.NormFloat64())
	}
	var logits *tensor.Tensor
	tensor.NoGrad(func() { logits, err = m.Forward(&nn.Ctx{}, points, b, n) })
	if err != nil {
		panic(err)
	}
	fmt.Println("logits", logits.Shape())
	// Output:
	// trainable 123185 of 508337
	// logits [2 15]
}
