package optim

import (
	"strings"

	"github.com/pointpeft/pointpeft/tensor"
)

// DefaultWeightDecay is the reference recipe's weight decay (builder.py:54-55).
const DefaultWeightDecay = 0.05

// Group is a set of parameters sharing one weight decay, like a PyTorch param group.
type Group struct {
	Params      []*tensor.Tensor
	WeightDecay float64
}

// ParamGroups splits the trainable parameters into the reference's two groups
// (MAE/tools/builder.py add_weight_decay): first the no-decay group (every 1-D
// parameter, every name ending in ".bias", every name containing "token"), then the
// group decayed by weightDecay (everything else, which includes prompt_embeddings,
// prompt_cor and the 3-D cls_pos). Frozen parameters are left out. Parameter order
// within each group is the order of params.
func ParamGroups(params []*tensor.Tensor, weightDecay float64) []Group {
	noDecay := Group{WeightDecay: 0}
	decay := Group{WeightDecay: weightDecay}
	for _, p := range params {
		if !p.RequiresGrad() {
			continue
		}
		if noWeightDecay(p) {
			noDecay.Params = append(noDecay.Params, p)
		} else {
			decay.Params = append(decay.Params, p)
		}
	}
	return []Group{noDecay, decay}
}

// noWeightDecay is the reference's test: len(param.shape) == 1 or the name ends in
// ".bias" or contains "token". A 0-d parameter is decayed, as there.
func noWeightDecay(p *tensor.Tensor) bool {
	name := p.Name()
	return p.Rank() == 1 || strings.HasSuffix(name, ".bias") || strings.Contains(name, "token")
}
