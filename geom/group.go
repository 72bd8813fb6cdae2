package geom

import "fmt"

// Groups is the Point-MAE patch decomposition of a batch (its Group module):
// G centres per cloud chosen by FPS and, for each, its M nearest points.
type Groups struct {
	B, N, G, M int
	// Neighborhood is [B*G*M*3]: each neighbour's coordinates minus its
	// centre's. Centring is the only normalisation, as in Point-MAE.
	Neighborhood []float32
	// Center is [B*G*3], the coordinates of the FPS centres.
	Center []float32
	// Idx is [B*G*M] flat indices (b*N + i) of the neighbours, nearest
	// first; the centre itself comes first since it is one of the points.
	Idx []int32
	// CenterIdx is [B*G] flat indices (b*N + i) of the centres.
	CenterIdx []int32
}

// Group splits each of the b clouds of n points into numGroup patches of
// groupSize points: centres by FPS (pointnet2 kernel rules, see FPS), then
// the groupSize nearest points of every centre (see KNN for ordering and
// ties). Point-MAE uses numGroup=64, groupSize=32 on 1024 points and
// numGroup=128, groupSize=32 on 2048 points.
//
// Preconditions (checked): 1 <= numGroup <= n, 1 <= groupSize <= n,
// b*n <= MaxInt32, exact lengths, finite coordinates.
func Group(points []float32, b, n, numGroup, groupSize int) (*Groups, error) {
	if err := checkCloud("Group points", points, b, n); err != nil {
		return nil, err
	}
	if numGroup < 1 || numGroup > n {
		return nil, fmt.Errorf("%w: Group: numGroup = %d, want 1 <= numGroup <= n = %d", ErrArgument, numGroup, n)
	}
	if groupSize < 1 || groupSize > n {
		return nil, fmt.Errorf("%w: Group: groupSize = %d, want 1 <= groupSize <= n = %d", ErrArgument, groupSize, n)
	}
	if err := checkSizes("Group output", 3, b, numGroup, groupSize); err != nil {
		return nil, err
	}
	cidx := fpsInto(points, b, n, numGroup) // points already checked
	g, m := numGroup, groupSize
	center := make([]float32, b*g*3)
	gatherInto(center, points, n, cidx, g)
	idx := make([]int32, b*g*m)
	knnInto(points, n, center, g, m, idx)

	nb := make([]float32, b*g*m*3)
	parallelRange(b*g, 64, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			bi := r / g
			cx, cy, cz := center[3*r], center[3*r+1], center[3*r+2]
			for j := r * m; j < (r+1)*m; j++ {
				s := (bi*n + int(idx[j])) * 3
				nb[3*j] = points[s] - cx
				nb[3*j+1] = points[s+1] - cy
				nb[3*j+2] = points[s+2] - cz
				idx[j] += int32(bi * n)
			}
			cidx[r] += int32(bi * n)
		}
	})
	return &Groups{B: b, N: n, G: g, M: m, Neighborhood: nb, Center: center, Idx: idx, CenterIdx: cidx}, nil
}
