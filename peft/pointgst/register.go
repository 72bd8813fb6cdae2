package pointgst

import (
	"math/rand/v2"

	"github.com/pointpeft/pointpeft/model"
	"github.com/pointpeft/pointpeft/peft"
)

// MethodName is PointGST's --method name.
const MethodName peft.Method = "pointgst"

// Importing this package registers PointGST with peft (fixed mode by default: each
// cloud is classified on its own).
func init() {
	peft.RegisterMethod(peft.MethodSpec{
		Name:    MethodName,
		Summary: "PointGST (TPAMI 2025): spectral adapters over graph Fourier bases of the token neighbourhoods",
		Modes:   []peft.Mode{peft.Fixed, peft.Faithful},
		New: func(bb *model.PointTransformer, mode peft.Mode, rng *rand.Rand) (peft.Classifier, error) {
			return New(bb, ScanObjectNN(mode), rng)
		},
		Trains: Trains,
	})
}
