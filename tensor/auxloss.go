package tensor

// WithLoss returns x unchanged (sharing its data) and attaches weight·aux, a scalar, to
// whatever loss is later computed from it: the backward pass hands x its gradient and
// adds weight to aux's, so that Backward(L(x)) yields the gradients of L(x) + weight·aux.
// It lets a model with an auxiliary loss (PointLoRA's mask entropy) be trained by a loop
// that only sees its logits. The term is counted once per Backward through the result;
// the loss value itself does not include it.
func WithLoss(x, aux *Tensor, weight float32) *Tensor {
	if len(aux.Data) != 1 {
		shapeErr("WithLoss", "the auxiliary loss must have one element", x, aux)
	}
	r := resultSaving(saves(), x.Shape(), x.Data, x, aux)
	r.view = true
	if r.requiresGrad {
		r.backward = func() {
			if aux.requiresGrad {
				aux.grad()[0] += weight
			}
			if x.requiresGrad {
				x.takeGrad(r.Grad, r)
			}
		}
	}
	return r
}
