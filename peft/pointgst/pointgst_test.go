package pointgst

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/pointpeft/pointpeft/model"
	"github.com/pointpeft/pointpeft/nn"
	"github.com/pointpeft/pointpeft/tensor"
)

func tinyBackbone(t *testing.T, groups int) *model.PointTransformer {
	t.Helper()
	cfg := model.Config{Arch: "point-mae", TransDim: 12, Depth: 2, Heads: 2, MLPRatio: 2, EncoderDims: 12,
		NumGroup: groups, GroupSize: 8, Classes: 3, EncoderHidden: [3]int{8, 8, 8}, PosHidden: 8, HeadHidden: 8}
	bb, err := model.New(cfg, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	return bb
}

func cloud(rng *rand.Rand, n int) []float32 {
	p := make([]float32, n*3)
	for i := range p {
		p[i] = float32(rng.NormFloat64() * 0.5)
	}
	return p
}

// TestModesAndBatches: the fixed model classifies each cloud on its own graphs; the
// released (faithful) graph scale is the batch's smallest distance, so a cloud's
// logits change with its batch mates.
func TestModesAndBatches(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	a, b := cloud(rng, 64), cloud(rng, 64)
	for i := range b { // a batch mate with much closer centres
		b[i] *= 0.05
	}
	for _, tc := range []struct {
		mode   Mode
		sameAs bool
	}{{Fixed, true}, {Faithful, false}} {
		m, err := New(tinyBackbone(t, 16), Config{Mode: tc.mode, Rank: 4, Local: 8}, rand.New(rand.NewPCG(3, 4)))
		if err != nil {
			t.Fatal(err)
		}
		for _, blk := range m.Blocks { // a non-zero adapter
			for _, p := range blk.Adapter.Params() {
				for i := range p.Data {
					p.Data[i] += float32(rng.NormFloat64() * 0.3)
				}
			}
		}
		var alone, batch *tensor.Tensor
		tensor.NoGrad(func() {
			alone, err = m.Forward(&nn.Ctx{}, a, 1, 64)
			if err == nil {
				batch, err = m.Forward(&nn.Ctx{}, append(append([]float32{}, a...), b...), 2, 64)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		var diff float64
		for i, v := range alone.Data {
			diff = math.Max(diff, math.Abs(float64(v-batch.Data[i])))
		}
		if same := diff < 1e-5; same != tc.sameAs {
			t.Errorf("%s: logits alone vs in a batch differ by %.3g", tc.mode, diff)
		}
	}
}

func TestBasisIsCanonicalEigenbasis(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	const k = 12
	xyz := cloud(rng, k)
	u, err := bases(xyz, 1, k, Fixed)
	if err != nil {
		t.Fatal(err)
	}
	for c := 0; c < k; c++ {
		var best float32
		for r := 0; r < k; r++ {
			if math.Abs(float64(u[r*k+c])) > math.Abs(float64(best)) {
				best = u[r*k+c]
			}
		}
		if best <= 0 {
			t.Errorf("eigenvector %d: largest component %g is not positive", c, best)
		}
		for c2 := 0; c2 < k; c2++ {
			var dot float64
			for r := 0; r < k; r++ {
				dot += float64(u[r*k+c]) * float64(u[r*k+c2])
			}
			if want := b2f(c == c2); math.Abs(dot-want) > 1e-5 {
				t.Errorf("eigenvectors %d·%d = %g, want %g", c, c2, dot, want)
			}
		}
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func TestMortonKeyMatchesTables(t *testing.T) {
	// The authors' two 8-bit look-ups, high byte shifted by 24, for a negative value:
	// -3 is 0xFFFD, so x's bits 0 and 2..15 are set.
	var want int64
	for i := 0; i < 16; i++ {
		if i != 1 {
			want |= 1 << (3*i + 2)
		}
	}
	if got := mortonKey(-3, 0, 0); got != want {
		t.Errorf("mortonKey(-3,0,0) = %#x, want %#x", got, want)
	}
	if got := mortonKey(1, 1, 1); got != 7 {
		t.Errorf("mortonKey(1,1,1) = %d, want 7", got)
	}
}

func TestBadInput(t *testing.T) {
	bb := tinyBackbone(t, 16)
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Mode: "exact", Rank: 4, Local: 8}, "neither faithful nor fixed"},
		{Config{Mode: Fixed, Rank: 0, Local: 8}, "rank 0"},
		{Config{Mode: Fixed, Rank: 4, Local: 6}, "do not split the backbone's 16 groups"},
	} {
		if _, err := New(bb, tc.cfg, rand.New(rand.NewPCG(1, 1))); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want one containing %q", tc.cfg, err, tc.want)
		}
	}
	center := make([]float32, 16*3) // all centres at one place: no graph
	if _, err := NewSpectra(center, 1, 16, 8, Fixed); err == nil || !strings.Contains(err.Error(), "coincide") {
		t.Errorf("coincident centres: error %v", err)
	}
}
