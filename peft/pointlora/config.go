package pointlora

import (
	"fmt"
	"github.com/pointpeft/pointpeft/peft"
	"math"
	"strings"

	"github.com/pointpeft/pointpeft/model"
)

// Mode selects between the released forward pass and the intended one. They differ only
// where the backbone has fewer point tokens than the released code's hard-coded 128
// (ModelNet40's 64×32 grouping); on PB_T50_RS (128×32) they are the same model.
type Mode = peft.Mode

const (
	// Faithful applies the point-token prompt MLP to tokens 1…128, as the released
	// TransformerEncoder does whatever the grouping: with 64 point tokens it reaches the
	// 40 selected tokens as well, which then get both prompt MLPs.
	Faithful = peft.Faithful
	// Fixed applies it to the backbone's point tokens only.
	Fixed = peft.Fixed
)

// Scale is one token-selection scale: the cloud grouped into Groups neighbourhoods of
// GroupSize points, of whose tokens the mask predictor keeps the Keep most probable.
type Scale struct {
	Groups    int `yaml:"groups" json:"groups"`
	GroupSize int `yaml:"group_size" json:"group_size"`
	Keep      int `yaml:"keep" json:"keep"`
}

// Config holds PointLoRA's hyper-parameters. The released code hard-codes all of them
// (models/PointLoRA.py, tools/runner_finetune_pointlora.py); its values are those of
// ScanObjectNN and ModelNet40.
type Config struct {
	Mode Mode `yaml:"mode" json:"mode"`
	// Rank r of every LoRA update (the authors' gamma, 8) and Alpha (lora_alpha, 8):
	// the update is (Alpha/Rank)·B·A.
	Rank  int     `yaml:"rank" json:"rank"`
	Alpha float32 `yaml:"alpha" json:"alpha"`
	// PromptHidden is the bottleneck width of the four prompt MLPs (32).
	PromptHidden int `yaml:"prompt_hidden" json:"prompt_hidden"`
	// Scales are the two token-selection scales: 128×32 keeping 32, 64×64 keeping 8.
	Scales [2]Scale `yaml:"scales" json:"scales"`
	// ScaleLossWeights weight each scale's entropy term within the mask loss (1, 0.25),
	// and MaskLossWeight the mask loss within the training loss (0.004).
	ScaleLossWeights [2]float32 `yaml:"scale_loss_weights" json:"scale_loss_weights"`
	MaskLossWeight   float32    `yaml:"mask_loss_weight" json:"mask_loss_weight"`
	// PromptTokens is how many tokens after cls the point-token prompt MLP covers in
	// faithful mode: the released code's hard-coded num_gruop, 128.
	PromptTokens int `yaml:"prompt_tokens" json:"prompt_tokens"`
}

// ScanObjectNN is the authors' PB_T50_RS configuration (cfgs/finetune_scan_hardest_
// pointlora.yaml with the values hard-coded in the released model and runner).
func ScanObjectNN() Config {
	return Config{Mode: Faithful, Rank: 8, Alpha: 8, PromptHidden: 32,
		Scales:           [2]Scale{{Groups: 128, GroupSize: 32, Keep: 32}, {Groups: 64, GroupSize: 64, Keep: 8}},
		ScaleLossWeights: [2]float32{1, 0.25}, MaskLossWeight: 0.004, PromptTokens: 128}
}

// ModelNet40 is the configuration for ModelNet40. The authors released no ModelNet40
// config; their model hard-codes every PointLoRA setting, so it is ScanObjectNN's, on
// the backbone of Point-MAE's finetune_modelnet.yaml (see Recipe). Faithful mode keeps
// the released prompt-MLP range, which covers the selected tokens there.
func ModelNet40() Config { return ScanObjectNN() }

// Selected is the number of selected tokens appended to the sequence (32 + 8).
func (c Config) Selected() int { return c.Scales[0].Keep + c.Scales[1].Keep }

