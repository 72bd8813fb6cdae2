package model

import (
	"fmt"

	"github.com/pointpeft/pointpeft/geom"
)

// Config sizes a backbone. The zero value is not valid; start from PointMAE or PointBERT.
type Config struct {
	// Arch is "point-mae" or "point-bert"; it selects the key names and the head.
	Arch        string  `yaml:"arch" json:"arch"`
	TransDim    int     `yaml:"trans_dim" json:"trans_dim"`
	Depth       int     `yaml:"depth" json:"depth"`
	Heads       int     `yaml:"num_heads" json:"num_heads"`
	MLPRatio    int     `yaml:"mlp_ratio" json:"mlp_ratio"`
	EncoderDims int     `yaml:"encoder_dims" json:"encoder_dims"`
	NumGroup    int     `yaml:"num_group" json:"num_group"`
	GroupSize   int     `yaml:"group_size" json:"group_size"`
	Classes     int     `yaml:"cls_dim" json:"cls_dim"`
	DropPath    float32 `yaml:"drop_path_rate" json:"drop_path_rate"`
	HeadDropout float32 `yaml:"head_dropout" json:"head_dropout"`
	QKVBias     bool    `yaml:"qkv_bias" json:"qkv_bias"`
	// Widths the authors hard-code; zero means their value. EncoderHidden is the
	// mini-PointNet's (128, 256, 512), PosHidden the positional MLP's (128), HeadHidden
	// the head's (256). Small test models shrink them.
	EncoderHidden [3]int `yaml:"encoder_hidden" json:"encoder_hidden"`
	PosHidden     int    `yaml:"pos_hidden" json:"pos_hidden"`
	HeadHidden    int    `yaml:"head_hidden" json:"head_hidden"`
}

// withDefaults fills the hard-coded widths left at zero.
func (c Config) withDefaults() Config {
	if c.EncoderHidden == [3]int{} {
		c.EncoderHidden = [3]int{128, 256, 512}
	}
	if c.PosHidden == 0 {
		c.PosHidden = 128
	}
	if c.HeadHidden == 0 {
		c.HeadHidden = 256
	}
	return c
}

// PointMAE is the authors' Point-MAE fine-tuning configuration (ViT-S: 12 blocks of
// width 384, 6 heads) for the given classes and grouping (128×32 for 2048 points,
// 64×32 for 1024).
func PointMAE(classes, numGroup, groupSize int) Config {
	return Config{Arch: "point-mae", TransDim: 384, Depth: 12, Heads: 6, MLPRatio: 4, EncoderDims: 384,
		NumGroup: numGroup, GroupSize: groupSize, Classes: classes, DropPath: 0.1, HeadDropout: 0.5}
}

// PointBERT is Point-BERT's fine-tuning configuration: as Point-MAE but a 256-wide token
// encoder bridged by reduce_dim, and a one-hidden-layer head without BatchNorm.
func PointBERT(classes, numGroup, groupSize int) Config {
	c := PointMAE(classes, numGroup, groupSize)
	c.Arch, c.EncoderDims = "point-bert", 256
	return c
}

// Validate reports the first inconsistent size.
func (c Config) Validate() error {
	c = c.withDefaults()
	switch {
	case c.EncoderHidden[0] < 1 || c.EncoderHidden[1] < 1 || c.EncoderHidden[2] < 1 || c.PosHidden < 1 || c.HeadHidden < 1:
		return fmt.Errorf("model config: hidden widths must be positive")
	case c.Arch != "point-mae" && c.Arch != "point-bert":
		return fmt.Errorf("model config: arch %q is neither point-mae nor point-bert", c.Arch)
	case c.TransDim < 1 || c.Depth < 1 || c.Heads < 1 || c.MLPRatio < 1 || c.EncoderDims < 1:
		return fmt.Errorf("model config: sizes must be positive (trans_dim %d, depth %d, heads %d, mlp_ratio %d, encoder_dims %d)",
			c.TransDim, c.Depth, c.Heads, c.MLPRatio, c.EncoderDims)
	case c.TransDim%c.Heads != 0:
		return fmt.Errorf("model config: trans_dim %d is not divisible by %d heads", c.TransDim, c.Heads)
	case c.Arch == "point-mae" && c.EncoderDims != c.TransDim:
		return fmt.Errorf("model config: point-mae needs encoder_dims = trans_dim, got %d and %d", c.EncoderDims, c.TransDim)
	case c.NumGroup < 1 || c.GroupSize < 1:
		return fmt.Errorf("model config: num_group %d and group_size %d must be positive", c.NumGroup, c.GroupSize)
	case c.Classes < 2:
		return fmt.Errorf("model config: cls_dim %d: need at least 2 classes", c.Classes)
	case c.DropPath < 0 || c.DropPath >= 1 || c.HeadDropout < 0 || c.HeadDropout >= 1:
		return fmt.Errorf("model config: drop rates must be in [0,1)")
	}
	return nil
}

// group runs the Point-MAE grouping with the configured sizes, refusing clouds too small
// for it.
func (c Config) group(points []float32, b, n int) (*geom.Groups, error) {
	if n < c.NumGroup || n < c.GroupSize {
		return nil, fmt.Errorf("model: %d points per cloud, but the model groups %d centres of %d points", n, c.NumGroup, c.GroupSize)
	}
	return geom.Group(points, b, n, c.NumGroup, c.GroupSize)
}
