package pointgst_test

import (
	"fmt"
	"math/rand/v2"

	"github.com/pointpeft/pointpeft/model"
	"github.com/pointpeft/pointpeft/nn"
	"github.com/pointpeft/pointpeft/peft/pointgst"
)

// A PointGST classifier on a (here tiny, normally pre-trained) Point-MAE backbone:
// New, the authors' trainable filter, one forward pass.
func Example() {
	rng := rand.New(rand.NewPCG(1, 1))
	bcfg := model.Config{Arch: "point-mae", TransDim: 12, Depth: 2, Heads: 2, MLPRatio: 2, EncoderDims: 12,
		NumGroup: 16, GroupSize: 8, Classes: 4, EncoderHidden: [3]int{8, 8, 8}, PosHidden: 8, HeadHidden: 8}
	bb, err := model.New(bcfg, rng) // then nn.LoadState(bb, pre-trained weights)
	if err != nil {
		panic(err)
	}
	m, err := pointgst.New(bb, pointgst.Config{Mode: pointgst.Fixed, Rank: 4, Local: 8}, rng)
	if err != nil {
		panic(err)
	}
	m.SetTrainable()
	trainable := 0
	for _, p := range m.Params() {
		if p.RequiresGrad() {
			trainable += p.Numel()
		}
	}
	points := make([]float32, 2*64*3)
	for i := range points {
		points[i] = float32(rng.NormFloat64())
	}
	logits, err := m.Forward(&nn.Ctx{}, points, 2, 64)
	if err != nil {
		panic(err)
	}
	// Trainable: 2 adapters of 148, the head's 340, cls token and position 24.
	fmt.Println("trainable:", trainable, "logits:", logits.Shape())
	// Output: trainable: 660 logits: [2 4]
}
