// Package predict classifies point clouds and meshes with any model pointpeft can
// load: a fine-tuning run's checkpoint, an adapter with its backbone, the authors'
// fine-tuned Point-PEFT checkpoint with its pre-trained backbone and memory bank, or an
// official fine-tuned Point-MAE / Point-BERT classifier. Loading is strict: a tensor
// the model would ignore, or one it lacks, is an error unless Options.AllowPartial.
package predict

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"

	"github.com/pointpeft/pointpeft/checkpoint"
	"github.com/pointpeft/pointpeft/dataset"
	"github.com/pointpeft/pointpeft/geom"
	"github.com/pointpeft/pointpeft/model"
	"github.com/pointpeft/pointpeft/nn"
	"github.com/pointpeft/pointpeft/pcio"
	"github.com/pointpeft/pointpeft/peft"
	"github.com/pointpeft/pointpeft/tensor"
	"github.com/pointpeft/pointpeft/train"
)

// Options name a model and how to feed it.
type Options struct {
	// Checkpoint is the model file: a run's best/last.safetensors, an
	// adapter.safetensors, the authors' fine-tuned Point-PEFT .pth, or an official
	// fine-tuned Point-MAE / Point-BERT .pth.
	Checkpoint string
	// Backbone is the pre-trained backbone an adapter was trained on, or for the
	// authors' Point-PEFT checkpoint the pre-trained Point-MAE it started from (its
	// frozen prior encoder); empty means the shipped backbone.
	Backbone string
	// Bank is the memory bank of the authors' Point-PEFT checkpoint (their .pt, ours,
	// or .npy); pointpeft's own files carry theirs.
	Bank string
	// Classes names the classes of a .pth model; pointpeft's files carry theirs.
	Classes []string
	// Mode is the Point-PEFT forward pass; empty keeps a run's own, and is faithful
	// (what the authors trained with) for their checkpoint.
	Mode peft.Mode
	// Groups × GroupSize is the grouping of .pth models (0: 64×32); PriorGroups ×
	// PriorGroupSize the authors' prior encoder's (0: 64×32); PromptLayers their
	// prompt layers (empty: the first half of the blocks).
	Groups, GroupSize           int
	PriorGroups, PriorGroupSize int
	PromptLayers                []int
	// Points per cloud; 0 means 16 per group of the model (1024 for 64 groups, 2048 for
	// 128), the authors' ratio.
	Points int
	// Normalize centres each cloud and scales it into the unit sphere (ModelNet40's
	// convention; ScanObjectNN clouds are used as stored).
	Normalize bool
	// Batch is the number of clouds per forward pass (0: 32). The faithful Point-PEFT
	// pass mixes samples of a batch (the authors' gather), so it always runs one cloud
	// at a time.
	Batch int
	// AllowPartial loads a checkpoint even when tensors are left over or missing;
	// Predictor.Skipped lists them.
	AllowPartial bool
}

// Predictor is a loaded classifier.
type Predictor struct {
	Net     train.Classifier
	Classes []string
	// Points is the number of points the model is fed per cloud.
	Points int
	// Kind says what was loaded, for messages.
	Kind string
	// Mode is the Point-PEFT forward pass ("" for other models).
	Mode peft.Mode
	// Skipped lists the tensors left over ("unused: ...") or missing ("missing: ...")
	// when Options.AllowPartial let them pass.
	Skipped   []string
	normalize bool
	batch     int
}

// ClassProb is one class with its probability.
type ClassProb struct {
	Class string  `json:"class"`
	Prob  float32 `json:"prob"`
}

// Prediction is one cloud's result.
type Prediction struct {
	File  string      `json:"file"`
	Class string      `json:"class"`
	Prob  float32     `json:"prob"`
	Top   []ClassProb `json:"top"`
	// Sampler says how the cloud was brought to Predictor.Points: "as stored", "fps"
	// (farthest point sampling), "resampled" (drawn with replacement) or "surface" (a
	// mesh sampled on its faces).
	Sampler string    `json:"sampler"`
	Logits  []float32 `json:"-"`
}

