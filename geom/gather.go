package geom

import "fmt"

// Gather returns the coordinates of the selected points, [b*k*3]:
// row b*k+j is points[b, idx[b*k+j]]. idx holds k local indices per cloud,
// as returned by FPS (k = m) or KNN (k = q*k).
func Gather(points []float32, b, n int, idx []int32, k int) ([]float32, error) {
	return GatherC(points, b, n, 3, idx, k)
}

// GatherC is Gather for rows of c channels: src is [b*n*c] channel-last
// (e.g. per-point features), idx is [b*k] local indices, and the result is
// [b*k*c]. Feature values are copied as they are (no finiteness check, since
// features, unlike coordinates, are not this package's to police).
func GatherC(src []float32, b, n, c int, idx []int32, k int) ([]float32, error) {
	if err := checkSizes("GatherC source", 1, b, n, c); err != nil {
		return nil, err
	}
	if err := checkSizes("GatherC output", 1, b, k, c); err != nil {
		return nil, err
	}
	if len(src) != b*n*c {
		return nil, fmt.Errorf("%w: GatherC: len(src) = %d, want %d*%d*%d", ErrShape, len(src), b, n, c)
	}
	if err := checkIdx("GatherC idx", idx, b, k, n); err != nil {
		return nil, err
	}
	out := make([]float32, b*k*c)
	gatherInto(out, src, n, c, idx, k)
	return out, nil
}

func gatherInto(out, src []float32, n, c int, idx []int32, k int) {
	for r, v := range idx {
		s := ((r/k)*n + int(v)) * c
		copy(out[r*c:(r+1)*c], src[s:s+c])
	}
}

// FlatIndex converts [b*k] local indices into flat indices b*n + i, the form
// Point-MAE uses to index the batch-flattened [b*n, c] tensor.
func FlatIndex(idx []int32, b, n, k int) ([]int32, error) {
	if err := checkSizes("FlatIndex", 1, b, n); err != nil {
		return nil, err
	}
	if err := checkSizes("FlatIndex", 1, b, k); err != nil {
		return nil, err
	}
	if err := checkIdx("FlatIndex idx", idx, b, k, n); err != nil {
		return nil, err
	}
	out := make([]int32, len(idx))
	for r, v := range idx {
		out[r] = int32((r/k)*n) + v
	}
	return out, nil
}