// Validate reports the first inconsistent value for a backbone of numGroup point
// tokens.
func (c Config) Validate(numGroup int) error {
	switch {
	case c.Mode != Faithful && c.Mode != Fixed:
		return fmt.Errorf("pointlora config: mode %q is neither faithful nor fixed", c.Mode)
	case c.Rank < 1:
		return fmt.Errorf("pointlora config: rank %d must be positive", c.Rank)
	case c.PromptHidden < 1:
		return fmt.Errorf("pointlora config: prompt_hidden %d must be positive", c.PromptHidden)
	case c.Mode == Faithful && c.PromptTokens < 1:
		return fmt.Errorf("pointlora config: prompt_tokens %d must be positive", c.PromptTokens)
	case numGroup < 1:
		return fmt.Errorf("pointlora config: the backbone has %d point tokens", numGroup)
	}
	for i, s := range c.Scales {
		if s.Groups < 1 || s.GroupSize < 1 || s.Keep < 1 || s.Keep > s.Groups {
			return fmt.Errorf("pointlora config: scale %d keeps %d of %d groups of %d points: need 1 ≤ keep ≤ groups and positive sizes",
				i+1, s.Keep, s.Groups, s.GroupSize)
		}
	}
	return nil
}

// trainable are the substrings of the authors' filter (tools/builder.py, optimizer part
// "pointlora"), matched against names without DataParallel's "module.".
var trainable = []string{"cls", "prompt", "first_conv", "pos_embed", "lora_"}

// Trains reports whether the authors' filter trains the named parameter: the cls token
// and position, the head, the prompt MLPs, the encoder's first_conv, the positional
// MLP, the LoRA matrices and the mask predictor. The frozen rest includes every gate
// ("…qkv.weight", a constant 1), the norms and the block MLPs.
func Trains(name string) bool {
	for _, s := range trainable {
		if strings.Contains(name, s) {
			return true
		}
	}
	return false
}

// Recipe is a training recipe from the authors' released configuration, in the units
// of this repository's training loop.
type Recipe struct {
	// Backbone is the classifier to build (classes, grouping, drop path).
	Backbone model.Config
	Points   int // points per cloud fed to the model (FPS from the file's points)
	// Optimiser: AdamW; no weight decay for 1-D tensors, biases and names containing
	// "token", as optim.Groups does.
	LR, WeightDecay float64
	// Schedule: timm CosineLRScheduler per epoch, linear warm-up from WarmupLR over
	// WarmupEpochs, cosine down to MinLR at Epochs.
	Epochs, WarmupEpochs int
	WarmupLR, MinLR      float64
	BatchSize            int
	ClipNorm             float64
	// Augment is the training augmentation: Point-MAE's PointcloudScaleAndTranslate
	// (scale U(2/3, 3/2) per axis, shift U(−0.2, 0.2)); the runner's rotation line is
	// commented out. The training clouds are first reduced by FPS to FPSPool points and
	// Points of those drawn at random; the test clouds by FPS to Points.
	Augment string
	// FPSPool is that pool, from the runner's table: 2400 points for 2048, 1200 for
	// 1024, lowered to the clouds' size when they hold fewer (train.Config.FPSPool,
	// FPSPoolCap).
	FPSPool int
	// Method is the trainable set: Trains.
	Method string
}

// RecipeScanObjectNN is cfgs/finetune_scan_hardest_pointlora.yaml: 15 classes, 2048
// points in 128 groups of 32, drop path 0.3, AdamW lr 5e-4 wd 0.05, 300 epochs with 10
// of warm-up, batch 32, clip 10.
func RecipeScanObjectNN() Recipe {
	bb := model.PointMAE(15, 128, 32)
	bb.DropPath = 0.3
	return recipe(bb, 2048, 2400)
}

// RecipeModelNet40 is Point-MAE's cfgs/finetune_modelnet.yaml, as the authors released no
// ModelNet40 config: 40 classes, 1024 points in 64 groups of 32, drop path 0.1, the
// same optimiser and schedule.
func RecipeModelNet40() Recipe {
	bb := model.PointMAE(40, 64, 32)
	bb.DropPath = 0.1
	return recipe(bb, 1024, 1200)
}

func recipe(bb model.Config, points, pool int) Recipe {
	return Recipe{Backbone: bb, Points: points, LR: 5e-4, WeightDecay: 0.05, Epochs: 300, WarmupEpochs: 10,
		WarmupLR: 1e-6, MinLR: 1e-6, BatchSize: 32, ClipNorm: 10, Augment: "scale-translate", FPSPool: pool,
		Method: "pointlora"}
}

func sqrt(n int) float64 { return math.Sqrt(float64(n)) }
