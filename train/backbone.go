package train

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"

	"github.com/pointpeft/pointpeft/assets"
	"github.com/pointpeft/pointpeft/checkpoint"
	"github.com/pointpeft/pointpeft/model"
	"github.com/pointpeft/pointpeft/nn"
)

// Metadata keys of pointpeft's own safetensors files.
const (
	MetaModelConfig = "model_config" // model.Config as JSON
	MetaPEFTConfig  = "peft_config"  // peft.Config as JSON (point-peft runs)
	MetaMethod      = "method"
	MetaMode        = "method_mode" // the mode of a registered method (peft.RegisterMethod)
	MetaClasses     = "classes"     // class names as a JSON list
	MetaBackbone    = "backbone"
	MetaEpoch       = "epoch"
)

// LoadBackbone reads a pre-trained backbone from path (an official Point-MAE / Point-BERT
// .pth, or one of ours) and builds a classifier for classes with grouping numGroup ×
// groupSize. The architecture comes from the file's metadata when it is ours, and is
// otherwise inferred from the tensor shapes (heads stay at 6, the only value the
// official models use). The head is new when the class count differs from the file's.
// An empty path loads the shipped backbone (assets.SmallBackbone).
func LoadBackbone(path string, classes, numGroup, groupSize int) (*model.PointTransformer, nn.LoadReport, error) {
	sd, name, err := ReadBackbone(path)
	if err != nil {
		return nil, nn.LoadReport{}, err
	}
	return BackboneFromStateDict(sd, name, classes, numGroup, groupSize)
}

// shippedName names the shipped backbone in messages.
const shippedName = assets.SmallBackboneName

// ReadBackbone reads a backbone file's tensors, or the shipped backbone's when path is
// empty; name is what messages call it.
func ReadBackbone(path string) (sd *checkpoint.StateDict, name string, err error) {
	if path != "" {
		sd, err = checkpoint.Load(path)
		return sd, path, err
	}
	if sd, err = checkpoint.ParseSafetensors(assets.SmallBackbone); err != nil {
		return nil, shippedName, fmt.Errorf("%s: %w", shippedName, err)
	}
	return sd, shippedName, nil
}

// BackboneFromStateDict is LoadBackbone for a state dict already in memory; path only
// names it in errors.
func BackboneFromStateDict(sd *checkpoint.StateDict, path string, classes, numGroup, groupSize int) (*model.PointTransformer, nn.LoadReport, error) {
	var err error
	layout := checkpoint.DetectFormat(sd)
	var cfg model.Config
	if js, ok := sd.Meta[MetaModelConfig]; ok {
		if err := json.Unmarshal([]byte(js), &cfg); err != nil {
			return nil, nn.LoadReport{}, fmt.Errorf("read %s: model config in metadata: %w", path, err)
		}
	}
	mapped := checkpoint.MapKeys(sd, layout)
	if cfg.Arch == "" {
		if cfg, err = InferConfig(mapped); err != nil {
			return nil, nn.LoadReport{}, fmt.Errorf("read %s (%s): %w", path, layout, err)
		}
	}
	cfg.Classes, cfg.NumGroup, cfg.GroupSize = classes, numGroup, groupSize
	m, err := model.New(cfg, rand.New(rand.NewPCG(0, 1)))
	if err != nil {
		return nil, nn.LoadReport{}, err
	}
	// A head for another number of classes is replaced, not loaded.
	if out, ok := mapped.Tensors[m.Head.Out.Weight.Name()]; ok && len(out.Shape) == 2 && out.Shape[0] != classes {
		for _, k := range append([]string(nil), mapped.Keys...) {
			if strings.HasPrefix(k, "cls_head_finetune.") {
				mapped.Delete(k)
			}
		}
	}
	rep, err := nn.LoadState(m, mapped)
	if err != nil {
		return nil, rep, fmt.Errorf("read %s: %w", path, err)
	}
	for _, k := range rep.Missing {
		if strings.HasPrefix(k, "blocks.") || strings.HasPrefix(k, "encoder.") {
			return nil, rep, fmt.Errorf("read %s: not a %s backbone of this shape: %s and %d more tensors are missing",
				path, cfg.Arch, k, len(rep.Missing)-1)
		}
	}
	return m, rep, nil
}

