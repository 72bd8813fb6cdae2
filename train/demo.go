package train

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/pointpeft/pointpeft/dataset"
	"github.com/pointpeft/pointpeft/nn"
	"github.com/pointpeft/pointpeft/peft"
	"github.com/pointpeft/pointpeft/plots"
	"github.com/pointpeft/pointpeft/tensor"
)

// DemoSpec is the main job on embedded defaults: Point-PEFT against a linear probe.
type DemoSpec struct {
	Data     string // data source (default "shapes")
	Backbone string // empty: the shipped backbone
	Epochs   int
	// Train and Test size the procedural shapes' splits.
	Train, Test int
	Points      int
	Seed        uint64
}

// DemoRow is one method's outcome.
type DemoRow struct {
	Method            peft.Method
	Acc, MeanClassAcc float64
	Trainable, Total  int
	Seconds           float64
	Dir               string
}

// Demo loads the backbone, builds the Point-PEFT memory bank, fine-tunes Point-PEFT and
// a linear probe on spec's data in dir/<method> (replacing earlier demo runs there),
// and draws dir/test_shapes.png (test shapes with Point-PEFT's predictions). say gets a
// line as each step starts.
func Demo(ctx context.Context, spec DemoSpec, dir string, log *slog.Logger, progress, say io.Writer) ([]DemoRow, error) {
	if spec.Epochs < 1 || spec.Train < 1 || spec.Test < 1 || spec.Points < 1 {
		return nil, fmt.Errorf("demo: %d epochs, %d/%d shapes, %d points: all must be positive", spec.Epochs, spec.Train, spec.Test, spec.Points)
	}
	shapes := dataset.DefaultShapesConfig()
	shapes.Train, shapes.Test = spec.Train, spec.Test
	open := dataset.OpenOptions{NumPoints: spec.Points, Shapes: shapes}
	trainSet, testSet, err := dataset.OpenSplits(spec.Data, open)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(say, "data: %s, %d training and %d test shapes, %d classes, %d points each\n",
		spec.Data, trainSet.Len(), testSet.Len(), len(trainSet.Classes()), spec.Points)
	sd, name, err := ReadBackbone(spec.Backbone)
	if err != nil {
		return nil, err
	}
	var rows []DemoRow
	var pe *Model
	for _, method := range []peft.Method{peft.MethodPointPEFT, peft.MethodLinear} {
		t0 := time.Now()
		bb, _, err := BackboneFromStateDict(sd, name, len(trainSet.Classes()), 64, 32)
		if err != nil {
			return nil, err
		}
		var bank *peft.MemoryBank
		pcfg := peft.ScanObjectNN(peft.Fixed)
		cfg := demoRecipe(spec.Epochs, spec.Seed)
		rs := Spec{Backbone: spec.Backbone, Data: spec.Data, Method: string(method), Points: spec.Points, Groups: 64, GroupSize: 32, Train: cfg, PEFT: pcfg}
		if method == peft.MethodPointPEFT {
			if bank, err = runBank(rs, bb, trainSet, "", progress); err != nil {
				return nil, err
			}
		}
		m, err := NewModel(bb, method, pcfg, trainSet.Classes(), bank, spec.Seed)
		if err != nil {
			return nil, err
		}
		mdir := filepath.Join(dir, string(method))
		if err := ClearRunDir(mdir); err != nil {
			return nil, err
		}
		fmt.Fprintf(say, "fine-tuning %s (%d epochs) → %s\n", method, cfg.Epochs, mdir)
		run := &Run{Dir: mdir, Cfg: cfg, Model: m, Train: trainSet, Test: testSet, Log: log, Progress: progress, Spec: &rs}
		res, err := run.Fit(ctx)
		if err != nil {
			return nil, err
		}
		s := peft.Summarize(m.Net.Params())
		rows = append(rows, DemoRow{method, res.Best.TestAcc, res.Best.MeanClassAcc, s.Trainable, s.Total, time.Since(t0).Seconds(), mdir})
		if method == peft.MethodPointPEFT {
			pe = m
		}
	}
	return rows, PredictionPicture(filepath.Join(dir, "test_shapes.png"), pe, testSet, 12)
}

// demoRecipe is a short version of the reference recipe: a per-step cosine with a
// one-epoch warm-up, since a handful of epochs is too few for the per-epoch schedule.
// Its small backbone and clouds need under half a gigabyte, so every activation is kept
// rather than recomputed.
func demoRecipe(epochs int, seed uint64) Config {
	c := DefaultConfig()
	c.Epochs, c.WarmupEpochs, c.Schedule, c.LR, c.Augment, c.Seed = epochs, min(1, epochs-1), "step", 1e-3, "scan-z", seed
	c.Recompute = nn.RecomputeNone
	return c
}

// PredictionPicture draws n test shapes with the model's prediction and the truth.
func PredictionPicture(path string, m *Model, ds dataset.Dataset, n int) error {
	n = min(n, ds.Len())
	rng := rand.New(rand.NewPCG(3, 3))
	idx := rng.Perm(ds.Len())[:n]
	var clouds [][]float32
	var titles []string
	var wrong []bool
	for _, i := range idx {
		s, err := ds.Get(i)
		if err != nil {
			return err
		}
		var out *tensor.Tensor
		tensor.NoGrad(func() { out, err = m.Net.Forward(&nn.Ctx{}, s.Points, 1, len(s.Points)/3) })
		if err != nil {
			return err
		}
		best := argmax(out.Data)
		clouds = append(clouds, zUpToYUp(s.Points))
		titles = append(titles, fmt.Sprintf("pred: %s / true: %s", m.Classes[best], m.Classes[s.Label]))
		wrong = append(wrong, best != s.Label)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return plots.Clouds(path, clouds, titles, wrong, 4)
}

// zUpToYUp rotates a z-up cloud (ModelNet40, the procedural shapes) for the y-up viewer.
func zUpToYUp(p []float32) []float32 {
	out := make([]float32, len(p))
	for i := 0; i < len(p); i += 3 {
		out[i], out[i+1], out[i+2] = p[i], p[i+2], -p[i+1]
	}
	return out
}
