package nn

import (
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/pointpeft/pointpeft/internal/blas"
	"github.com/pointpeft/pointpeft/tensor"
)

// The Transformer-block benchmark of the engine: B=32 clouds, T=65 tokens (64 groups and
// the cls token), width 384, 6 heads, MLP 1536, every weight trainable. It reports the
// time of one forward+backward, the time of the same GEMMs alone (BenchmarkBlockGEMMs),
// and the memory held by the activations at the end of the forward pass.
const (
	benchB, benchT, benchC, benchH, benchHidden = 32, 65, 384, 6, 1536
)

func BenchmarkBlockForwardBackward(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	blk := NewBlock("blk", benchC, benchH, benchHidden, false, 0.1, rng)
	x := tensor.NewParam("x", TruncNormal(rng, benchB*benchT*benchC, 1), benchB, benchT, benchC)
	ctx := &Ctx{Train: true, RNG: rng}
	var peak uint64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var before runtime.MemStats
		if i == 0 {
			runtime.GC()
			runtime.ReadMemStats(&before)
		}
		y := blk.Forward(ctx, x)
		if i == 0 {
			var after runtime.MemStats
			runtime.ReadMemStats(&after)
			peak = after.HeapAlloc - before.HeapAlloc
		}
		tensor.Backward(tensor.SumAll(y))
	}
	b.ReportMetric(float64(peak)/(1<<20), "MB-activations")
}

// BenchmarkBlockGEMMs issues exactly the GEMMs of BenchmarkBlockForwardBackward (forward,
// input gradients and weight gradients) and nothing else.
func BenchmarkBlockGEMMs(b *testing.B) {
	rows := benchB * benchT
	d := benchC / benchH
	rng := rand.New(rand.NewPCG(1, 2))
	buf := func(n int) []float32 { return Uniform(rng, n, 1) }
	x, w1, w2, w3, w4 := buf(rows*benchHidden), buf(3*benchC*benchC), buf(benchC*benchC), buf(benchHidden*benchC), buf(benchC*benchHidden)
	qkv, att, o := buf(rows*3*benchC), buf(benchB*benchH*benchT*benchT), buf(rows*benchHidden)
	lin := func(in, out int, w []float32) {
		blas.Sgemm(false, true, rows, out, in, 1, x, in, w, in, 0, o, out)  // forward
		blas.Sgemm(false, false, rows, in, out, 1, o, out, w, in, 0, x, in) // dX
		blas.Sgemm(true, false, out, in, rows, 1, o, out, x, in, 0, w, in)  // dW
	}
	heads := func(passes int) {
		bh := benchB * benchH
		runParallel(bh, func(i int) {
			bi, h := i/benchH, i%benchH
			base := bi * benchT * 3 * benchC
			p := att[i*benchT*benchT : (i+1)*benchT*benchT]
			for k := 0; k < passes; k++ {
				blas.Sgemm(false, true, benchT, benchT, d, 1, qkv[base+h*d:], 3*benchC, qkv[base+benchC+h*d:], 3*benchC, 0, p, benchT)
			}
		})
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		lin(benchC, 3*benchC, w1)
		lin(benchC, benchC, w2)
		lin(benchC, benchHidden, w3)
		lin(benchHidden, benchC, w4)
		heads(6) // 2 forward, 4 backward GEMMs of T×T×D per head
	}
}

func runParallel(n int, f func(i int)) {
	workers := runtime.GOMAXPROCS(0)
	done := make(chan struct{})
	for w := 0; w < workers; w++ {
		go func() {
			for i := w; i < n; i += workers {
				f(i)
			}
			done <- struct{}{}
		}()
	}
	for w := 0; w < workers; w++ {
		<-done
	}
}

// TestBlockBenchmarkShapes keeps the benchmark honest: the block runs and its output
// has the input's shape.
func TestBlockBenchmarkShapes(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	blk := NewBlock("blk", 24, 3, 48, false, 0, rng)
	x := tensor.NewParam("x", TruncNormal(rng, 2*5*24, 1), 2, 5, 24)
	start := time.Now()
	y := blk.Forward(&Ctx{RNG: rng}, x)
	tensor.Backward(tensor.SumAll(y))
	if got := y.Shape(); got[0] != 2 || got[1] != 5 || got[2] != 24 {
		t.Fatalf("shape %v", got)
	}
	if x.Grad == nil || blk.Mlp.FC1.Weight.Grad == nil {
		t.Fatalf("no gradients after %v", time.Since(start))
	}
}