var blockIndex = regexp.MustCompile(`^blocks\.blocks\.(\d+)\.`)

// InferConfig reads a backbone's sizes off its (fine-tuning-named) tensors.
func InferConfig(sd *checkpoint.StateDict) (model.Config, error) {
	shape := func(k string) ([]int, error) {
		t, ok := sd.Tensors[k]
		if !ok {
			return nil, fmt.Errorf("no %s tensor: not a Point-MAE or Point-BERT backbone", k)
		}
		return t.Shape, nil
	}
	norm, err := shape("norm.weight")
	if err != nil {
		return model.Config{}, err
	}
	enc, err := shape("encoder.second_conv.3.weight")
	if err != nil {
		return model.Config{}, err
	}
	h0, err := shape("encoder.first_conv.0.weight")
	if err != nil {
		return model.Config{}, err
	}
	h1, err := shape("encoder.first_conv.3.weight")
	if err != nil {
		return model.Config{}, err
	}
	pos, err := shape("pos_embed.0.weight")
	if err != nil {
		return model.Config{}, err
	}
	fc1, err := shape("blocks.blocks.0.mlp.fc1.weight")
	if err != nil {
		return model.Config{}, err
	}
	depth := 0
	for _, k := range sd.Keys {
		if m := blockIndex.FindStringSubmatch(k); m != nil {
			i, _ := strconv.Atoi(m[1])
			depth = max(depth, i+1)
		}
	}
	c := norm[0]
	cfg := model.Config{Arch: "point-mae", TransDim: c, Depth: depth, Heads: 6, MLPRatio: fc1[0] / c,
		EncoderDims: enc[0], DropPath: 0.1, HeadDropout: 0.5,
		EncoderHidden: [3]int{h0[0], h1[0], enc[1]}, PosHidden: pos[0]}
	if _, ok := sd.Tensors["reduce_dim.weight"]; ok {
		cfg.Arch = "point-bert"
	}
	if _, ok := sd.Tensors["blocks.blocks.0.attn.qkv.bias"]; ok {
		cfg.QKVBias = true
	}
	if h, ok := sd.Tensors["cls_head_finetune.0.weight"]; ok {
		cfg.HeadHidden = h.Shape[0]
	}
	if c%cfg.Heads != 0 {
		for _, h := range []int{8, 4, 3, 2, 1} {
			if c%h == 0 {
				cfg.Heads = h
				break
			}
		}
	}
	return cfg, nil
}

// pretrainingOnly are the parts of pre-training checkpoints that a classifier has no
// use for: Point-MAE's decoder, mask token and reconstruction head, Point-BERT's
// mask token and token head.
var pretrainingOnly = []string{"MAE_decoder.", "decoder_pos_embed.", "mask_token", "increase_dim.", "lm_head."}

// Unused lists the tensors of a backbone file that loading left unused, beyond the
// pre-training-only parts (which are expected to go): the tensors of another model,
// such as a fine-tuned Point-PEFT checkpoint's prompts and adapters.
func Unused(rep nn.LoadReport) []string {
	var out []string
	for _, k := range rep.Unexpected {
		expected := false
		for _, p := range pretrainingOnly {
			expected = expected || strings.HasPrefix(k, p)
		}
		if !expected {
			out = append(out, k)
		}
	}
	return out
}

// checkUnused makes Unused tensors an error naming them.
func checkUnused(rep nn.LoadReport, path string) error {
	u := Unused(rep)
	if len(u) == 0 {
		return nil
	}
	return fmt.Errorf("read %s: %d of its tensors would be ignored (%s): not a pre-trained backbone of this kind (a fine-tuned model goes to predict or eval --checkpoint; --allow-partial loads it anyway)",
		path, len(u), Abbrev(u, 6))
}

// Abbrev joins up to n names and says how many more there are.
func Abbrev(names []string, n int) string {
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:n], ", ") + fmt.Sprintf(", and %d more", len(names)-n)
}
