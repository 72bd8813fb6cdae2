package train

import (
	"fmt"
	"io"
	"math"
	"os"

	"gopkg.in/yaml.v3"

	"github.com/pointpeft/pointpeft/dataset"
	"github.com/pointpeft/pointpeft/peft"
)

// Spec is everything a fine-tuning run is made from. A run saves it in config.yaml
// (key "spec"); LoadFile reads it back, and Finetune with Resume reuses it.
type Spec struct {
	// Backbone is the pre-trained backbone file; empty means the shipped one
	// (assets.SmallBackbone).
	Backbone string `yaml:"backbone"`
	// Data is a data source as dataset.Open takes it.
	Data   string `yaml:"data"`
	Method string `yaml:"method"`
	// Recipe names the method's released recipe the settings started from (SpecFor);
	// empty: the reference recipe. Any of its values may have been set otherwise since.
	Recipe string `yaml:"recipe,omitempty"`
	// Points, Groups and GroupSize of 0 take the data source's reference settings
	// (dataset.Reference); so does an empty Train.Augment.
	Points    int `yaml:"points"`
	Groups    int `yaml:"groups"`
	GroupSize int `yaml:"group_size"`
	// Bank is a memory bank file for point-peft; empty builds one from the training
	// split (or reuses the resumed run's).
	Bank string `yaml:"bank"`
	// Val, when positive, holds out that fraction of the training split (stratified,
	// drawn from ValSeed) for validation: it is scored every epoch and chooses the best
	// epoch, so learning rate and epochs are tuned without the test set.
	Val     float64     `yaml:"val_fraction"`
	ValSeed uint64      `yaml:"val_seed"`
	Train   Config      `yaml:"train"`
	PEFT    peft.Config `yaml:"point_peft"`
	// AllowPartial loads a backbone file even when tensors beyond its pre-training-only
	// parts would be ignored (they are listed); otherwise that is an error.
	AllowPartial bool `yaml:"allow_partial"`
}

// DefaultSpec is a Point-PEFT run (fixed mode) with the reference recipe on the shipped
// backbone; Data must still be set.
func DefaultSpec() Spec {
	cfg := DefaultConfig()
	cfg.Augment = ""
	pc := peft.ScanObjectNN(peft.Fixed)
	pc.PromptLayers = nil // the first half of whatever backbone is loaded
	return Spec{Method: string(peft.MethodPointPEFT), Train: cfg, PEFT: pc}
}

// Resolve fills what Spec leaves to the data source (points, grouping, augmentation)
// and clamps a warm-up that takes more than half of the run to a tenth of it; notes
// say what it changed.
func (s Spec) Resolve() (Spec, []string) {
	ref := dataset.Reference(s.Data)
	var notes []string
	if s.Points == 0 {
		s.Points = ref.Points
	}
	if s.Groups == 0 {
		s.Groups = ref.Groups
	}
	if s.GroupSize == 0 {
		s.GroupSize = ref.GroupSize
	}
	if s.Train.Augment == "" {
		s.Train.Augment = ref.Augment
	}
	if w, e := s.Train.WarmupEpochs, s.Train.Epochs; e > 0 && 2*w > e {
		s.Train.WarmupEpochs = e / 10
		notes = append(notes, fmt.Sprintf("warm-up of %d epochs does not fit a %d-epoch run: clamped to %d", w, e, s.Train.WarmupEpochs))
	}
	return s, notes
}

// Validate reports the first unusable setting of a resolved spec.
func (s Spec) Validate() error {
	if s.Data == "" {
		return fmt.Errorf("no data source (--data)")
	}
	method := peft.Method(s.Method)
	if _, err := method.Trains(""); err != nil {
		return err
	}
	switch {
	case s.Points < 1 || s.Groups < 1 || s.GroupSize < 1:
		return fmt.Errorf("points %d, groups %d, group size %d: all must be positive", s.Points, s.Groups, s.GroupSize)
	case s.Groups > s.Points || s.GroupSize > s.Points:
		return fmt.Errorf("%d groups of %d points do not fit clouds of %d points", s.Groups, s.GroupSize, s.Points)
	}
	if err := s.Train.Validate(); err != nil {
		return err
	}
	if p := s.Train.FPSPool; p > 0 && p < s.Points {
		return fmt.Errorf("fps_pool %d is smaller than points %d: the model's points are drawn from the pool", p, s.Points)
	}
	if !(s.Val >= 0 && s.Val < 1) {
		return fmt.Errorf("validation fraction %g outside [0, 1)", s.Val)
	}
	if method == peft.MethodPointPEFT && s.PEFT.Mode != peft.Faithful && s.PEFT.Mode != peft.Fixed {
		return fmt.Errorf("point-peft mode %q is neither faithful nor fixed", s.PEFT.Mode)
	}
	if _, ok := peft.LookupMethod(method); ok {
		if _, err := peft.ResolveMode(method, s.PEFT.Mode); err != nil {
			return err
		}
	}
	return nil
}

