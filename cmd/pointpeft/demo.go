package main

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/pointpeft/pointpeft/assets"
	"github.com/pointpeft/pointpeft/checkpoint"
	"github.com/pointpeft/pointpeft/dataset"
	"github.com/pointpeft/pointpeft/peft"
	"github.com/pointpeft/pointpeft/plots"
	"github.com/pointpeft/pointpeft/train"
)

func init() {
	register(command{name: "demo", summary: "end-to-end run on built-in data: Point-PEFT vs linear probing", run: runDemo})
}

func runDemo(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("demo", "", `The main job on embedded defaults: loads the shipped pre-trained backbone, builds the
Point-PEFT memory bank on the procedural shape set, fine-tunes Point-PEFT and, for comparison,
a linear probe, evaluates both, prints a table (accuracy, trainable parameters, time) and writes
the runs' files, plots and a picture of test shapes with their predicted and true labels.
--data runs it on a real data set instead (e.g. a ModelNet40 folder).

`+dataHelp, stderr)
	out := fs.String("out", "runs/demo", "output directory")
	data := fs.String("data", "shapes", "data set")
	backbone := fs.String("backbone", "", "backbone file (default: the shipped small backbone)")
	epochs := fs.Int("epochs", 5, "epochs per method")
	trainN := fs.Int("train", 1400, "procedural shapes in the training split")
	testN := fs.Int("test", 420, "procedural shapes in the test split")
	points := fs.Int("points", 1024, "points per cloud")
	seed := fs.Uint64("seed", 1, "random seed")
	verbose := fs.Bool("v", false, "log every epoch")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	start := time.Now()
	shapes := dataset.DefaultShapesConfig()
	shapes.Train, shapes.Test = *trainN, *testN
	trainSet, testSet, err := dataSpec{path: *data, numPoints: *points, shapes: shapes}.openSplits()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "data: %s, %d training and %d test shapes, %d classes, %d points each\n",
		*data, trainSet.Len(), testSet.Len(), len(trainSet.Classes()), *points)
	sd, name, err := demoBackbone(*backbone)
	if err != nil {
		return err
	}
	log := newLogger(stderr, *verbose)
	ctx, stop := signalContext()
	defer stop()
	type row struct {
		method           string
		acc, meanAcc     float64
		trainable, total int
		seconds          float64
	}
	var rows []row
	var pe *train.Model
	for _, method := range []peft.Method{peft.MethodPointPEFT, peft.MethodLinear} {
		t0 := time.Now()
		bb, _, err := train.BackboneFromStateDict(sd, name, len(trainSet.Classes()), 64, 32)
		if err != nil {
			return err
		}
		var bank *peft.MemoryBank
		pcfg := peft.ScanObjectNN(peft.Fixed)
		if method == peft.MethodPointPEFT {
			if bank, err = memoryBank(runSpec{Data: *data, Points: *points, PEFT: pcfg}, bb, trainSet, "", stderr); err != nil {
				return err
			}
		}
		m, err := train.NewModel(bb, method, pcfg, trainSet.Classes(), bank, *seed)
		if err != nil {
			return err
		}
		cfg := demoRecipe(*epochs, *seed)
		dir := filepath.Join(*out, string(method))
		fmt.Fprintf(stdout, "fine-tuning %s (%d epochs) → %s\n", method, cfg.Epochs, dir)
		run := &train.Run{Dir: dir, Cfg: cfg, Model: m, Train: trainSet, Test: testSet, Log: log, Progress: stderr,
			Spec: runSpec{Backbone: name, Data: *data, Method: string(method), Points: *points, Groups: 64, GroupSize: 32, Train: cfg, PEFT: pcfg}}
		res, err := run.Fit(ctx)
		if err != nil {
			return err
		}
		s := peft.Summarize(m.Net.Params())
		rows = append(rows, row{string(method), res.Best.TestAcc, res.Best.MeanClassAcc, s.Trainable, s.Total, time.Since(t0).Seconds()})
		if method == peft.MethodPointPEFT {
			pe = m
		}
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(stdout)
	fmt.Fprintln(tw, "method\ttest acc\tmean class acc\ttrainable params\tshare\ttime\t")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%.2f%%\t%.2f%%\t%d\t%.2f%%\t%.0fs\t\n", r.method, 100*r.acc, 100*r.meanAcc, r.trainable,
			100*float64(r.trainable)/float64(r.total), r.seconds)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	pic := filepath.Join(*out, "test_shapes.png")
	if err := predictionPicture(pic, pe, testSet, 12); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nplots: %s/*/train_curves.png, %s/*/confusion.png; test shapes: %s\ntotal time %.0fs\n",
		*out, *out, pic, time.Since(start).Seconds())
	return nil
}

// demoRecipe is a short version of the reference recipe: a per-step cosine with a
// one-epoch warm-up, since a handful of epochs is too few for the per-epoch schedule.
func demoRecipe(epochs int, seed uint64) train.Config {
	c := train.DefaultConfig()
	c.Epochs, c.WarmupEpochs, c.Schedule, c.LR, c.Augment, c.Seed = epochs, min(1, epochs-1), "step", 1e-3, "scan-z", seed
	return c
}

// demoBackbone reads the backbone file, or the embedded one.
func demoBackbone(path string) (*checkpoint.StateDict, string, error) {
	if path != "" {
		sd, err := checkpoint.Load(path)
		return sd, path, err
	}
	sd, err := checkpoint.ParseSafetensors(assets.SmallBackbone)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", assets.SmallBackboneName, err)
	}
	return sd, assets.SmallBackboneName, nil
}

// predictionPicture draws n test shapes with the model's prediction and the truth.
func predictionPicture(path string, m *train.Model, ds dataset.Dataset, n int) error {
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
		logits, err := forwardAll(m.Net, s.Points, 1, len(s.Points)/3)
		if err != nil {
			return err
		}
		best := 0
		for j, v := range logits {
			if v > logits[best] {
				best = j
			}
		}
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