// Load builds the predictor opt names.
func Load(opt Options) (*Predictor, error) {
	if opt.Checkpoint == "" {
		return nil, fmt.Errorf("no model: name a checkpoint")
	}
	if opt.Mode != "" && opt.Mode != peft.Faithful && opt.Mode != peft.Fixed {
		return nil, fmt.Errorf("mode %q is neither faithful nor fixed", opt.Mode)
	}
	if opt.Points < 0 || opt.Batch < 0 || opt.Groups < 0 || opt.GroupSize < 0 || opt.PriorGroups < 0 || opt.PriorGroupSize < 0 {
		return nil, fmt.Errorf("points, batch and group sizes must not be negative")
	}
	opt.Groups, opt.GroupSize = cmp.Or(opt.Groups, 64), cmp.Or(opt.GroupSize, 32)
	opt.PriorGroups, opt.PriorGroupSize = cmp.Or(opt.PriorGroups, 64), cmp.Or(opt.PriorGroupSize, 32)
	sd, err := checkpoint.Load(opt.Checkpoint)
	if err != nil {
		return nil, err
	}
	p := &Predictor{normalize: opt.Normalize, batch: cmp.Or(opt.Batch, 32)}
	switch layout := checkpoint.DetectFormat(sd); layout {
	case checkpoint.LayoutPointPEFT:
		err = p.loadOurs(sd, opt)
	case checkpoint.LayoutPointPEFTAuthors:
		err = p.loadAuthors(sd, opt)
	case checkpoint.LayoutPointMAEFinetuned, checkpoint.LayoutPointBERT:
		err = p.loadClassifier(sd, layout, opt)
	case checkpoint.LayoutPointMAEPretrain:
		err = fmt.Errorf("read %s: a pre-trained Point-MAE (no classification head): fine-tune it first (pointpeft finetune --backbone %s)", opt.Checkpoint, opt.Checkpoint)
	case checkpoint.LayoutMemoryBank:
		err = fmt.Errorf("read %s: a memory bank, not a model (pass it as the bank)", opt.Checkpoint)
	default:
		err = fmt.Errorf("read %s: not a model pointpeft knows (layout %s)", opt.Checkpoint, layout)
	}
	if err != nil {
		return nil, err
	}
	if opt.Points > 0 {
		p.Points = opt.Points
	}
	if p.Mode == peft.Faithful {
		p.batch = 1
	}
	return p, nil
}

// loadOurs restores a run checkpoint or an adapter (strict: train.LoadModel refuses
// left-over and missing tensors).
func (p *Predictor) loadOurs(sd *checkpoint.StateDict, opt Options) error {
	m, err := train.ModelFromStateDict(sd, opt.Checkpoint, opt.Backbone)
	if err != nil {
		return err
	}
	if opt.Classes != nil && !slices.Equal(opt.Classes, m.Classes) {
		return fmt.Errorf("read %s: the model's classes are its own (%d: %s ...); do not name others", opt.Checkpoint, len(m.Classes), m.Classes[0])
	}
	if m.PEFT != nil {
		if opt.Mode != "" {
			m.PEFT.Cfg.Mode = opt.Mode
		}
		if opt.Bank != "" {
			if m.PEFT.Bank, err = peft.LoadBank(opt.Bank, m.Backbone.Cfg.TransDim, m.BackboneHash); err != nil {
				return err
			}
		}
	}
	p.fromModel(m)
	return nil
}

// FromModel is the predictor of a model already loaded (e.g. an adapter on a
// train.SharedBackbone), fed Points = 16 per group; opt's Normalize and Batch apply,
// the rest names files and is ignored.
func FromModel(m *train.Model, opt Options) *Predictor {
	p := &Predictor{normalize: opt.Normalize, batch: cmp.Or(opt.Batch, 32)}
	p.fromModel(m)
	if p.Mode == peft.Faithful {
		p.batch = 1
	}
	return p
}

func (p *Predictor) fromModel(m *train.Model) {
	p.Net, p.Classes, p.Kind = m.Net, m.Classes, "pointpeft "+string(m.Method)+" model"
	if m.PEFT != nil {
		p.Mode = m.PEFT.Cfg.Mode
	}
	p.Points = 16 * m.Backbone.Cfg.NumGroup
}

