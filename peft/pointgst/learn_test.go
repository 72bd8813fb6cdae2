package pointgst_test

import (
	"math/rand/v2"
	"testing"

	"github.com/pointpeft/pointpeft/dataset"
	"github.com/pointpeft/pointpeft/model"
	"github.com/pointpeft/pointpeft/nn"
	"github.com/pointpeft/pointpeft/optim"
	"github.com/pointpeft/pointpeft/peft/pointgst"
	"github.com/pointpeft/pointpeft/tensor"
)

// TestTrainingLearns trains PointGST's adapters and head (backbone frozen, random) for
// three epochs on the procedural shapes, in arena steps as the training loop runs them,
// and requires test accuracy far above chance (1/14), and adapters that moved.
func TestTrainingLearns(t *testing.T) {
	cfg := dataset.DefaultShapesConfig()
	cfg.Train, cfg.Test, cfg.NumPoints = 448, 224, 256
	split := func(name string) dataset.Dataset {
		ds, err := dataset.NewShapes(cfg, name)
		if err != nil {
			t.Fatal(err)
		}
		mem, err := dataset.Preload(ds, 2)
		if err != nil {
			t.Fatal(err)
		}
		return mem
	}
	tr, te := split("train"), split("test")
	bcfg := model.Config{Arch: "point-mae", TransDim: 48, Depth: 2, Heads: 6, MLPRatio: 2, EncoderDims: 48,
		NumGroup: 16, GroupSize: 16, Classes: len(tr.Classes()), DropPath: 0.1, HeadDropout: 0.5,
		EncoderHidden: [3]int{32, 64, 96}, PosHidden: 32, HeadHidden: 64}
	rng := rand.New(rand.NewPCG(3, 3))
	bb, err := model.New(bcfg, rng)
	if err != nil {
		t.Fatal(err)
	}
	m, err := pointgst.New(bb, pointgst.Config{Mode: pointgst.Fixed, Rank: 8, Local: 8}, rng)
	if err != nil {
		t.Fatal(err)
	}
	m.SetTrainable()
	params := m.Params()
	opt, err := optim.NewAdamW(optim.ParamGroups(params, 0.05))
	if err != nil {
		t.Fatal(err)
	}
	batch := func(ds dataset.Dataset, idx []int) ([]float32, []int) {
		var pts []float32
		var labels []int
		for _, i := range idx {
			s, err := ds.Get(i)
			if err != nil {
				t.Fatal(err)
			}
			pts, labels = append(pts, s.Points...), append(labels, s.Label)
		}
		return pts, labels
	}
	arena := tensor.NewArena()
	defer arena.Close()
	const bs = 16
	for epoch := 0; epoch < 3; epoch++ {
		order := rng.Perm(tr.Len())
		for at := 0; at+bs <= len(order); at += bs {
			pts, labels := batch(tr, order[at:at+bs])
			var stepErr error
			arena.Step(func() {
				logits, err := m.Forward(&nn.Ctx{Train: true, RNG: rng}, pts, bs, cfg.NumPoints)
				if err != nil {
					stepErr = err
					return
				}
				tensor.Backward(tensor.CrossEntropy(logits, labels, 0))
			})
			if stepErr != nil {
				t.Fatal(stepErr)
			}
			optim.ClipGradNorm(params, 10)
			if err := opt.Step(2e-3); err != nil {
				t.Fatal(err)
			}
			for _, p := range params {
				p.ZeroGrad()
			}
		}
	}
	right := 0
	for at := 0; at < te.Len(); at += 32 {
		idx := make([]int, 0, 32)
		for i := at; i < min(at+32, te.Len()); i++ {
			idx = append(idx, i)
		}
		pts, labels := batch(te, idx)
		var logits *tensor.Tensor
		tensor.NoGrad(func() { logits, err = m.Forward(&nn.Ctx{}, pts, len(idx), cfg.NumPoints) })
		if err != nil {
			t.Fatal(err)
		}
		for i, l := range labels {
			row := logits.Data[i*bcfg.Classes : (i+1)*bcfg.Classes]
			best := 0
			for c := range row {
				if row[c] > row[best] {
					best = c
				}
			}
			if best == l {
				right++
			}
		}
	}
	acc := float64(right) / float64(te.Len())
	t.Logf("test accuracy %.3f after 3 epochs", acc)
	if acc < 0.35 {
		t.Errorf("test accuracy %.3f, want ≥ 0.35 (chance 0.07)", acc)
	}
	for _, blk := range m.Blocks {
		for _, p := range []*tensor.Tensor{blk.Adapter.Up.Weight, blk.Adapter.Adapt1.Weight} {
			moved := false
			for _, v := range p.Data {
				moved = moved || v != 0
			}
			if !moved {
				t.Errorf("%s is still zero after training", p.Name())
			}
		}
	}
}
