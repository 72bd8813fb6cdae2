package dapt

import (
	"fmt"
	"strings"
)

// Config holds DAPT's hyper-parameters, with the field names of the authors' model
// configs (cfgs/finetune_*_dapt.yaml). The backbone's sizes (width, depth, heads,
// grouping, classes) come from the backbone itself.
type Config struct {
	// Rank is the Dynamic Adapter's bottleneck width.
	Rank int `yaml:"rank" json:"rank"`
	// AdapterDropout is the dropout on the adapter's hidden activations
	// (drop_adapter_rate).
	AdapterDropout float32 `yaml:"drop_adapter_rate" json:"drop_adapter_rate"`
	// DropPath is the stochastic-depth rate of the last block, linear from 0 in the
	// first (drop_path_rate). It replaces the backbone's own rate: DAPT sets it per task.
	DropPath float32 `yaml:"drop_path_rate" json:"drop_path_rate"`
	// PromptToken says whether and how the head reads the internal prompts besides the
	// cls token and the max-pooled patch tokens: "mean", "max" or "none" ("None", the
	// authors' spelling, is the same).
	PromptToken string `yaml:"prompt_token" json:"prompt_token"`
}

// ScanObjectNN is the authors' PB_T50_RS configuration (finetune_scan_hardest_dapt.yaml):
// rank 64, adapter dropout 0.2, drop path 0.3, the head reading cls, the mean of the
// internal prompts and the max of the patch tokens. OBJ_ONLY and OBJ_BG differ only in
// AdapterDropout (see ObjectDropout).
func ScanObjectNN() Config {
	return Config{Rank: 64, AdapterDropout: 0.2, DropPath: 0.3, PromptToken: "mean"}
}

// ObjectDropout is drop_adapter_rate of the authors' other ScanObjectNN variants
// (finetune_scan_objbg_dapt.yaml, finetune_scan_objonly_dapt.yaml).
var ObjectDropout = map[string]float32{"OBJ_BG": 0.5, "OBJ_ONLY": 0.5}

// ModelNet40 is the authors' ModelNet40 configuration (finetune_modelnet_dapt.yaml):
// rank 72, no adapter dropout, drop path 0.1, and a head that reads cls and the max of
// the patch tokens only (the internal prompts still take part in attention).
func ModelNet40() Config {
	return Config{Rank: 72, AdapterDropout: 0, DropPath: 0.1, PromptToken: "none"}
}

// Validate reports the first unusable value.
func (c Config) Validate() error {
	switch {
	case c.Rank < 1:
		return fmt.Errorf("dapt config: rank %d must be positive", c.Rank)
	case c.AdapterDropout < 0 || c.AdapterDropout >= 1 || c.DropPath < 0 || c.DropPath >= 1:
		return fmt.Errorf("dapt config: drop_adapter_rate %g and drop_path_rate %g must be in [0,1)", c.AdapterDropout, c.DropPath)
	case c.PromptToken != "mean" && c.PromptToken != "max" && !c.noPrompt():
		return fmt.Errorf("dapt config: prompt_token %q is none of mean, max, none", c.PromptToken)
	}
	return nil
}

// noPrompt reports whether the head ignores the internal prompts.
func (c Config) noPrompt() bool { return c.PromptToken == "none" || c.PromptToken == "None" }

// headChannels is how many C-wide features the head reads.
func (c Config) headChannels() int {
	if c.noPrompt() {
		return 2
	}
	return 3
}

// Trains reports whether the authors' trainable filter selects the named parameter
// (tools/builder.py, optimizer part "dapt"): a name containing "cls" (cls token, its
// position, the head), "tfts" (every scale-and-shift) or "Adapter" (the Dynamic
// Adapters, their LayerNorm and scale layer included). Everything else is frozen.
func Trains(name string) bool {
	return strings.Contains(name, "cls") || strings.Contains(name, "tfts") || strings.Contains(name, "Adapter")
}

