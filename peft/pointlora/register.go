package pointlora

import (
	"math/rand/v2"

	"github.com/pointpeft/pointpeft/model"
	"github.com/pointpeft/pointpeft/peft"
)

// MethodName is PointLoRA's --method name.
const MethodName peft.Method = "pointlora"

// Importing this package registers PointLoRA with peft (fixed mode by default: the
// released prompt-MLP range only differs on backbones with fewer than 128 groups).
func init() {
	peft.RegisterMethod(peft.MethodSpec{
		Name:    MethodName,
		Summary: "PointLoRA (CVPR 2025): LoRA on the attention projections with prompt MLPs and multi-scale token selection",
		Modes:   []peft.Mode{peft.Fixed, peft.Faithful},
		New: func(bb *model.PointTransformer, mode peft.Mode, rng *rand.Rand) (peft.Classifier, error) {
			cfg := ScanObjectNN()
			cfg.Mode = mode
			return New(bb, cfg, rng)
		},
		Trains: Trains,
	})
}
