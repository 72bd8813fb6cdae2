package idpt

import (
	"math/rand/v2"

	"github.com/pointpeft/pointpeft/model"
	"github.com/pointpeft/pointpeft/peft"
)

// MethodName is IDPT's --method name.
const MethodName peft.Method = "idpt"

// Importing this package registers IDPT with peft. The prompt enters before the last
// block, as the authors' prompt_layer 11 of 12 does, whatever the backbone's depth.
func init() {
	peft.RegisterMethod(peft.MethodSpec{
		Name:    MethodName,
		Summary: "IDPT (ICCV 2023): an instance-aware prompt from a DGCNN module before the last block, and the head",
		New: func(bb *model.PointTransformer, _ peft.Mode, rng *rand.Rand) (peft.Classifier, error) {
			cfg := ScanObjectNN()
			cfg.PromptLayer = bb.Cfg.Depth - 1
			return New(bb, cfg, rng)
		},
		Trains: Trains,
	})
}