// Recipe is the authors' fine-tuning recipe (cfgs/finetune_*_dapt.yaml,
// tools/runner_finetune.py, tools/builder.py). Its fields are named as train.Config's,
// which it maps onto one to one; Model is the method's Config, and the trainable set is
// Trains. One detail of the authors' loop has no field here: the frozen encoder's
// BatchNorm layers run in training mode (batch statistics, running statistics updated),
// as train's loop does for every method.
type Recipe struct {
	Model Config
	// Epochs: the authors' loop runs epochs 0..max_epoch, i.e. 301 passes; 300 is the
	// configured max_epoch and the cosine's length.
	Epochs    int
	BatchSize int
	// AdamW with the reference's weight-decay groups (no decay on 1-D tensors, biases
	// and names containing "token").
	LR, WeightDecay float64
	// Schedule "epoch": timm's CosineLRScheduler stepped once per epoch, warm-up from
	// WarmupLR over WarmupEpochs, cosine down to MinLR.
	Schedule            string
	WarmupEpochs        int
	WarmupLR, MinLR     float64
	ClipNorm            float64
	Smoothing           float32
	Augment             string // "scale-translate": U(2/3, 3/2)³ scale, U(±0.2)³ shift per sample
	Vote                int    // 1: the authors report accuracy without voting
	Seed                uint64 // the authors' default --seed 0 ("seed 0 + dropout" reproduces them)
	Points              int    // points per cloud given to the model
	NumGroup, GroupSize int    // the backbone's grouping for that many points
	Classes             int
	// FPSPool: a training batch is the FPS of min(n, FPSPool) of its clouds' n points
	// (1200 for 1024 points, 2400 for 2048), of which a random Points are kept; an
	// evaluation batch is the FPS of Points.
	FPSPool int
}

// ScanObjectNNRecipe is the PB_T50_RS recipe: 2048 points in 128 groups of 32, 15
// classes, AdamW lr 5e-4 and weight decay 0.05, 10 warm-up epochs from 1e-6, cosine to
// 1e-6 over 300 epochs, batch 32, gradient clipping at 10, scale-and-translate.
func ScanObjectNNRecipe() Recipe {
	return Recipe{Model: ScanObjectNN(), Epochs: 300, BatchSize: 32, LR: 5e-4, WeightDecay: 0.05, Schedule: "epoch",
		WarmupEpochs: 10, WarmupLR: 1e-6, MinLR: 1e-6, ClipNorm: 10, Augment: "scale-translate", Vote: 1,
		Points: 2048, NumGroup: 128, GroupSize: 32, Classes: 15, FPSPool: 2400}
}

// ModelNet40Recipe is the ModelNet40 recipe: as PB_T50_RS but 1024 points (an FPS pool
// of 1200) in 64 groups of 32, 40 classes, and the ModelNet40 model configuration.
func ModelNet40Recipe() Recipe {
	r := ScanObjectNNRecipe()
	r.Model, r.Points, r.NumGroup, r.Classes, r.FPSPool = ModelNet40(), 1024, 64, 40, 1200
	return r
}

// ScanObjectNNGroups is the grouping from which a backbone gets DAPT's ScanObjectNN
// configuration (ConfigFor): the 128 groups of its 2048-point recipe.
const ScanObjectNNGroups = 128

// ConfigFor is the released configuration DAPT builds on a backbone of numGroup
// groups: ScanObjectNN's from ScanObjectNNGroups on, ModelNet40's below. The backbone
// decides, not the data set, because a model is rebuilt from an adapter file that
// records the backbone's configuration and nothing of the data. Training picks the
// recipe by the data set's kind instead, and each recipe's grouping (128 or 64 groups)
// then selects that kind's configuration; a grouping set against the recipe selects
// the configuration of the grouping.
func ConfigFor(numGroup int) Config {
	if numGroup >= ScanObjectNNGroups {
		return ScanObjectNN()
	}
	return ModelNet40()
}
