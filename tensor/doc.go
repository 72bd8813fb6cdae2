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
//   - Elementwise ops and reductions split their work over GOMAXPROCS goroutines.
//   - Views (permute, slice, concat) copy: one layout keeps every kernel simple, and the
//     copies are cheap next to the GEMMs they feed.
//
// Shape misuse is a programming error: ops panic with a *ShapeError naming the op and
// the shapes. Code that takes shapes from outside (files, flags) checks them first, or
// wraps the call in Catch to turn such a panic into an error.
package tensor
