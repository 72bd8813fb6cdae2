package pointlora

import (
	"math/rand/v2"
	"testing"

	"github.com/pointpeft/pointpeft/dataset"
	"github.com/pointpeft/pointpeft/nn"
	"github.com/pointpeft/pointpeft/optim"
	"github.com/pointpeft/pointpeft/tensor"
)

// TestTrainingFitsABatch trains the authors' trainable set of a small PointLoRA on a
// frozen random backbone with the recipe's optimiser (AdamW, its parameter groups,
// clipping) and checks that it learns 12 procedural shapes of 4 classes: the loss
// falls below a tenth of its start and the last step gets every shape right. (Train
// mode: in evaluation the encoder's BatchNorm uses running statistics mixed from its
// three groupings, as the authors' model does, which a 100-step run does not settle.)
func TestTrainingFitsABatch(t *testing.T) {
	m, _, _, _ := small(t, ScanObjectNN())
	m.SetTrainable()
	const b, n = 12, 64
	shapes, err := dataset.NewShapes(dataset.ShapesConfig{Seed: 3, Train: b, NumPoints: n, Noise: 0.01}, "train")
	if err != nil {
		t.Fatal(err)
	}
	var pts []float32
	labels := make([]int, b)
	for i := range b {
		s, err := shapes.Get(i)
		if err != nil {
			t.Fatal(err)
		}
		pts = append(pts, s.Points...)
		labels[i] = i % 4 // four classes, three shapes each: learnable only by memorising
	}
	r := RecipeScanObjectNN()
	opt, err := optim.NewAdamW(optim.ParamGroups(m.Params(), r.WeightDecay))
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(4, 4))
	var first, last float32
	right := 0
	for step := range 100 {
		logits, err := m.Forward(&nn.Ctx{Train: true, RNG: rng}, pts, b, n)
		if err != nil {
			t.Fatal(err)
		}
		loss := tensor.CrossEntropy(logits, labels, 0)
		if step == 0 {
			first = loss.Item()
		}
		last = loss.Item()
		right = correct(logits, labels) // before Backward, which drops the logits
		tensor.Backward(loss)
		optim.ClipGradNorm(m.Params(), r.ClipNorm)
		if err := opt.Step(3e-3); err != nil {
			t.Fatal(err)
		}
		for _, p := range m.Params() {
			p.ZeroGrad()
		}
	}
	if last > first/10 || right != b {
		t.Errorf("loss %.3f → %.3f, %d of %d right after 100 steps", first, last, right, b)
	}
}

func correct(logits *tensor.Tensor, labels []int) int {
	right, c := 0, logits.Dim(1)
	for i, l := range labels {
		best := 0
		for j := range c {
			if logits.Data[i*c+j] > logits.Data[i*c+best] {
				best = j
			}
		}
		if best == l {
			right++
		}
	}
	return right
}
