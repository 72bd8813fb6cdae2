package dapt

import (
	"math/rand/v2"

	"github.com/pointpeft/pointpeft/model"
	"github.com/pointpeft/pointpeft/peft"
)

// MethodName is DAPT's --method name.
const MethodName peft.Method = "dapt"

// Importing this package registers DAPT with peft. Its two released configurations
// differ with the data set, which the backbone's grouping tells apart: the
// ScanObjectNN one on 128-group backbones (2048 points), ModelNet40's otherwise.
func init() {
	peft.RegisterMethod(peft.MethodSpec{
		Name:    MethodName,
		Summary: "DAPT (CVPR 2024): dynamic adapters with a per-token scale and internal prompts in every block",
		New: func(bb *model.PointTransformer, _ peft.Mode, rng *rand.Rand) (peft.Classifier, error) {
			cfg := ModelNet40()
			if bb.Cfg.NumGroup >= 128 {
				cfg = ScanObjectNN()
			}
			return New(bb, cfg, rng)
		},
		Trains: Trains,
	})
}
