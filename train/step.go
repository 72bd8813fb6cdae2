package train

import (
	"errors"
	"fmt"
	"math"
	"runtime/debug"

	"github.com/pointpeft/pointpeft/nn"
	"github.com/pointpeft/pointpeft/optim"
	"github.com/pointpeft/pointpeft/tensor"
)

// ErrNotFinite is returned by a step whose loss or gradient norm is NaN or infinite:
// the parameters are left as they were before it.
var ErrNotFinite = errors.New("not finite")

// Stepper is one optimisation step, the same for fine-tuning, pre-training and the
// benchmark: forward and backward in an arena (activations recycled as they die), a
// NaN guard, gradient clipping, AdamW over the reference's weight-decay groups, and
// gradients cleared.
type Stepper struct {
	params []*tensor.Tensor
	opt    *optim.AdamW
	clip   float64
	arena  *tensor.Arena
}

// NewStepper makes the step of cfg (weight decay, clipping) over params; only the
// parameters that require gradients are updated.
func NewStepper(cfg Config, params []*tensor.Tensor) (*Stepper, error) {
	opt, err := optim.NewAdamW(optim.ParamGroups(params, cfg.WeightDecay))
	if err != nil {
		return nil, err
	}
	// Setting up leaves garbage as large as the model (random initial weights that the
	// loaded ones replaced, the prior encoder's spare copy): give it back to the system
	// now, before the steps' arena grows on top of it.
	debug.FreeOSMemory()
	return &Stepper{params: params, opt: opt, clip: clipOrInf(cfg.ClipNorm), arena: tensor.NewArena()}, nil
}

// Optimizer is the AdamW the step updates with (its state is what checkpoints keep).
func (s *Stepper) Optimizer() *optim.AdamW { return s.opt }

// Close returns the arena's memory at once (the next Step takes it again).
func (s *Stepper) Close() { s.arena.Close() }

// LossFunc computes one batch's loss and, for classifiers, how many it got right.
type LossFunc func(ctx *nn.Ctx) (loss *tensor.Tensor, correct int, err error)

// StepResult is what one step measured.
type StepResult struct {
	Loss     float64
	Correct  int
	GradNorm float64 // before clipping
}

// Step runs lossOf (ctx carries the step's RNG and mode), backpropagates, clips and
// updates at learning rate lr.
func (s *Stepper) Step(ctx *nn.Ctx, lr float64, lossOf LossFunc) (StepResult, error) {
	var r StepResult
	var err error
	s.arena.Step(func() {
		var loss *tensor.Tensor
		if loss, r.Correct, err = lossOf(ctx); err != nil {
			return
		}
		r.Loss = float64(loss.Item())
		if math.IsNaN(r.Loss) || math.IsInf(r.Loss, 0) {
			err = fmt.Errorf("loss is %v: %w", r.Loss, ErrNotFinite)
			return
		}
		tensor.Backward(loss)
	})
	if err != nil {
		s.zeroGrad()
		return r, err
	}
	r.GradNorm = optim.ClipGradNorm(s.params, s.clip)
	if math.IsNaN(r.GradNorm) || math.IsInf(r.GradNorm, 0) {
		s.zeroGrad()
		return r, fmt.Errorf("gradient norm is %v: %w", r.GradNorm, ErrNotFinite)
	}
	if err := s.opt.Step(lr); err != nil {
		return r, err
	}
	s.zeroGrad()
	return r, nil
}

func (s *Stepper) zeroGrad() {
	for _, t := range s.params {
		t.ZeroGrad()
	}
}

// CrossEntropyLoss is the classifiers' LossFunc: net's logits on a batch against its
// labels, with label smoothing.
func CrossEntropyLoss(net Classifier, points []float32, b, n int, labels []int, smoothing float32) LossFunc {
	return func(ctx *nn.Ctx) (*tensor.Tensor, int, error) {
		logits, err := net.Forward(ctx, points, b, n)
		if err != nil {
			return nil, 0, err
		}
		return tensor.CrossEntropy(logits, labels, smoothing), countCorrect(logits, labels), nil
	}
}
