package optim

import (
	"errors"
	"fmt"
	"math"
)

// Schedule gives the learning rate for a 0-based index whose unit (epoch or optimizer
// step) is fixed by the implementation.
type Schedule interface {
	LR(i int) float64
}

// CosineLR is timm 0.4.5's CosineLRScheduler as the reference builds it (t_mul=1,
// cycle_limit=1, warmup_prefix=False, t_in_epochs=True, no noise; decay_rate does not
// matter within one cycle), stepped once per epoch.
type CosineLR struct {
	BaseLR       float64 // the optimizer's lr (timm's base value)
	MinLR        float64 // lr_min
	TInitial     int     // t_initial, the cycle length in epochs
	WarmupT      int     // warmup_t; 0 disables warm-up
	WarmupLRInit float64 // warmup_lr_init
}

// Validate reports a configuration under which the formulas are undefined.
func (c CosineLR) Validate() error {
	switch {
	case c.TInitial <= 0:
		return fmt.Errorf("optim: CosineLR: t_initial %d, want > 0", c.TInitial)
	case c.WarmupT < 0:
		return fmt.Errorf("optim: CosineLR: warmup_t %d, want >= 0", c.WarmupT)
	case !finiteNonNeg(c.BaseLR, c.MinLR, c.WarmupLRInit):
		return fmt.Errorf("optim: CosineLR: learning rates must be finite and >= 0 (base %v, min %v, warmup init %v)",
			c.BaseLR, c.MinLR, c.WarmupLRInit)
	}
	return nil
}

// At is timm's _get_lr(t): the lr the scheduler sets when the runner calls
// scheduler.step(t). Linear warm-up from WarmupLRInit for t < WarmupT (the warm-up
// slope aims at BaseLR at t = WarmupT, which is never used), then a cosine from BaseLR
// at t = 0 (not at the end of warm-up) down to MinLR at t = TInitial, and MinLR from
// then on because only one cycle is allowed.
func (c CosineLR) At(t int) float64 {
	if t < c.WarmupT {
		return c.WarmupLRInit + float64(t)*(c.BaseLR-c.WarmupLRInit)/float64(c.WarmupT)
	}
	if t >= c.TInitial {
		return c.MinLR
	}
	return c.MinLR + 0.5*(c.BaseLR-c.MinLR)*(1+math.Cos(math.Pi*float64(t)/float64(c.TInitial)))
}

// LR is the lr that epoch e trains with in the reference runner, which calls
// scheduler.step(e) after epoch e: epoch 0 runs with the lr set by the constructor
// (WarmupLRInit when warming up, else BaseLR), and epoch e ≥ 1 with At(e−1). With the
// reference values the lr of epoch 11 is 4.986e-4: 5e-4 itself is never used.
func (c CosineLR) LR(epoch int) float64 {
	if epoch <= 0 {
		if c.WarmupT > 0 {
			return c.WarmupLRInit
		}
		return c.BaseLR
	}
	return c.At(epoch - 1)
}

// StepCosine is a per-optimizer-step schedule for short runs, where one lr per epoch
// would make the warm-up and decay too coarse: a linear warm-up over WarmupSteps steps
// followed by a cosine decay that reaches MinLR after TotalSteps steps.
type StepCosine struct {
	BaseLR       float64
	MinLR        float64
	WarmupLRInit float64
	WarmupSteps  int
	TotalSteps   int
}

// Validate reports a configuration under which the formulas are undefined.
func (s StepCosine) Validate() error {
	switch {
	case s.WarmupSteps < 0:
		return fmt.Errorf("optim: StepCosine: warm-up steps %d, want >= 0", s.WarmupSteps)
	case s.TotalSteps <= s.WarmupSteps:
		return fmt.Errorf("optim: StepCosine: total steps %d must exceed warm-up steps %d", s.TotalSteps, s.WarmupSteps)
	case !finiteNonNeg(s.BaseLR, s.MinLR, s.WarmupLRInit):
		return errors.New("optim: StepCosine: learning rates must be finite and >= 0")
	}
	return nil
}

// LR is the lr for the optimizer step with 0-based index step (the step-th call to
// AdamW.Step of the run, counted across epochs). For step < WarmupSteps it rises
// linearly from WarmupLRInit (at step 0) towards BaseLR, which step WarmupSteps uses;
// from there a half cosine falls to MinLR at step TotalSteps, and later steps keep MinLR.
func (s StepCosine) LR(step int) float64 {
	if step < s.WarmupSteps {
		return s.WarmupLRInit + float64(step)*(s.BaseLR-s.WarmupLRInit)/float64(s.WarmupSteps)
	}
	if step >= s.TotalSteps {
		return s.MinLR
	}
	frac := float64(step-s.WarmupSteps) / float64(s.TotalSteps-s.WarmupSteps)
	return s.MinLR + 0.5*(s.BaseLR-s.MinLR)*(1+math.Cos(math.Pi*frac))
}

func finiteNonNeg(vs ...float64) bool {
	for _, v := range vs {
		if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			return false
		}
	}
	return true
}
