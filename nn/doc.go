// Package nn holds the layers the models are built from, with PyTorch's parameter names
// and default initialisations, so a state dict maps one-to-one onto them.
//
// A layer is a struct of named *tensor.Tensor parameters, built by a New function that
// takes the layer's full name prefix (e.g. "blocks.blocks.0.attn"), and a Forward
// method. Layers that behave differently in training (dropout, drop path, BatchNorm)
// take a *Ctx.
package nn
