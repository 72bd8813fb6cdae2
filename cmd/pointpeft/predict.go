package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"sort"
	"strings"

	"github.com/pointpeft/pointpeft/checkpoint"
	"github.com/pointpeft/pointpeft/dataset"
	"github.com/pointpeft/pointpeft/geom"
	"github.com/pointpeft/pointpeft/nn"
	"github.com/pointpeft/pointpeft/pcio"
	"github.com/pointpeft/pointpeft/tensor"
	"github.com/pointpeft/pointpeft/train"
)

func init() {
	register(command{name: "predict", summary: "classify point-cloud or mesh files", run: runPredict})
}

// prediction is one file's result (the --json output).
type prediction struct {
	File  string      `json:"file"`
	Class string      `json:"class"`
	Prob  float32     `json:"prob"`
	Top   []classProb `json:"top"`
}

type classProb struct {
	Class string  `json:"class"`
	Prob  float32 `json:"prob"`
}

func runPredict(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("predict", "(--checkpoint FILE | --backbone FILE [--adapter FILE]) FILE...", `Classifies point clouds (.npy .txt .xyz .ply .pcd) and meshes (.off .ply with faces) and prints
each file's class with the top-5 probabilities. Clouds are brought to --points points (farthest
point sampling, or resampling with replacement when a cloud has fewer) and normalised to the unit
sphere; meshes are sampled on their surface. Every file is read and checked before anything is
printed or written.

Models: a run's best.safetensors (--checkpoint), an adapter.safetensors with its backbone
(--adapter and --backbone), or an official fine-tuned Point-MAE / Point-BERT .pth with its head
(--backbone, with --classes naming the classes).`, stderr)
	ckpt := fs.String("checkpoint", "", "a pointpeft run checkpoint (best.safetensors)")
	adapter := fs.String("adapter", "", "adapter.safetensors (needs --backbone)")
	backbone := fs.String("backbone", "", "backbone for --adapter, or an official fine-tuned .pth classifier")
	classesFlag := fs.String("classes", "modelnet40", "class names for a .pth classifier: modelnet40, scanobjectnn, shapes, or a file with one name per line")
	points := fs.Int("points", 1024, "points per cloud")
	groups := fs.Int("groups", 64, "groups per cloud (official .pth classifiers)")
	noNorm := fs.Bool("no-normalize", false, "keep coordinates as they are (ScanObjectNN-style data is not normalised)")
	asJSON := fs.Bool("json", false, "print JSON")
	logitsOut := fs.String("logits", "", "also write the raw logits [files, classes] to this .npy file")
	topK := fs.Int("top", 5, "probabilities to show per file")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	files := fs.Args()
	if len(files) == 0 {
		fs.Usage()
		return errUsage
	}
	net, classes, err := loadPredictor(*ckpt, *adapter, *backbone, *classesFlag, *groups)
	if err != nil {
		return err
	}
	clouds := make([]float32, 0, len(files)**points*3)
	for _, f := range files {
		c, err := readForPrediction(f, *points, !*noNorm)
		if err != nil {
			return err
		}
		clouds = append(clouds, c...)
	}
	logits, err := forwardAll(net, clouds, len(files), *points)
	if err != nil {
		return err
	}
	k := len(classes)
	if len(logits) != len(files)*k {
		return fmt.Errorf("the model predicts %d classes, %d names were given", len(logits)/len(files), k)
	}
	var preds []prediction
	for i, f := range files {
		row := logits[i*k : (i+1)*k]
		prob := softmax(row)
		order := make([]int, k)
		for j := range order {
			order[j] = j
		}
		sort.SliceStable(order, func(a, b int) bool { return prob[order[a]] > prob[order[b]] })
		p := prediction{File: f, Class: classes[order[0]], Prob: prob[order[0]]}
		for _, j := range order[:min(*topK, k)] {
			p.Top = append(p.Top, classProb{classes[j], prob[j]})
		}
		preds = append(preds, p)
	}
	if *logitsOut != "" {
		if err := pcio.WriteNPY(*logitsOut, logits, []int{len(files), k}); err != nil {
			return err
		}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(preds)
	}
	for _, p := range preds {
		var top []string
		for _, t := range p.Top {
			top = append(top, fmt.Sprintf("%s %.1f%%", t.Class, 100*t.Prob))
		}
		fmt.Fprintf(stdout, "%s: %s (%.1f%%)   top: %s\n", p.File, p.Class, 100*p.Prob, strings.Join(top, ", "))
	}
	return nil
}