// loadClassifier restores an official fine-tuned Point-MAE / Point-BERT classifier.
func (p *Predictor) loadClassifier(sd *checkpoint.StateDict, layout string, opt Options) error {
	if len(opt.Classes) < 2 {
		return fmt.Errorf("read %s: name its classes", opt.Checkpoint)
	}
	if opt.Bank != "" {
		return fmt.Errorf("read %s: a %s classifier has no memory bank", opt.Checkpoint, layout)
	}
	n := headClasses(checkpoint.MapKeys(sd, layout))
	if n == 0 {
		return fmt.Errorf("read %s: a pre-trained %s without a classification head: fine-tune it first", opt.Checkpoint, layout)
	}
	if n != len(opt.Classes) {
		return fmt.Errorf("read %s: its head predicts %d classes, %d names were given", opt.Checkpoint, n, len(opt.Classes))
	}
	bb, rep, err := train.BackboneFromStateDict(sd, opt.Checkpoint, len(opt.Classes), opt.Groups, opt.GroupSize)
	if err != nil {
		return err
	}
	if err := p.strict(opt, rep); err != nil {
		return err
	}
	p.Net, p.Classes, p.Kind, p.Points = bb, opt.Classes, layout+" classifier", 16*opt.Groups
	return nil
}

// headClasses is the output width of a state dict's classification head (0: none).
func headClasses(sd *checkpoint.StateDict) int {
	best := -1
	rows := 0
	for _, k := range sd.Keys {
		var i int
		if _, err := fmt.Sscanf(k, "cls_head_finetune.%d.weight", &i); err == nil && i > best && len(sd.Tensors[k].Shape) == 2 {
			best, rows = i, sd.Tensors[k].Shape[0]
		}
	}
	return rows
}

// loadAuthors restores the authors' fine-tuned Point-PEFT model: the pre-trained
// backbone first (the frozen prior encoder snapshots it), then every tensor of their
// checkpoint, then the memory bank.
func (p *Predictor) loadAuthors(sd *checkpoint.StateDict, opt Options) error {
	mapped := checkpoint.MapKeys(sd, checkpoint.LayoutPointPEFTAuthors)
	if len(opt.Classes) < 2 {
		return fmt.Errorf("read %s: name its classes", opt.Checkpoint)
	}
	if n := headClasses(mapped); n != len(opt.Classes) {
		return fmt.Errorf("read %s: its head predicts %d classes, %d names were given", opt.Checkpoint, n, len(opt.Classes))
	}
	mode := opt.Mode
	if mode == "" {
		mode = peft.Faithful
	}
	cfg, err := peft.ConfigFromStateDict(mapped, mode, opt.PromptLayers)
	if err != nil {
		return fmt.Errorf("read %s: %w", opt.Checkpoint, err)
	}
	cfg.PriorGroups, cfg.PriorGroupSize = opt.PriorGroups, opt.PriorGroupSize
	bb, err := pretrainedWithHead(opt, mapped)
	if err != nil {
		return err
	}
	m, err := peft.New(bb, cfg, rand.New(rand.NewPCG(0, 0)))
	if err != nil {
		return fmt.Errorf("read %s: %w", opt.Checkpoint, err)
	}
	rep, err := nn.LoadState(m, mapped)
	if err != nil {
		return fmt.Errorf("read %s: %w", opt.Checkpoint, err)
	}
	if err := p.strict(opt, rep); err != nil {
		return err
	}
	if opt.Bank == "" {
		if !opt.AllowPartial {
			return fmt.Errorf("read %s: the authors' Point-PEFT model needs its memory bank (their train_f_pos_shape_*.pt)", opt.Checkpoint)
		}
		p.Skipped = append(p.Skipped, "missing: the memory bank (prompts are the learned embeddings alone)")
	} else if m.Bank, err = peft.LoadBank(opt.Bank, bb.Cfg.TransDim, ""); err != nil {
		return err
	}
	if err := peft.SetTrainable(m.Params(), peft.MethodPointPEFT); err != nil {
		return err
	}
	p.Net, p.Classes, p.Mode, p.Points = m, opt.Classes, mode, 16*opt.Groups
	p.Kind = "the authors' Point-PEFT model (" + string(mode) + ")"
	return nil
}

