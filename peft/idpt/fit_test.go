package idpt

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/pointpeft/pointpeft/dataset"
	"github.com/pointpeft/pointpeft/model"
	"github.com/pointpeft/pointpeft/nn"
	"github.com/pointpeft/pointpeft/optim"
	"github.com/pointpeft/pointpeft/tensor"
)

// TestFitsABatchWithTheBackboneFrozen trains a small IDPT model with the recipe's
// optimiser on one batch of procedural shapes: the loss must fall well below its
// start, the trainable set must move, and every other tensor (the backbone, and
// prompt_pos as in the authors' runs) must stay bit for bit as it was.
func TestFitsABatchWithTheBackboneFrozen(t *testing.T) {
	shapes, err := dataset.NewShapes(dataset.ShapesConfig{Seed: 3, Train: 12, NumPoints: 128}, "train")
	if err != nil {
		t.Fatal(err)
	}
	var points []float32
	var labels []int
	for i := 0; i < shapes.Len(); i++ {
		s, err := shapes.Get(i)
		if err != nil {
			t.Fatal(err)
		}
		points, labels = append(points, s.Points...), append(labels, s.Label)
	}
	rng := rand.New(rand.NewPCG(4, 4))
	bb, err := model.New(model.Config{Arch: "point-mae", TransDim: 24, Depth: 3, Heads: 4, MLPRatio: 2,
		EncoderDims: 24, NumGroup: 16, GroupSize: 8, Classes: len(shapes.Classes()), DropPath: 0.1, HeadDropout: 0.5,
		EncoderHidden: [3]int{16, 16, 32}, PosHidden: 16, HeadHidden: 32}, rng)
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(bb, Config{PromptLayer: 2, K: 4}, rng)
	if err != nil {
		t.Fatal(err)
	}
	recipe := ScanObjectNNRecipe()
	before := map[string][]float32{}
	for _, p := range m.Params() {
		p.SetTrainable(recipe.Trains(p.Name()))
		before[p.Name()] = slices.Clone(p.Data)
	}
	opt, err := optim.NewAdamW(optim.ParamGroups(m.Params(), recipe.WeightDecay))
	if err != nil {
		t.Fatal(err)
	}
	var first, last float32
	for step := 0; step < 100; step++ {
		ctx := &nn.Ctx{Train: true, RNG: rand.New(rand.NewPCG(9, uint64(step)))}
		logits, err := m.Forward(ctx, points, len(labels), 128)
		if err != nil {
			t.Fatal(err)
		}
		loss := tensor.CrossEntropy(logits, labels, 0)
		tensor.Backward(loss)
		optim.ClipGradNorm(m.Params(), recipe.ClipNorm)
		if err := opt.Step(1e-2); err != nil {
			t.Fatal(err)
		}
		for _, p := range m.Params() {
			p.ZeroGrad()
		}
		if step == 0 {
			first = loss.Item()
		}
		last = loss.Item()
	}
	t.Logf("loss %.3f -> %.3f", first, last)
	if !(last < 0.3*first) {
		t.Errorf("loss %.3f after 100 steps from %.3f: IDPT does not fit one batch", last, first)
	}
	for _, p := range m.Params() {
		moved := !slices.Equal(p.Data, before[p.Name()])
		if moved != Trains(p.Name()) {
			t.Errorf("%s: changed %v, trainable %v", p.Name(), moved, Trains(p.Name()))
		}
	}
}
