package peft

import (
	"math/rand/v2"
	"testing"

	"github.com/pointpeft/pointpeft/model"
	"github.com/pointpeft/pointpeft/nn"
	"github.com/pointpeft/pointpeft/tensor"
)

// benchStep runs training steps of a Point-PEFT or fully fine-tuned model of config
// bc on batches of b random clouds of n points.
func benchStep(b *testing.B, bc model.Config, cfg Config, method Method, batch, n int, train bool) {
	rng := rand.New(rand.NewPCG(1, 1))
	bb, err := model.New(bc, rng)
	if err != nil {
		b.Fatal(err)
	}
	var net interface {
		Params() []*tensor.Tensor
	} = bb
	forward := bb.Forward
	if method == MethodPointPEFT {
		m, err := New(bb, cfg, rng)
		if err != nil {
			b.Fatal(err)
		}
		feats := make([]float32, 64*bc.TransDim)
		for i := range feats {
			feats[i] = float32(rng.NormFloat64())
		}
		m.Bank = &MemoryBank{Features: feats, Dim: bc.TransDim}
		net, forward = m, m.Forward
	}
	if err := SetTrainable(net.Params(), method); err != nil {
		b.Fatal(err)
	}
	pts := make([]float32, batch*n*3)
	for i := range pts {
		pts[i] = float32(rng.Float64()*2 - 1)
	}
	labels := make([]int, batch)
	ctx := &nn.Ctx{Train: train, RNG: rng}
	arena := tensor.NewArena()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		arena.Step(func() {
			if !train {
				tensor.NoGrad(func() {
					if _, err := forward(ctx, pts, batch, n); err != nil {
						b.Fatal(err)
					}
				})
				return
			}
			logits, err := forward(ctx, pts, batch, n)
			if err != nil {
				b.Fatal(err)
			}
			tensor.Backward(tensor.CrossEntropy(logits, labels, 0))
		})
	}
	b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), "samples/s")
}

func smallBench() model.Config {
	c := model.PointMAE(14, 64, 32)
	c.TransDim, c.EncoderDims, c.Depth = 192, 192, 6
	c.EncoderHidden = [3]int{64, 128, 256}
	return c
}

func BenchmarkSmallPEFTStep(b *testing.B) {
	benchStep(b, smallBench(), ScanObjectNN(Fixed), MethodPointPEFT, 32, 1024, true)
}

func BenchmarkSmallFullStep(b *testing.B) {
	benchStep(b, smallBench(), ScanObjectNN(Fixed), MethodFull, 32, 1024, true)
}

func BenchmarkSmallPEFTInference(b *testing.B) {
	benchStep(b, smallBench(), ScanObjectNN(Fixed), MethodPointPEFT, 32, 1024, false)
}