// pretrainedWithHead is the pre-trained backbone opt names (the authors' cp model),
// with a head as wide as the fine-tuned checkpoint's, for the Point-PEFT model to be
// built on.
func pretrainedWithHead(opt Options, tuned *checkpoint.StateDict) (*model.PointTransformer, error) {
	pre, rep, err := train.LoadBackbone(opt.Backbone, len(opt.Classes), opt.Groups, opt.GroupSize)
	if err != nil {
		return nil, fmt.Errorf("the Point-PEFT checkpoint's pre-trained backbone: %w", err)
	}
	if u := train.Unused(rep); len(u) > 0 && !opt.AllowPartial {
		return nil, fmt.Errorf("the Point-PEFT checkpoint's pre-trained backbone %s: %d tensors would be ignored (%s)", backboneName(opt.Backbone), len(u), train.Abbrev(u, 8))
	}
	want, err := train.InferConfig(tuned)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", opt.Checkpoint, err)
	}
	if want.TransDim != pre.Cfg.TransDim || want.Depth != pre.Cfg.Depth {
		return nil, fmt.Errorf("read %s: %d blocks %d wide, but its pre-trained backbone %s has %d blocks %d wide (pass the Point-MAE it was fine-tuned from)",
			opt.Checkpoint, want.Depth, want.TransDim, backboneName(opt.Backbone), pre.Cfg.Depth, pre.Cfg.TransDim)
	}
	cfg := pre.Cfg
	cfg.HeadHidden = want.HeadHidden
	bb, err := model.New(cfg, rand.New(rand.NewPCG(0, 1)))
	if err != nil {
		return nil, err
	}
	sd := nn.StateDict(pre, false)
	for _, k := range append([]string(nil), sd.Keys...) {
		if strings.HasPrefix(k, "cls_head_finetune.") {
			sd.Delete(k)
		}
	}
	if _, err := nn.LoadState(bb, sd); err != nil {
		return nil, err
	}
	return bb, nil
}

// strict turns left-over and missing tensors into an error naming them, or with
// AllowPartial records them in Skipped.
func (p *Predictor) strict(opt Options, rep nn.LoadReport) error {
	if len(rep.Unexpected)+len(rep.Missing) == 0 {
		return nil
	}
	if !opt.AllowPartial {
		var parts []string
		if n := len(rep.Unexpected); n > 0 {
			parts = append(parts, fmt.Sprintf("%d tensors the model would ignore (%s)", n, train.Abbrev(rep.Unexpected, 8)))
		}
		if n := len(rep.Missing); n > 0 {
			parts = append(parts, fmt.Sprintf("%d tensors the model needs are missing (%s)", n, train.Abbrev(rep.Missing, 8)))
		}
		return fmt.Errorf("read %s: %s; allow a partial load on purpose to go on", opt.Checkpoint, strings.Join(parts, "; "))
	}
	for _, k := range rep.Unexpected {
		p.Skipped = append(p.Skipped, "unused: "+k)
	}
	for _, k := range rep.Missing {
		p.Skipped = append(p.Skipped, "missing: "+k)
	}
	return nil
}

func backboneName(path string) string {
	if path == "" {
		return "(the shipped backbone)"
	}
	return path
}

// ReadCloud reads a point-cloud or mesh file and brings it to p.Points points: a cloud
// that has them is used as stored, a larger one is reduced by farthest point sampling,
// a smaller one is filled by drawing its points with replacement, a mesh is sampled on
// its surface. sampler says which happened.
func (p *Predictor) ReadCloud(path string) (pts []float32, sampler string, err error) {
	c, err := pcio.ReadCloud(path)
	if err != nil {
		return nil, "", err
	}
	return p.PrepareCloud(c, path)
}

