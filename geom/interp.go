package geom

import (
	"fmt"
	"math"
)

// DefaultInterpEps is the 1e-8 added to each squared distance before
// inverting in the reference PointNetFeaturePropagation
// (dist_recip = 1/(dist + 1e-8)), which the Point-PEFT adapter uses to carry
// features from the coarse group centres back to every token.
const DefaultInterpEps = 1e-8

// InterpWeights returns normalised inverse-squared-distance weights, [b*t*k]:
// for target j and its k source indices idx[j*k:(j+1)*k] (local to the
// cloud),
//
//	w_i = (1/(d_i² + eps)) / Σ_l 1/(d_l² + eps),
//
// where d_i² is the float32 squared distance (same formula as KNN) and the
// rest is evaluated in float64, so every row sums to 1 up to float32
// rounding. With eps = DefaultInterpEps this is the reference formula; a
// target on top of a source then gets that source's weight within ~1e-8·Σ
// 1/d² of 1. With eps = 0 the limit is taken instead: a target that
// coincides with one or more of its sources splits the weight evenly among
// them, exactly, and every other row is plain 1/d² weighting.
//
// source is [b*s*3], target is [b*t*3]. Preconditions (checked): sizes >= 1,
// eps finite and >= 0, indices in [0, s), finite coordinates.
func InterpWeights(source []float32, b, s int, target []float32, t int, idx []int32, k int, eps float64) ([]float32, error) {
	if err := checkCloud("InterpWeights source", source, b, s); err != nil {
		return nil, err
	}
	if err := checkCloud("InterpWeights target", target, b, t); err != nil {
		return nil, err
	}
	if err := checkSizes("InterpWeights idx", 1, b, t, k); err != nil {
		return nil, err
	}
	if !(eps >= 0) || math.IsInf(eps, 0) {
		return nil, fmt.Errorf("%w: InterpWeights: eps = %g, want finite >= 0", ErrArgument, eps)
	}
	if err := checkIdx("InterpWeights idx", idx, b*t, k, s); err != nil {
		return nil, err
	}
	w := make([]float32, b*t*k)
	interpInto(source, s, target, t, idx, k, eps, w)
	return w, nil
}

func interpInto(source []float32, s int, target []float32, t int, idx []int32, k int, eps float64, w []float32) {
	rows := len(target) / 3
	parallelWorkers(rows, 1024, func() func(lo, hi int) {
		r64 := make([]float64, k)
		return func(lo, hi int) {
			for r := lo; r < hi; r++ {
				src := source[(r/t)*s*3 : (r/t+1)*s*3]
				tx, ty, tz := target[3*r], target[3*r+1], target[3*r+2]
				ids, ws := idx[r*k:(r+1)*k], w[r*k:(r+1)*k]
				var sum float64
				zeros := 0
				for i, j := range ids {
					d := float64(sqDist(tx, ty, tz, src[3*j], src[3*j+1], src[3*j+2]))
					if d+eps == 0 {
						zeros++
						r64[i] = math.Inf(1)
						continue
					}
					r64[i] = 1 / (d + eps)
					sum += r64[i]
				}
				if zeros > 0 {
					// Only reachable with eps == 0: the 1/d limit puts all weight
					// on the coincident sources.
					for i := range ws {
						ws[i] = 0
						if math.IsInf(r64[i], 1) {
							ws[i] = float32(1 / float64(zeros))
						}
					}
					continue
				}
				for i := range ws {
					ws[i] = float32(r64[i] / sum)
				}
			}
		}
	})
}

// KNNWeights finds, for each target, its k nearest sources (KNN(source, b,
// s, target, t, k)) and their InterpWeights with the given eps: idx and w
// are both [b*t*k].
func KNNWeights(source []float32, b, s int, target []float32, t int, k int, eps float64) ([]int32, []float32, error) {
	if !(eps >= 0) || math.IsInf(eps, 0) {
		return nil, nil, fmt.Errorf("%w: KNNWeights: eps = %g, want finite >= 0", ErrArgument, eps)
	}
	idx, err := KNN(source, b, s, target, t, k)
	if err != nil {
		return nil, nil, err
	}
	w := make([]float32, len(idx))
	interpInto(source, s, target, t, idx, k, eps, w)
	return idx, w, nil
}

// ThreeNN is the three_nn + weights step of PointNet++ feature
// propagation: the 3 nearest sources of every target and their
// inverse-squared-distance weights with DefaultInterpEps. Requires s >= 3.
func ThreeNN(source []float32, b, s int, target []float32, t int) ([]int32, []float32, error) {
	return KNNWeights(source, b, s, target, t, 3, DefaultInterpEps)
}

// Interpolate applies weights to features: feats is [b*s*c] channel-last
// source features, idx and w are [b*t*k] (from KNNWeights or InterpWeights),
// and the result is [b*t*c] with out[j] = Σ_i w[j,i] · feats[idx[j,i]],
// accumulated in float32 in index order.
func Interpolate(feats []float32, b, s, c int, idx []int32, w []float32, t, k int) ([]float32, error) {
	if err := checkSizes("Interpolate feats", 1, b, s, c); err != nil {
		return nil, err
	}
	if err := checkSizes("Interpolate output", 1, b, t, c); err != nil {
		return nil, err
	}
	if len(feats) != b*s*c {
		return nil, fmt.Errorf("%w: Interpolate: len(feats) = %d, want %d*%d*%d", ErrShape, len(feats), b, s, c)
	}
	if len(w) != b*t*k {
		return nil, fmt.Errorf("%w: Interpolate: len(w) = %d, want %d*%d*%d", ErrShape, len(w), b, t, k)
	}
	if err := checkSizes("Interpolate idx", 1, b, t, k); err != nil {
		return nil, err
	}
	if err := checkIdx("Interpolate idx", idx, b*t, k, s); err != nil {
		return nil, err
	}
	out := make([]float32, b*t*c)
	parallelRange(b*t, max(1, 65536/(c*k)), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			o := out[r*c : (r+1)*c]
			base := (r / t) * s
			for i := r * k; i < (r+1)*k; i++ {
				f := feats[(base+int(idx[i]))*c:][:c]
				wi := w[i]
				for ch := range o {
					o[ch] += wi * f[ch]
				}
			}
		}
	})
	return out, nil
}
