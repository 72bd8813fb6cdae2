package peft

import (
	"fmt"

	"github.com/pointpeft/pointpeft/checkpoint"
)

// Mode selects between reproducing the authors' released code and the corrected model.
type Mode string

const (
	// Faithful is the released forward pass: prompt layers group over FPS of
	// [prompt_cor; raw points] and gather the level-2 neighbourhoods with stride G from a
	// table of stride T+G, mixing rows across the batch (spec §4.3).
	Faithful Mode = "faithful"
	// Fixed gives prompt tokens their learnable coordinates: the level-2 grouping of
	// prompt layers runs over [prompt_cor; centres] and gathers with stride T+G.
	Fixed Mode = "fixed"
)

// Config holds Point-PEFT's hyper-parameters. Defaults are the authors' PB_T50_RS values.
type Config struct {
	Mode Mode `yaml:"mode" json:"mode"`
	// NumTokens is T, the prompt tokens per prompt layer; the memory bank contributes
	// K = T−2 retrieved features (the cache prompt is [query; weighted sum; K features]).
	NumTokens int `yaml:"num_tokens" json:"num_tokens"`
	// PromptLayers are the blocks that get prompts; empty means the first half of the
	// backbone's blocks, as the authors' 6 of 12 (see Resolve).
	PromptLayers []int `yaml:"prompt_layers" json:"prompt_layers"`
	AdapterDim   int   `yaml:"adapter_dim" json:"adapter_dim"`
	// CPReduction is the bottleneck width of the per-layer cache-prompt adapter.
	CPReduction    int     `yaml:"cp_reduction" json:"cp_reduction"`
	AdapterDropout float32 `yaml:"adapter_dropout" json:"adapter_dropout"`
	PromptDropout  float32 `yaml:"prompt_dropout" json:"prompt_dropout"`
	// Attn1Dim is the inner width of the GA local attention (18 = 6 heads × 3).
	Attn1Dim int `yaml:"attn1_dim" json:"attn1_dim"`
	// AdCof scales the FFN adapter, CenterCof the centre token added to the pooled
	// neighbourhood, ProCof the propagated feature (0.7, 0.3, 0.3).
	AdCof     float32 `yaml:"ad_cof" json:"ad_cof"`
	CenterCof float32 `yaml:"center_cof" json:"center_cof"`
	ProCof    float32 `yaml:"pro_cof" json:"pro_cof"`
	// PriorGroups and PriorGroupSize are the frozen prior encoder's grouping (64×32).
	PriorGroups    int `yaml:"prior_groups" json:"prior_groups"`
	PriorGroupSize int `yaml:"prior_group_size" json:"prior_group_size"`
}

// ScanObjectNN is the authors' PB_T50_RS configuration: T=10 prompts in layers 0–5.
func ScanObjectNN(mode Mode) Config {
	return Config{Mode: mode, NumTokens: 10, PromptLayers: []int{0, 1, 2, 3, 4, 5}, AdapterDim: 16, CPReduction: 8,
		AdapterDropout: 0.1, PromptDropout: 0.1, Attn1Dim: 18, AdCof: 0.7, CenterCof: 0.3, ProCof: 0.3,
		PriorGroups: 64, PriorGroupSize: 32}
}

// ModelNet40 is the configuration of the authors' compiled ModelNet40 model: T=16
// prompts (K=14) in all 12 layers. Its coefficients came from the command line with
// unknown values; the PB_T50_RS ones are used.
func ModelNet40(mode Mode) Config {
	c := ScanObjectNN(mode)
	c.NumTokens = 16
	c.PromptLayers = []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}
	return c
}

// Resolve fills what depends on the backbone: empty PromptLayers become the first half
// of its depth blocks.
func (c Config) Resolve(depth int) Config {
	if len(c.PromptLayers) == 0 {
		for i := 0; i < max(depth/2, 1); i++ {
			c.PromptLayers = append(c.PromptLayers, i)
		}
	}
	return c
}

// K is the number of memory-bank features retrieved per sample.
func (c Config) K() int { return c.NumTokens - 2 }

// Validate reports the first inconsistent value for a backbone of the given depth and
// width.
func (c Config) Validate(depth, dim int) error {
	switch {
	case c.Mode != Faithful && c.Mode != Fixed:
		return fmt.Errorf("point-peft config: mode %q is neither faithful nor fixed", c.Mode)
	case c.NumTokens < 3:
		return fmt.Errorf("point-peft config: num_tokens %d: need at least 3 (query, weighted sum, one retrieved feature)", c.NumTokens)
	case c.AdapterDim < 1 || c.CPReduction < 1 || c.Attn1Dim < 1:
		return fmt.Errorf("point-peft config: adapter widths must be positive")
	case c.AdapterDropout < 0 || c.AdapterDropout >= 1 || c.PromptDropout < 0 || c.PromptDropout >= 1:
		return fmt.Errorf("point-peft config: dropout rates must be in [0,1)")
	case c.PriorGroups < 1 || c.PriorGroupSize < 1:
		return fmt.Errorf("point-peft config: prior grouping %d×%d must be positive", c.PriorGroups, c.PriorGroupSize)
	}
	for _, l := range c.PromptLayers {
		if l < 0 || l >= depth {
			return fmt.Errorf("point-peft config: prompt layer %d outside the backbone's %d blocks", l, depth)
		}
	}
	return nil
}

func (c Config) isPromptLayer(i int) bool {
	for _, l := range c.PromptLayers {
		if l == i {
			return true
		}
	}
	return false
}

// ConfigFromStateDict reads the sizes of a Point-PEFT model off its tensors (the
// authors' names, after checkpoint.MapKeys): T from prompt_cor, the adapter and
// cache-prompt adapter widths from block 0, the local attention's width from
// blocks.attn1. Which blocks take prompts is not recorded in the weights (every block
// has prompt embeddings): promptLayers gives them, empty meaning the first half as in
// the authors' ScanObjectNN model. The rest is the PB_T50_RS configuration.
func ConfigFromStateDict(sd *checkpoint.StateDict, mode Mode, promptLayers []int) (Config, error) {
	rows := func(k string) (int, error) {
		t, ok := sd.Tensors[k]
		if !ok || len(t.Shape) < 1 {
			return 0, fmt.Errorf("point-peft checkpoint: no %s tensor", k)
		}
		return t.Shape[0], nil
	}
	c := ScanObjectNN(mode)
	c.PromptLayers = promptLayers
	var err error
	if c.NumTokens, err = rows("prompt_cor"); err != nil {
		return c, err
	}
	if c.AdapterDim, err = rows("blocks.blocks.0.adapter.ln1.weight"); err != nil {
		return c, err
	}
	if c.CPReduction, err = rows("blocks.blocks.0.cp_adapter.ln1.weight"); err != nil {
		return c, err
	}
	qkv, err := rows("blocks.attn1.qkv.weight")
	if err != nil {
		return c, err
	}
	c.Attn1Dim = qkv / 3
	return c, nil
}
