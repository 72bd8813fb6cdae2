// Package tensor is pointpeft's float32 tensor and reverse-mode autodiff engine.
//
// A Tensor is a dense, row-major, always-contiguous float32 array. Every op returns a new
// tensor; when any input requires a gradient (and gradient recording is on, see NoGrad),
// the result remembers its inputs and a closure that pushes its gradient back to them.
// Backward walks that graph once in reverse topological order, accumulates gradients
// into the leaves (parameters) and then drops the graph so intermediates can be freed.
//
// Design choices, each for speed on a few CPU cores:
//   - All GEMMs go through internal/blas (OpenBLAS via cgo, or pure Go), with transposes
//     as flags, never as copies, and weight-gradient GEMMs skipped for frozen parameters.
//     Transcendental and reduction loops (GELU, softmax, BatchNorm, max) are the
//     vectorised kernels of internal/vmath.
//   - Elementwise ops and reductions split their work over GOMAXPROCS goroutines.
//   - Views (permute, slice, concat) copy: one layout keeps every kernel simple, and the
//     copies are cheap next to the GEMMs they feed. Reshape alone shares its input's data.
//
// Memory, the other limit of training on a CPU. Each op records which data its backward
// step reads (the input of a Linear only when its weight trains; GELU's input; nothing
// for Add, Max or a gather). With that:
//   - Segment drops, when a piece of the forward pass such as a Transformer block ends,
//     the data of every intermediate no backward step reads; Free drops one tensor early.
//   - Backward drops each activation as soon as its last reader has run.
//   - Recompute keeps only a sub-computation's input and runs it again in the backward
//     pass; Attention recomputes its probabilities the same way.
//   - An Arena lends every op's buffers from slabs outside the Go heap, so that memory
//     given back by one tensor serves the next of any size, steps reuse it without page
//     faults, and the garbage collector is not paced by activations.
//   - Gradient-free passes (frozen encoders, inference) use in-place and chunked ops
//     (BatchNormReLUInPlace, AddInPlace, LinearMax).
//
// Shape misuse is a programming error: ops panic with a *ShapeError naming the op and
// the shapes. Code that takes shapes from outside (files, flags) checks them first, or
// wraps the call in Catch to turn such a panic into an error.
package tensor
