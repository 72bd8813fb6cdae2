package tensor

// InvSqDistWeights returns the inverse-squared-distance interpolation weights between
// target points xyz1 [B, N, 3] and source points xyz2 [B, S, 3]: [B, N, S] with
// w[b,i,s] = r_s / Σ_t r_t, r_s = 1/(‖xyz1_i − xyz2_s‖² + eps). Squared distances are
// sums of squared differences (never negative, unlike the −2ab+|a|²+|b|² expansion).
// Gradients flow into both coordinate sets (Point-PEFT's learnable prompt coordinates
// reach the loss only this way). Arithmetic is float64 inside: r spans 1e-2 to 1/eps.
func InvSqDistWeights(xyz1, xyz2 *Tensor, eps float64) *Tensor {
	if xyz1.Rank() != 3 || xyz2.Rank() != 3 || xyz1.Dim(2) != 3 || xyz2.Dim(2) != 3 || xyz1.Dim(0) != xyz2.Dim(0) {
		shapeErr("InvSqDistWeights", "want [B, N, 3] and [B, S, 3]", xyz1, xyz2)
	}
	b, n, s := xyz1.Dim(0), xyz1.Dim(1), xyz2.Dim(1)
	if s == 0 {
		shapeErr("InvSqDistWeights", "no source points", xyz1, xyz2)
	}
	out := allocFull(b * n * s)
	rsum := make([]float64, b*n) // Σ_t r_t per target, kept for the backward pass
	parallelFor(b*n, 64, func(lo, hi int) {
		r := make([]float64, s)
		for row := lo; row < hi; row++ {
			bi := row / n
			p := xyz1.Data[row*3 : row*3+3]
			var tot float64
			for j := 0; j < s; j++ {
				q := xyz2.Data[(bi*s+j)*3 : (bi*s+j)*3+3]
				dx, dy, dz := float64(p[0]-q[0]), float64(p[1]-q[1]), float64(p[2]-q[2])
				r[j] = 1 / (dx*dx + dy*dy + dz*dz + eps)
				tot += r[j]
			}
			rsum[row] = tot
			for j := 0; j < s; j++ {
				out[row*s+j] = float32(r[j] / tot)
			}
		}
	})
	res := result([]int{b, n, s}, out, xyz1, xyz2)
	if res.requiresGrad {
		res.backward = func() {
			var g1, g2 []float32
			if xyz1.requiresGrad {
				g1 = xyz1.grad()
			}
			if xyz2.requiresGrad {
				g2 = xyz2.grad()
			}
			// Parallel over batches only: all targets of a batch write that batch's xyz2 rows.
			parallelFor(b, 1, func(lo, hi int) {
				for bi := lo; bi < hi; bi++ {
					for i := 0; i < n; i++ {
						row := bi*n + i
						gw := res.Grad[row*s : (row+1)*s]
						w := out[row*s : (row+1)*s]
						var dot float64
						for j := range gw {
							dot += float64(gw[j]) * float64(w[j])
						}
						p := xyz1.Data[row*3 : row*3+3]
						for j := 0; j < s; j++ {
							q := xyz2.Data[(bi*s+j)*3 : (bi*s+j)*3+3]
							d := [3]float64{float64(p[0] - q[0]), float64(p[1] - q[1]), float64(p[2] - q[2])}
							rj := float64(w[j]) * rsum[row]
							// dL/dd2_j = dL/dr_j · dr_j/dd2_j = (gw_j − Σ gw·w)/R · (−r_j²)
							gd2 := -(float64(gw[j]) - dot) / rsum[row] * rj * rj
							for c := 0; c < 3; c++ {
								if g1 != nil {
									g1[row*3+c] += float32(2 * d[c] * gd2)
								}
								if g2 != nil {
									g2[(bi*s+j)*3+c] -= float32(2 * d[c] * gd2)
								}
							}
						}
					}
				}
			})
		}
	}
	return res
}