// Write prints the resolved settings, one line each, as a run starts.
func (s Spec) Write(w io.Writer) error {
	backbone := s.Backbone
	if backbone == "" {
		backbone = "shipped (" + shippedName + ")"
	}
	c := s.Train
	recipe := "the reference recipe"
	if s.Recipe != "" {
		recipe = s.Recipe
	}
	pool := ""
	if c.FPSPool > 0 {
		pool = fmt.Sprintf(", drawn from an FPS pool of %d in training", c.FPSPool)
	}
	_, err := fmt.Fprintf(w, "settings: method %s, backbone %s, data %s, from %s\n"+
		"  %d points%s, %d groups of %d; %d epochs (%d warm-up), batch %d, lr %g → %g (%s schedule), weight decay %g, clip %g, augment %s, vote %d, seed %d\n",
		s.Method, backbone, s.Data, recipe, s.Points, pool, s.Groups, s.GroupSize, c.Epochs, c.WarmupEpochs, c.BatchSize, c.LR,
		c.MinLR, c.Schedule, c.WeightDecay, c.ClipNorm, c.Augment, c.Vote, c.Seed)
	if err == nil && peft.Method(s.Method) == peft.MethodPointPEFT {
		bank := s.Bank
		if bank == "" {
			bank = "built from the training split"
		}
		_, err = fmt.Fprintf(w, "  point-peft: mode %s, %d prompt tokens, prompt layers %v (empty: first half), prior %d×%d, bank %s\n",
			s.PEFT.Mode, s.PEFT.NumTokens, s.PEFT.PromptLayers, s.PEFT.PriorGroups, s.PEFT.PriorGroupSize, bank)
	}
	if _, ok := peft.LookupMethod(peft.Method(s.Method)); ok && err == nil {
		mode, _ := peft.ResolveMode(peft.Method(s.Method), s.PEFT.Mode)
		_, err = fmt.Fprintf(w, "  %s: mode %s\n", s.Method, mode)
	}
	return err
}

// referenceConfig is the subset of the authors' YAML configs (cfgs/finetune_*.yaml)
// that maps onto a Spec.
type referenceConfig struct {
	Optimizer struct {
		Kwargs struct {
			LR          *float64 `yaml:"lr"`
			WeightDecay *float64 `yaml:"weight_decay"`
		} `yaml:"kwargs"`
	} `yaml:"optimizer"`
	Scheduler struct {
		Kwargs struct {
			Epochs        *int `yaml:"epochs"`
			InitialEpochs *int `yaml:"initial_epochs"`
		} `yaml:"kwargs"`
	} `yaml:"scheduler"`
	Model struct {
		NumGroup  *int `yaml:"num_group"`
		GroupSize *int `yaml:"group_size"`
	} `yaml:"model"`
	NPoints      *int     `yaml:"npoints"`
	TotalBS      *int     `yaml:"total_bs"`
	MaxEpoch     *int     `yaml:"max_epoch"`
	GradNormClip *float64 `yaml:"grad_norm_clip"`
}

// LoadFile reads settings on top of s from either our layout (a run's config.yaml, or
// a file with its "spec" layout) or the authors' config format (cfgs/finetune_*.yaml:
// optimizer and scheduler kwargs, npoints, total_bs, max_epoch, grad_norm_clip and the
// model's grouping).
func (s *Spec) LoadFile(path string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	if sub, ok := doc["spec"]; ok {
		if raw, err = yaml.Marshal(sub); err != nil {
			return err
		}
	}
	if err := yaml.Unmarshal(raw, s); err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	var ref referenceConfig
	if err := yaml.Unmarshal(raw, &ref); err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	set(&s.Train.LR, ref.Optimizer.Kwargs.LR)
	set(&s.Train.WeightDecay, ref.Optimizer.Kwargs.WeightDecay)
	set(&s.Train.Epochs, ref.Scheduler.Kwargs.Epochs)
	set(&s.Train.WarmupEpochs, ref.Scheduler.Kwargs.InitialEpochs)
	set(&s.Train.Epochs, ref.MaxEpoch)
	set(&s.Train.BatchSize, ref.TotalBS)
	set(&s.Train.ClipNorm, ref.GradNormClip)
	set(&s.Points, ref.NPoints)
	set(&s.Groups, ref.Model.NumGroup)
	set(&s.GroupSize, ref.Model.GroupSize)
	return nil
}

func set[T int | float64](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

// finite reports whether every value is a finite number.
func finite(vs ...float64) bool {
	for _, v := range vs {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return false
		}
	}
	return true
}