// loadPredictor restores the classifier the flags name.
func loadPredictor(ckpt, adapter, backbone, classesFlag string, groups int) (train.Classifier, []string, error) {
	switch {
	case ckpt != "" || adapter != "":
		path := ckpt
		if path == "" {
			path = adapter
		}
		m, err := train.LoadModel(path, backbone)
		if err != nil {
			return nil, nil, err
		}
		return m.Net, m.Classes, nil
	case backbone != "":
		classes, err := classNames(classesFlag)
		if err != nil {
			return nil, nil, err
		}
		sd, err := checkpoint.Load(backbone)
		if err != nil {
			return nil, nil, err
		}
		mapped := checkpoint.MapKeys(sd, checkpoint.DetectFormat(sd))
		if !hasHead(mapped) {
			return nil, nil, fmt.Errorf("%s has no classification head (cls_head_finetune): it is a pre-trained backbone; fine-tune it first", backbone)
		}
		bb, rep, err := train.BackboneFromStateDict(sd, backbone, len(classes), groups, 32)
		if err != nil {
			return nil, nil, err
		}
		for _, k := range rep.Missing {
			if strings.HasPrefix(k, "cls_head_finetune.") {
				return nil, nil, fmt.Errorf("%s: its head does not predict %d classes (%s)", backbone, len(classes), classesFlag)
			}
		}
		return bb, classes, nil
	}
	return nil, nil, fmt.Errorf("name a model: --checkpoint, --adapter with --backbone, or --backbone with a fine-tuned .pth")
}

func hasHead(sd *checkpoint.StateDict) bool {
	for _, k := range sd.Keys {
		if strings.HasPrefix(k, "cls_head_finetune.") {
			return true
		}
	}
	return false
}

// classNames resolves --classes.
func classNames(s string) ([]string, error) {
	switch s {
	case "modelnet40":
		return dataset.ModelNet40Classes, nil
	case "scanobjectnn":
		return dataset.ScanObjectNNClasses, nil
	case "shapes":
		return dataset.ShapeClasses, nil
	}
	raw, err := os.ReadFile(s)
	if err != nil {
		return nil, fmt.Errorf("--classes: %w", err)
	}
	var out []string
	for _, l := range strings.Split(string(raw), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	if len(out) < 2 {
		return nil, fmt.Errorf("--classes %s: need at least two class names, one per line", s)
	}
	return out, nil
}

// readForPrediction reads one file and returns exactly n points.
func readForPrediction(path string, n int, normalize bool) ([]float32, error) {
	c, err := pcio.ReadCloud(path)
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var pts []float32
	switch {
	case c.IsMesh():
		if pts, err = dataset.SampleSurface(c.Points, c.Faces, n, rng); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	case c.Len() == 0:
		return nil, fmt.Errorf("%s: no points", path)
	case c.Len() >= n:
		idx, err := geom.FPS(c.Points, 1, c.Len(), n)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if pts, err = geom.Gather(c.Points, 1, c.Len(), idx, n); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	default:
		pts = append([]float32(nil), c.Points...)
		for len(pts) < n*3 {
			j := rng.IntN(c.Len())
			pts = append(pts, c.Points[3*j:3*j+3]...)
		}
	}
	if normalize {
		if err := geom.NormalizeUnitSphere(pts, 1, n); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	return pts, nil
}

// forwardAll runs the classifier over the clouds in batches of 32 and returns the logits.
func forwardAll(net train.Classifier, clouds []float32, count, n int) ([]float32, error) {
	var out []float32
	for lo := 0; lo < count; lo += 32 {
		hi := min(lo+32, count)
		var logits *tensor.Tensor
		var err error
		tensor.NoGrad(func() { logits, err = net.Forward(&nn.Ctx{}, clouds[lo*n*3:hi*n*3], hi-lo, n) })
		if err != nil {
			return nil, err
		}
		out = append(out, logits.Data...)
	}
	return out, nil
}

func softmax(row []float32) []float32 {
	x := tensor.FromData(append([]float32(nil), row...), 1, len(row))
	var p *tensor.Tensor
	tensor.NoGrad(func() { p = tensor.Softmax(x) })
	return p.Data
}
