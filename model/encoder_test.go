package model_test

import (
	"math/rand/v2"
	"testing"

	"github.com/pointpeft/pointpeft/model"
	"github.com/pointpeft/pointpeft/nn"
	"github.com/pointpeft/pointpeft/tensor"
)

// TestFrozenEncoderMatchesRecordedPass: the gradient-free encoder pass (in-place
// BatchNorm+ReLU, chunked last layer) gives the recorded pass's tokens and, in
// training, its BatchNorm running statistics, inside an arena step too.
func TestFrozenEncoderMatchesRecordedPass(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	nb := tensor.New(40, 32, 3)
	for i := range nb.Data {
		nb.Data[i] = float32(rng.NormFloat64() * 0.1)
	}
	for _, train := range []bool{true, false} {
		recorded := model.NewEncoder("encoder", [3]int{128, 256, 512}, 384, rand.New(rand.NewPCG(4, 4)))
		frozen := model.NewEncoder("encoder", [3]int{128, 256, 512}, 384, rand.New(rand.NewPCG(4, 4)))
		for _, p := range frozen.Params() {
			p.SetTrainable(false)
		}
		ctx := &nn.Ctx{Train: train}
		want := recorded.Forward(ctx, nb)
		if !want.RequiresGrad() {
			t.Fatal("the trainable encoder recorded no graph")
		}
		var got []float32
		tensor.NewArena().Step(func() { got = append(got, frozen.Forward(ctx, nb).Data...) })
		relClose(t, "frozen encoder tokens", got, want.Data, 1e-5)
		for i, bn := range frozen.BatchNorms() {
			relClose(t, "running mean", bn.State.Mean, recorded.BatchNorms()[i].State.Mean, 1e-6)
			relClose(t, "running var", bn.State.Var, recorded.BatchNorms()[i].State.Var, 1e-6)
		}
	}
}
