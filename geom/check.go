package geom

import (
	"errors"
	"fmt"
	"math"
)

// Sentinel errors wrapped by every validation failure.
var (
	// ErrShape reports a slice whose length does not match the declared sizes,
	// or a size that is not positive.
	ErrShape = errors.New("geom: shape mismatch")
	// ErrArgument reports an out-of-range scalar argument or index.
	ErrArgument = errors.New("geom: invalid argument")
	// ErrNonFinite reports a NaN or infinite coordinate.
	ErrNonFinite = errors.New("geom: non-finite coordinate")
)

// maxElems bounds slice sizes so that products of sizes cannot overflow int
// and every point index fits in int32 (indices are returned as int32).
const maxElems = math.MaxInt32

// checkSizes validates that every size is positive and that their product
// times mul stays below maxElems.
func checkSizes(what string, mul int, sizes ...int) error {
	total := mul
	for _, s := range sizes {
		if s <= 0 {
			return fmt.Errorf("%w: %s: sizes %v must all be positive", ErrShape, what, sizes)
		}
		if total > maxElems/s {
			return fmt.Errorf("%w: %s: sizes %v too large", ErrShape, what, sizes)
		}
		total *= s
	}
	return nil
}

// checkCloud validates a batch of b clouds of n xyz points: positive sizes,
// exact length, finite coordinates.
func checkCloud(what string, pts []float32, b, n int) error {
	if err := checkSizes(what, 3, b, n); err != nil {
		return err
	}
	if len(pts) != b*n*3 {
		return fmt.Errorf("%w: %s: len %d, want B*N*3 = %d*%d*3 = %d", ErrShape, what, len(pts), b, n, b*n*3)
	}
	return checkFinite(what, pts, n)
}

// checkFinite reports the first NaN/Inf coordinate as (batch, point).
func checkFinite(what string, pts []float32, n int) error {
	for i, v := range pts {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			p := i / 3
			return fmt.Errorf("%w: %s: batch %d point %d coordinate %d is %v", ErrNonFinite, what, p/n, p%n, i%3, v)
		}
	}
	return nil
}

// checkIdx validates rows*k local indices into clouds of n points (a row
// is a cloud, as in Gather and FlatIndex).
func checkIdx(what string, idx []int32, rows, k, n int) error {
	if len(idx) != rows*k {
		return fmt.Errorf("%w: %s: len %d, want %d*%d = %d", ErrShape, what, len(idx), rows, k, rows*k)
	}
	for i, v := range idx {
		if v < 0 || int(v) >= n {
			return fmt.Errorf("%w: %s: row %d entry %d is %d, want 0 <= i < %d", ErrArgument, what, i/k, i%k, v, n)
		}
	}
	return nil
}

// sqDist is the squared distance in float32 with every product and partial
// sum rounded to float32. The explicit conversions stop the compiler from
// fusing into FMA instructions, which would change the low bits (and thus
// tie-breaking) on architectures that fuse.
func sqDist(x1, y1, z1, x2, y2, z2 float32) float32 {
	dx, dy, dz := x2-x1, y2-y1, z2-z1
	d := float32(dx*dx) + float32(dy*dy)
	return d + float32(dz*dz)
}
