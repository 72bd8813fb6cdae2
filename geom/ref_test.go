package geom

import (
	"math/rand/v2"
	"sort"
)

// Independent references used by the tests. They are written for clarity,
// not speed, and deliberately share no code with the package.

func refDist(p []float32, i int, x, y, z float32) float32 {
	dx := p[3*i] - x
	dy := p[3*i+1] - y
	dz := p[3*i+2] - z
	a := float32(dx * dx)
	b := float32(dy * dy)
	c := float32(dz * dz)
	s := float32(a + b)
	return float32(s + c)
}

// cudaFPS transcribes pointnet2_ops' furthest_point_sampling_kernel for one
// cloud: block_size threads, each striding over the points with
// best = -1, besti = 0, the 1e-3 magnitude skip, then the shared-memory
// tree reduction with __update (v2 > v1 ? i2 : i1).
func cudaFPS(p []float32, n, m int) []int32 {
	bs := 1
	for bs*2 <= n && bs < 512 {
		bs *= 2
	}
	temp := make([]float32, n)
	for i := range temp {
		temp[i] = 1e10
	}
	idxs := make([]int32, m)
	dists := make([]float32, bs)
	distsI := make([]int, bs)
	old := 0
	idxs[0] = 0
	for j := 1; j < m; j++ {
		x1, y1, z1 := p[3*old], p[3*old+1], p[3*old+2]
		for tid := range bs {
			besti := 0
			best := float32(-1)
			for k := tid; k < n; k += bs {
				x2, y2, z2 := p[3*k], p[3*k+1], p[3*k+2]
				mag := float32(float32(x2*x2)+float32(y2*y2)) + float32(z2*z2)
				if float64(mag) <= 1e-3 {
					continue
				}
				d := refDist(p, k, x1, y1, z1)
				d2 := min(d, temp[k])
				temp[k] = d2
				if d2 > best {
					besti = k
					best = d2
				}
			}
			dists[tid] = best
			distsI[tid] = besti
		}
		for half := bs / 2; half >= 1; half /= 2 {
			for tid := range half {
				v1, v2 := dists[tid], dists[tid+half]
				i1, i2 := distsI[tid], distsI[tid+half]
				dists[tid] = max(v1, v2)
				if v2 > v1 {
					distsI[tid] = i2
				} else {
					distsI[tid] = i1
				}
			}
		}
		old = distsI[0]
		idxs[j] = int32(old)
	}
	return idxs
}

// bruteFPS is textbook farthest point sampling from index 0 over the
// eligible points (|p|^2 > 1e-3), ties to the lowest index. It equals the
// kernel whenever no two eligible candidates tie.
func bruteFPS(p []float32, n, m int) []int32 {
	out := []int32{0}
	for len(out) < m {
		best, besti := float32(-1), 0
		for k := range n {
			x, y, z := p[3*k], p[3*k+1], p[3*k+2]
			if float64(float32(float32(x*x)+float32(y*y))+float32(z*z)) <= 1e-3 {
				continue
			}
			d := float32(1e10)
			for _, s := range out {
				d = min(d, refDist(p, k, p[3*s], p[3*s+1], p[3*s+2]))
			}
			if d > best {
				best, besti = d, k
			}
		}
		out = append(out, int32(besti))
	}
	return out
}

// bruteKNN sorts every point by (distance, index) and keeps k.
func bruteKNN(p []float32, n int, x, y, z float32, k int) []int32 {
	ids := make([]int, n)
	d := make([]float32, n)
	for i := range n {
		ids[i] = i
		d[i] = refDist(p, i, x, y, z)
	}
	sort.SliceStable(ids, func(a, b int) bool { return d[ids[a]] < d[ids[b]] })
	out := make([]int32, k)
	for i := range k {
		out[i] = int32(ids[i])
	}
	return out
}

func randCloud(rng *rand.Rand, b, n int) []float32 {
	p := make([]float32, b*n*3)
	for i := range p {
		p[i] = float32(rng.Float64()*2 - 1)
	}
	return p
}

// trickyCloud mixes uniform points with exact duplicates, points near the
// origin (inside and just outside the 1e-3 ball) and integer grid points,
// which produce exact float32 distance ties.
func trickyCloud(rng *rand.Rand, b, n int) []float32 {
	p := randCloud(rng, b, n)
	for bi := range b {
		c := p[bi*n*3 : (bi+1)*n*3]
		for i := range n {
			switch rng.IntN(6) {
			case 0: // duplicate of an earlier point
				j := rng.IntN(i + 1)
				copy(c[3*i:3*i+3], c[3*j:3*j+3])
			case 1: // near the origin, |p|^2 about 1e-4..4e-3
				for a := range 3 {
					c[3*i+a] = float32((rng.Float64()*2 - 1) * 0.035)
				}
			case 2: // grid: coordinates in {-2..2}/2
				for a := range 3 {
					c[3*i+a] = float32(rng.IntN(5)-2) / 2
				}
			}
		}
	}
	return p
}