// PrepareCloud brings a cloud or mesh already read to p.Points points, as ReadCloud
// does; name names it in errors.
func (p *Predictor) PrepareCloud(c pcio.Cloud, name string) (pts []float32, sampler string, err error) {
	n := p.Points
	for i, v := range c.Points {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, "", fmt.Errorf("%s: point %d has non-finite coordinate %v", name, i/3, v)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	switch {
	case c.IsMesh():
		sampler = "surface"
		if pts, err = dataset.SampleSurface(c.Points, c.Faces, n, rng); err != nil {
			return nil, "", fmt.Errorf("%s: %w", name, err)
		}
	case c.Len() == 0:
		return nil, "", fmt.Errorf("%s: no points", name)
	case c.Len() == n:
		pts, sampler = c.Points, "as stored"
	case c.Len() > n:
		sampler = "fps"
		idx, err := geom.FPS(c.Points, 1, c.Len(), n)
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", name, err)
		}
		if pts, err = geom.Gather(c.Points, 1, c.Len(), idx, n); err != nil {
			return nil, "", fmt.Errorf("%s: %w", name, err)
		}
	default:
		sampler = "resampled"
		pts = append([]float32(nil), c.Points...)
		for len(pts) < n*3 {
			j := rng.IntN(c.Len())
			pts = append(pts, c.Points[3*j:3*j+3]...)
		}
	}
	if p.normalize {
		if err := geom.NormalizeUnitSphere(pts, 1, n); err != nil {
			return nil, "", fmt.Errorf("%s: %w", name, err)
		}
	}
	return pts, sampler, nil
}

// Logits runs the model over count clouds of p.Points points each, in batches, and
// returns [count, classes] logits.
func (p *Predictor) Logits(clouds []float32, count int) ([]float32, error) {
	n := p.Points
	if len(clouds) != count*n*3 {
		return nil, fmt.Errorf("predict: %d values for %d clouds of %d points", len(clouds), count, n)
	}
	out := make([]float32, 0, count*len(p.Classes))
	for lo := 0; lo < count; lo += p.batch {
		hi := min(lo+p.batch, count)
		var logits *tensor.Tensor
		var err error
		tensor.NoGrad(func() { logits, err = p.Net.Forward(&nn.Ctx{}, clouds[lo*n*3:hi*n*3], hi-lo, n) })
		if err != nil {
			return nil, err
		}
		if logits.Dim(1) != len(p.Classes) {
			return nil, fmt.Errorf("predict: the model gives %d classes, %d are named", logits.Dim(1), len(p.Classes))
		}
		out = append(out, logits.Data...)
	}
	return out, nil
}

// PredictFiles reads every file first (so a bad one fails before any result), then
// classifies them and keeps the top classes of each (top < 1 or more than the classes:
// all).
func (p *Predictor) PredictFiles(paths []string, top int) ([]Prediction, error) {
	clouds := make([]float32, 0, len(paths)*p.Points*3)
	samplers := make([]string, len(paths))
	for i, f := range paths {
		c, s, err := p.ReadCloud(f)
		if err != nil {
			return nil, err
		}
		clouds, samplers[i] = append(clouds, c...), s
	}
	logits, err := p.Logits(clouds, len(paths))
	if err != nil {
		return nil, err
	}
	k := len(p.Classes)
	preds := make([]Prediction, len(paths))
	for i, f := range paths {
		preds[i] = p.Rank(logits[i*k:(i+1)*k], top)
		preds[i].File, preds[i].Sampler = f, samplers[i]
	}
	return preds, nil
}

// Rank turns one cloud's logits into its class and its top classes by probability
// (top < 1 or more than the classes: all).
func (p *Predictor) Rank(row []float32, top int) Prediction {
	k := len(p.Classes)
	if top < 1 || top > k {
		top = k
	}
	prob := Softmax(row)
	order := make([]int, k)
	for j := range order {
		order[j] = j
	}
	sort.SliceStable(order, func(a, b int) bool { return prob[order[a]] > prob[order[b]] })
	pr := Prediction{Class: p.Classes[order[0]], Prob: prob[order[0]], Logits: row}
	for _, j := range order[:top] {
		pr.Top = append(pr.Top, ClassProb{p.Classes[j], prob[j]})
	}
	return pr
}

// Softmax returns the probabilities of a row of logits.
func Softmax(row []float32) []float32 {
	x := tensor.FromData(append([]float32(nil), row...), 1, len(row))
	var pr *tensor.Tensor
	tensor.NoGrad(func() { pr = tensor.Softmax(x) })
	return pr.Data
}
