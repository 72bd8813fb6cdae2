package geom

import (
	"fmt"
	"math/bits"
)

// fpsSkipMag2 is the pointnet2 kernel's threshold: points with
// x*x+y*y+z*z <= 1e-3 (float32 sum, compared in double) are never selected
// by FPS. Upstream feeds centred unit-sphere clouds, so this excludes a ball
// of radius ~0.032 around the origin; it is replicated for index parity.
const fpsSkipMag2 = 1e-3

// fpsBlockSize is the CUDA block size pointnet2's wrapper launches for n
// points: opt_n_threads(n) = min(2^floor(log2 n), 512). It matters because
// ties are resolved by the thread that owns a point (see fpsTieKey).
func fpsBlockSize(n int) int {
	return 1 << min(bits.Len(uint(n))-1, 9)
}

// fpsTieKey orders points for tie-breaking exactly as the kernel does.
// Thread t owns points t, t+bs, t+2bs, ... and keeps the first (lowest k) of
// its own maxima; the shared-memory tree reduction then keeps, at each
// halving step, the lower slot on equality, which makes the surviving thread
// the one whose id is smallest when its bits are read in reverse (low bit
// first). So among equal distances the winner minimises
// (bitreverse(k mod bs), k). For clouds without exact distance ties this is
// the plain argmax.
func fpsTieKey(k, bs int) uint64 {
	lg := bits.Len(uint(bs)) - 1
	t := uint64(k & (bs - 1))
	rev := bits.Reverse64(t) >> (64 - lg) // a shift by 64 yields 0 (bs = 1)
	return rev<<32 | uint64(k)
}

// FPS is farthest point sampling with the exact selection rules of the
// pointnet2 CUDA kernel (pointnet2_ops furthest_point_sample), which
// Point-MAE uses to pick group centres. For each of the b clouds of n
// points it returns m local indices, [b*m] in total:
//
//   - the first index is always 0;
//   - a running min squared distance, initialised to 1e10, is updated with
//     the distance to the last selected point, and the next index is the
//     argmax of it (already selected points have distance 0 and so are only
//     re-selected once every candidate is at distance 0);
//   - points with |p|^2 <= 1e-3 are never selected (the kernel skips them);
//     if every point is skipped, the kernel's defaults make every later
//     index 0;
//   - exact ties go to the point whose owning CUDA thread wins the kernel's
//     reduction (see fpsTieKey), which is not always the lowest index.
//
// Preconditions (checked): b, n >= 1, 1 <= m <= n, len(points) == b*n*3,
// finite coordinates.
func FPS(points []float32, b, n, m int) ([]int32, error) {
	if err := checkCloud("FPS points", points, b, n); err != nil {
		return nil, err
	}
	if m < 1 || m > n {
		return nil, fmt.Errorf("%w: FPS: m = %d, want 1 <= m <= n = %d", ErrArgument, m, n)
	}
	return fpsInto(points, b, n, m), nil
}

// fpsInto is FPS on arguments already checked.
func fpsInto(points []float32, b, n, m int) []int32 {
	out := make([]int32, b*m)
	parallelWorkers(b, 1, func() func(lo, hi int) {
		s := newFPSScratch(n)
		return func(lo, hi int) {
			for bi := lo; bi < hi; bi++ {
				s.cuda(points[bi*n*3:(bi+1)*n*3], n, out[bi*m:(bi+1)*m])
			}
		}
	})
	return out
}

// fpsScratch holds a structure-of-arrays copy of the candidate points so the
// inner loop streams through contiguous memory.
type fpsScratch struct {
	xs, ys, zs, temp []float32
	ids              []int32
}

func newFPSScratch(n int) *fpsScratch {
	return &fpsScratch{
		xs: make([]float32, n), ys: make([]float32, n), zs: make([]float32, n),
		temp: make([]float32, n), ids: make([]int32, n),
	}
}

func (s *fpsScratch) cuda(p []float32, n int, out []int32) {
	// Keep only the points the kernel would ever consider, in index order.
	c := 0
	for k := range n {
		x, y, z := p[3*k], p[3*k+1], p[3*k+2]
		mag := float32(x*x) + float32(y*y)
		mag += float32(z * z)
		if float64(mag) <= fpsSkipMag2 {
			continue
		}
		s.xs[c], s.ys[c], s.zs[c], s.ids[c] = x, y, z, int32(k)
		s.temp[c] = 1e10
		c++
	}
	xs, ys, zs, temp, ids := s.xs[:c], s.ys[:c], s.zs[:c], s.temp[:c], s.ids[:c]
	bs := fpsBlockSize(n)
	old := 0
	out[0] = 0
	for j := 1; j < len(out); j++ {
		x1, y1, z1 := p[3*old], p[3*old+1], p[3*old+2]
		best, besti := float32(-1), 0
		for i := range xs {
			d := sqDist(x1, y1, z1, xs[i], ys[i], zs[i])
			d2 := min(d, temp[i])
			temp[i] = d2
			if d2 > best {
				best, besti = d2, int(ids[i])
			} else if d2 == best && fpsTieKey(int(ids[i]), bs) < fpsTieKey(besti, bs) {
				besti = int(ids[i])
			}
		}
		old = besti
		out[j] = int32(besti)
	}
}
