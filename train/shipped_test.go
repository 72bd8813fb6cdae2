package train

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/pointpeft/pointpeft/assets"
	"github.com/pointpeft/pointpeft/checkpoint"
	"github.com/pointpeft/pointpeft/dataset"
	"github.com/pointpeft/pointpeft/model"
	"github.com/pointpeft/pointpeft/peft"
)

// nearestNeighbourAccuracy classifies each test shape by the label of the training
// shape whose prior feature is most similar (cosine): a training-free measure of how
// well a backbone's features separate the classes.
func nearestNeighbourAccuracy(t *testing.T, bb *model.PointTransformer, tr, te dataset.Dataset, points int) float64 {
	t.Helper()
	prior, err := peft.NewPriorEncoder(bb, 64, 32)
	if err != nil {
		t.Fatal(err)
	}
	trBank, err := peft.BuildBank(prior, BankSource(tr), points, 64, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	teBank, err := peft.BuildBank(prior, BankSource(te), points, 64, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := trBank.Dim
	correct := 0
	for i := 0; i < te.Len(); i++ {
		q := teBank.Features[i*c : (i+1)*c]
		best, bestSim := 0, math.Inf(-1)
		for j := 0; j < tr.Len(); j++ {
			var s float64
			for k, v := range trBank.Features[j*c : (j+1)*c] {
				s += float64(v) * float64(q[k])
			}
			if s > bestSim {
				best, bestSim = j, s
			}
		}
		a, _ := te.Get(i)
		b, _ := tr.Get(best)
		if a.Label == b.Label {
			correct++
		}
	}
	return float64(correct) / float64(te.Len())
}

// TestShippedBackboneBeatsRandom: the shipped pre-trained backbone loads, and its
// features separate the procedural shapes better than a randomly initialised one's.
func TestShippedBackboneBeatsRandom(t *testing.T) {
	if testing.Short() {
		t.Skip("builds four memory banks")
	}
	sd, err := checkpoint.ParseSafetensors(assets.SmallBackbone)
	if err != nil {
		t.Fatal(err)
	}
	shipped, rep, err := BackboneFromStateDict(sd, assets.SmallBackboneName, 14, 64, 32)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range rep.Missing {
		if k != "cls_token" && k != "cls_pos" && (len(k) < 17 || k[:17] != "cls_head_finetune") {
			t.Errorf("shipped backbone lacks %s", k)
		}
	}
	random, err := model.New(shipped.Cfg, rand.New(rand.NewPCG(5, 5)))
	if err != nil {
		t.Fatal(err)
	}
	tr, te := shapes(t, 280, 140, 512)
	got := nearestNeighbourAccuracy(t, shipped, tr, te, 512)
	base := nearestNeighbourAccuracy(t, random, tr, te, 512)
	t.Logf("nearest-neighbour accuracy on prior features: shipped %.3f, random %.3f", got, base)
	if got < base+0.05 {
		t.Errorf("shipped backbone %.3f does not beat a random one (%.3f) by 5 points", got, base)
	}
}
