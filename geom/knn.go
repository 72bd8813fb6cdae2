package geom

import (
	"fmt"
	"math"
)

// KNN returns, for each of the q query points of each cloud, the indices of
// its k nearest points among the n points of the same cloud: [b*q*k] local
// indices, each row sorted by ascending squared distance with ties going to
// the lower index. A query that coincides with a point gets that point
// first (distance 0). points is [b*n*3], queries is [b*q*3].
//
// Each row computes the n distances into a buffer, then keeps the k best
// (distance, index) pairs in a bounded max-heap in one pass (O(n + r log k)
// for r replacements, about k ln(n/k) on shuffled data) and heap-sorts
// them; rows are spread over goroutines.
//
// Preconditions (checked): b, n, q >= 1, 1 <= k <= n, exact lengths, finite
// coordinates.
func KNN(points []float32, b, n int, queries []float32, q int, k int) ([]int32, error) {
	if err := checkCloud("KNN points", points, b, n); err != nil {
		return nil, err
	}
	if err := checkCloud("KNN queries", queries, b, q); err != nil {
		return nil, err
	}
	if k < 1 || k > n {
		return nil, fmt.Errorf("%w: KNN: k = %d, want 1 <= k <= n = %d", ErrArgument, k, n)
	}
	if err := checkSizes("KNN output", 1, b, q, k); err != nil {
		return nil, err
	}
	out := make([]int32, b*q*k)
	knnInto(points, n, queries, q, k, out)
	return out, nil
}

// knnInto fills idx for already validated inputs.
func knnInto(points []float32, n int, queries []float32, q, k int, idx []int32) {
	soa := transpose(points, n)
	rows := len(queries) / 3
	// About 16 rows of 2048 points per chunk keeps scheduling overhead small
	// while leaving enough chunks to balance two or more workers.
	grain := max(1, 32768/n)
	parallelWorkers(rows, grain, func() func(lo, hi int) {
		h := make(keyHeap, k)
		buf := make([]float32, n)
		return func(lo, hi int) {
			for r := lo; r < hi; r++ {
				c := soa[(r/q)*n*3:]
				sqDistsSoA(buf, c[:n], c[n:2*n], c[2*n:3*n], queries[3*r], queries[3*r+1], queries[3*r+2])
				for j := range k {
					h[j] = knnKey(buf[j], j)
				}
				h.heapify()
				// Candidates arrive in increasing index, so one whose distance
				// equals the root's loses the tie: strict < is the stable rule.
				top := keyDist(h[0])
				for j := k; j < n; j++ {
					if d := buf[j]; d < top {
						h[0] = knnKey(d, j)
						h.down(0, k)
						top = keyDist(h[0])
					}
				}
				h.sort()
				for j, key := range h {
					idx[r*k+j] = int32(uint32(key))
				}
			}
		}
	})
}

// transpose turns [b*n*3] interleaved clouds into [b][3][n] (x row, y row,
// z row per cloud) so distance loops read contiguous memory.
func transpose(points []float32, n int) []float32 {
	out := make([]float32, len(points))
	for c := 0; c < len(points); c += 3 * n {
		src, dst := points[c:c+3*n], out[c:c+3*n]
		for i := range n {
			dst[i], dst[n+i], dst[2*n+i] = src[3*i], src[3*i+1], src[3*i+2]
		}
	}
	return out
}

// sqDistsSoA writes the sqDist of (qx,qy,qz) to every point into out.
func sqDistsSoA(out, xs, ys, zs []float32, qx, qy, qz float32) {
	ys, zs = ys[:len(xs)], zs[:len(xs)]
	out = out[:len(xs)]
	for j, x := range xs {
		dx, dy, dz := x-qx, ys[j]-qy, zs[j]-qz
		d := float32(dx*dx) + float32(dy*dy)
		out[j] = d + float32(dz*dz)
	}
}

// knnKey packs (distance, index) into one integer whose order is the
// lexicographic order of the pair: the bits of a non-negative float32 (these
// are sums of squares, never -0 or NaN) compare like the float itself.
func knnKey(d float32, j int) uint64 { return uint64(math.Float32bits(d))<<32 | uint64(uint32(j)) }

func keyDist(key uint64) float32 { return math.Float32frombits(uint32(key >> 32)) }

// keyHeap is a max-heap of knnKeys.
type keyHeap []uint64

func (h keyHeap) heapify() {
	for i := len(h)/2 - 1; i >= 0; i-- {
		h.down(i, len(h))
	}
}

func (h keyHeap) down(c, size int) {
	h = h[:size]
	v := h[c]
	for {
		l := 2*c + 1
		if l >= len(h) {
			break
		}
		m := l
		if r := l + 1; r < len(h) && h[r] > h[l] {
			m = r
		}
		if h[m] <= v {
			break
		}
		h[c] = h[m]
		c = m
	}
	h[c] = v
}

// sort orders the heap ascending in place (heap sort).
func (h keyHeap) sort() {
	for end := len(h) - 1; end > 0; end-- {
		h[0], h[end] = h[end], h[0]
		h.down(0, end)
	}
}
