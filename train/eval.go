package train

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"

	"github.com/pointpeft/pointpeft/dataset"
	"github.com/pointpeft/pointpeft/geom"
	"github.com/pointpeft/pointpeft/nn"
	"github.com/pointpeft/pointpeft/tensor"
)

// Evaluation is a model's accuracy on a data set.
type Evaluation struct {
	Acc, MeanClassAcc float64
	Confusion         [][]int // [true][predicted]
	// Probs are the class probabilities of every sample [N·classes], in data set order.
	Probs []float32
}

// Evaluate runs net in eval mode over ds in order. With vote > 1 it averages the
// softmax of vote views: the cloud itself and vote−1 copies scaled and translated as
// Point-MAE's voting does, seeded so the views are the same every time.
func Evaluate(ctx context.Context, net Classifier, ds dataset.Dataset, batch, vote int, seed uint64) (*Evaluation, error) {
	classes := len(ds.Classes())
	if vote < 1 || batch < 0 {
		return nil, fmt.Errorf("evaluate: %d views and batch %d: want at least one view and a positive batch (0: 64)", vote, batch)
	}
	if batch == 0 {
		batch = 64
	}
	loader, err := dataset.NewLoader(ds, dataset.LoaderConfig{BatchSize: batch, Seed: seed})
	if err != nil {
		return nil, err
	}
	ev := &Evaluation{Confusion: make([][]int, classes), Probs: make([]float32, 0, ds.Len()*classes)}
	for i := range ev.Confusion {
		ev.Confusion[i] = make([]int, classes)
	}
	it := loader.Epoch(0)
	defer it.Close()
	arena := tensor.NewArena()
	defer arena.Close()
	for k := 0; ; k++ {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("evaluation %w", ErrInterrupted)
		}
		b, err := it.Next()
		if err != nil {
			if err == io.EOF {
				break
			}
			return nil, err
		}
		probs := make([]float32, b.Size*classes)
		for v := 0; v < vote; v++ {
			pts := b.Points
			if v > 0 {
				pts = append([]float32(nil), b.Points...)
				rng := rand.New(rand.NewPCG(seed, uint64(k)<<16|uint64(v)))
				if err := geom.ScaleTranslate(pts, b.Size, b.N, geom.ScaleLow, geom.ScaleHigh, geom.TranslateRange, rng); err != nil {
					return nil, err
				}
			}
			if err := Probabilities(arena, net, pts, b.Size, b.N, 1/float32(vote), probs); err != nil {
				return nil, err
			}
		}
		for i := 0; i < b.Size; i++ {
			ev.Confusion[b.Labels[i]][argmax(probs[i*classes:(i+1)*classes])]++
		}
		ev.Probs = append(ev.Probs, probs...)
	}
	var correct, total int
	var classAcc float64
	var present int
	for c, row := range ev.Confusion {
		n := 0
		for _, v := range row {
			n += v
		}
		total += n
		correct += row[c]
		if n > 0 {
			classAcc += float64(row[c]) / float64(n)
			present++
		}
	}
	if total == 0 {
		return nil, fmt.Errorf("evaluation: the data set is empty")
	}
	ev.Acc = float64(correct) / float64(total)
	ev.MeanClassAcc = classAcc / math.Max(float64(present), 1)
	return ev, nil
}

// Probabilities adds w × net's class probabilities of one batch, computed in inference
// mode inside arena, to dst [b × classes]: the forward pass that evaluation and the
// benchmark share. In the arena each block's intermediates go back as soon as it is
// done (tensor.Segment), and the next batch reuses the memory.
func Probabilities(arena *tensor.Arena, net Classifier, points []float32, b, n int, w float32, dst []float32) error {
	var err error
	arena.Step(func() {
		tensor.NoGrad(func() {
			var logits *tensor.Tensor
			if logits, err = net.Forward(&nn.Ctx{}, points, b, n); err != nil {
				return
			}
			if c := logits.Dim(1); b*c != len(dst) {
				err = fmt.Errorf("the model predicts %d classes, the data set has %d", c, len(dst)/b)
				return
			}
			for i, x := range tensor.Softmax(logits).Data {
				dst[i] += w * x
			}
		})
	})
	return err
}
