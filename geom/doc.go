// Package geom holds the point-cloud geometry that Point-MAE and Point-PEFT
// run outside the Transformer: farthest point sampling, k-nearest
// neighbours, Point-MAE patch grouping, unit-sphere normalisation, the
// reference training augmentations, area-weighted mesh surface sampling and
// index gathering.
//
// Layout conventions, shared by every function:
//
//   - A cloud of N points is a flat []float32 of length N*3 with x, y, z
//     interleaved; a batch of B clouds is [B*N*3], cloud after cloud.
//   - Indices are []int32 and are local to their cloud (0 <= i < N) unless a
//     name or doc comment says "flat", in which case flat = b*N + i, which is
//     how Point-MAE indexes the batch-flattened point tensor.
//
// Every exported function checks its shapes and rejects NaN or infinite
// coordinates with an error naming the batch index and point, wrapping one
// of ErrShape, ErrArgument or ErrNonFinite so callers can test with
// errors.Is. Work is split across the batch (and across queries for kNN)
// with one goroutine per GOMAXPROCS; results do not depend on the number of
// goroutines.
//
// Distances are squared Euclidean distances computed in float32 as
// (dx*dx + dy*dy) + dz*dz, each product and sum rounded to float32, the way
// the pointnet2 CUDA kernels evaluate them without fused multiply-adds, so
// index results can be compared bit-for-bit with a float32 reference.
package geom
