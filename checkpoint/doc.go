// Package checkpoint reads PyTorch checkpoints (the zip format written by
// torch.save since PyTorch 1.6) and reads and writes safetensors files, so
// that the official Point-MAE / Point-BERT weights can be loaded without
// Python. It also maps the official key layouts onto the backbone's names,
// matches them against a model's expected shapes, and summarises a file for
// the "pointpeft info" command.
//
// The package is deliberately self-contained: it deals in its own small
// Tensor and StateDict types (values converted to float32 or int64) and
// imports nothing else from this module, so the tensor engine can convert
// them however it likes.
package checkpoint
