// Package optim holds the training-loop numerics of the Point-PEFT fine-tuning recipe:
// AdamW over weight-decay parameter groups, global gradient-norm clipping, and the
// learning-rate schedules. Each piece reproduces the PyTorch/timm code the reference
// runner uses (torch 1.13 AdamW and clip_grad_norm_, timm 0.4.5 CosineLRScheduler), so
// a Go run follows the same trajectory, and its state can be saved and restored by
// parameter name so that a resumed run is bit-identical to an uninterrupted one.
package optim
