package peft

import (
	"fmt"
	"math/rand/v2"

	"github.com/pointpeft/pointpeft/geom"
	"github.com/pointpeft/pointpeft/model"
	"github.com/pointpeft/pointpeft/nn"
	"github.com/pointpeft/pointpeft/tensor"
)

// PriorEncoder is the frozen pre-trained encoder that gives each cloud its "point
// prior" feature: the authors' cp_model (a Point-MAE pre-training model in eval mode,
// spec §2.1 and §9.2). It groups the cloud with its own sizes (64×32), runs the
// pre-trained token encoder with the pre-trained BatchNorm statistics, the positional
// embedding and the plain blocks (no cls token), the final LayerNorm, and max-pools over
// the tokens. Its output is a constant for training: no graph is recorded.
type PriorEncoder struct {
	net                 *model.PointTransformer
	numGroup, groupSize int
}

// NewPriorEncoder snapshots the backbone as it is now (the pre-trained weights, before
// any fine-tuning), so that later changes to the backbone's trainable biases, final norm
// and encoder statistics do not reach the prior. Tensors that Point-PEFT never trains
// are shared with the backbone rather than copied (most of the weights).
func NewPriorEncoder(backbone *model.PointTransformer, numGroup, groupSize int) (*PriorEncoder, error) {
	net, err := model.New(backbone.Cfg, rand.New(rand.NewPCG(0, 0)))
	if err != nil {
		return nil, err
	}
	mine, theirs := net.Params(), backbone.Params()
	if len(mine) != len(theirs) {
		return nil, fmt.Errorf("prior encoder: %d parameters for the backbone's %d", len(mine), len(theirs))
	}
	for i, p := range mine {
		q := theirs[i]
		if p.Name() != q.Name() || p.Numel() != q.Numel() {
			return nil, fmt.Errorf("prior encoder: parameter %s does not match the backbone's %s", p.Name(), q.Name())
		}
		if AuthorsTrainable(q.Name()) {
			copy(p.Data, q.Data)
		} else {
			p.Data = q.Data
		}
		p.SetTrainable(false)
	}
	bufs, theirBufs := net.Buffers(), backbone.Buffers()
	for i, b := range bufs {
		if b.Count != nil {
			*b.Count = *theirBufs[i].Count
		} else {
			copy(b.Data, theirBufs[i].Data)
		}
	}
	return &PriorEncoder{net: net, numGroup: numGroup, groupSize: groupSize}, nil
}

// Dim is the width of the prior feature.
func (p *PriorEncoder) Dim() int { return p.net.Cfg.TransDim }

// Feature returns the prior feature [B·C] of b clouds of n points.
func (p *PriorEncoder) Feature(points []float32, b, n int) ([]float32, error) {
	if n < p.numGroup || n < p.groupSize {
		return nil, fmt.Errorf("prior encoder: %d points per cloud, but it groups %d centres of %d points", n, p.numGroup, p.groupSize)
	}
	g, err := geom.Group(points, b, n, p.numGroup, p.groupSize)
	if err != nil {
		return nil, fmt.Errorf("prior encoder: %w", err)
	}
	var out []float32
	tensor.NoGrad(func() {
		f := tensor.Scratch(func() *tensor.Tensor {
			f, _ := tensor.Max(p.net.Tokens(&nn.Ctx{}, g), 1)
			return f
		})
		out = f.Data
	})
	return out, nil
}
