package geom

import "fmt"

// Gather returns the coordinates of the selected points, [b*k*3]:
// row b*k+j is points[b, idx[b*k+j]]. idx holds k local indices per cloud,
// as returned by FPS (k = m) or KNN (k = q*k).
func Gather(points []float32, b, n int, idx []int32, k int) ([]float32, error) {
	if err := checkSizes("Gather source", 3, b, n); err != nil {
		return nil, err
	}
	if err := checkSizes("Gather output", 3, b, k); err != nil {
		return nil, err
	}
	if len(points) != b*n*3 {
		return nil, fmt.Errorf("%w: Gather: len(points) = %d, want %d*%d*3", ErrShape, len(points), b, n)
	}
	if err := checkIdx("Gather idx", idx, b, k, n); err != nil {
		return nil, err
	}
	out := make([]float32, b*k*3)
	gatherInto(out, points, n, idx, k)
	return out, nil
}

func gatherInto(out, points []float32, n int, idx []int32, k int) {
	for r, v := range idx {
		s := ((r/k)*n + int(v)) * 3
		copy(out[r*3:(r+1)*3], points[s:s+3])
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
