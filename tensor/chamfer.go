package tensor

// ChamferDist returns the two directed nearest-neighbour squared distances of the
// Chamfer distance between point sets a [P, N, 3] and b [P, M, 3], set p of a against
// set p of b: d1 [P, N] with d1[p,i] = min_j ‖a_pi − b_pj‖² and d2 [P, M] with
// d2[p,j] = min_i ‖a_pi − b_pj‖². Point-MAE's Chamfer-L2 loss is Mean(d1) + Mean(d2).
//
// It is fused rather than built from MatMul and Max because the −2ab+|a|²+|b|² expansion
// loses precision (and can go negative) for the near-coincident points a trained
// reconstruction produces, and the [P, N, M] distance tensor would be kept for the
// backward pass; here only the arg-mins are. Distances are dx·dx+dy·dy+dz·dz in that
// order, as the reference CUDA kernel computes them; ties go to the lower index. The
// gradient flows into both point sets through the arg-min pairs.
func ChamferDist(a, b *Tensor) (d1, d2 *Tensor) {
	if a.Rank() != 3 || b.Rank() != 3 || a.Dim(2) != 3 || b.Dim(2) != 3 || a.Dim(0) != b.Dim(0) {
		shapeErr("ChamferDist", "want [P, N, 3] and [P, M, 3]", a, b)
	}
	p, n, m := a.Dim(0), a.Dim(1), b.Dim(1)
	if n == 0 || m == 0 {
		shapeErr("ChamferDist", "empty point set", a, b)
	}
	out1, out2 := allocFull(p*n), allocFull(p*m)
	arg1, arg2 := make([]int32, p*n), make([]int32, p*m)
	parallelFor(p, grainElems/(n*m+1)+1, func(lo, hi int) {
		for s := lo; s < hi; s++ {
			as, bs := a.Data[s*n*3:(s+1)*n*3], b.Data[s*m*3:(s+1)*m*3]
			o1, o2 := out1[s*n:(s+1)*n], out2[s*m:(s+1)*m]
			g1, g2 := arg1[s*n:(s+1)*n], arg2[s*m:(s+1)*m]
			for j := range o2 {
				o2[j] = -1 // "unset": real distances are never negative
			}
			for i := 0; i < n; i++ {
				ax, ay, az := as[3*i], as[3*i+1], as[3*i+2]
				best, bi := float32(-1), int32(0)
				for j := 0; j < m; j++ {
					dx, dy, dz := ax-bs[3*j], ay-bs[3*j+1], az-bs[3*j+2]
					d := dx*dx + dy*dy + dz*dz
					if best < 0 || d < best {
						best, bi = d, int32(j)
					}
					// i ascends, so strict < keeps the lowest index among equal distances.
					if o2[j] < 0 || d < o2[j] {
						o2[j], g2[j] = d, int32(i)
					}
				}
				o1[i], g1[i] = best, bi
			}
		}
	})
	r1 := result([]int{p, n}, out1, a, b)
	r2 := result([]int{p, m}, out2, a, b)
	// back adds g·∂d/∂(a_i, b_j) for each row of d = ‖a_i − b_j‖², i = own row's point.
	back := func(r *Tensor, rows int, arg []int32, fromA bool) {
		var ga, gb []float32
		if a.requiresGrad {
			ga = a.grad()
		}
		if b.requiresGrad {
			gb = b.grad()
		}
		// Parallel over point sets: every write stays inside set s.
		parallelFor(p, grainElems/(rows+1)+1, func(lo, hi int) {
			for s := lo; s < hi; s++ {
				for k := 0; k < rows; k++ {
					g := r.Grad[s*rows+k]
					if g == 0 {
						continue
					}
					i, j := s*n+k, s*m+int(arg[s*rows+k])
					if !fromA {
						i, j = s*n+int(arg[s*rows+k]), s*m+k
					}
					for c := 0; c < 3; c++ {
						d := 2 * g * (a.Data[3*i+c] - b.Data[3*j+c])
						if ga != nil {
							ga[3*i+c] += d
						}
						if gb != nil {
							gb[3*j+c] -= d
						}
					}
				}
			}
		})
	}
	if r1.requiresGrad {
		r1.backward = func() { back(r1, n, arg1, true) }
	}
	if r2.requiresGrad {
		r2.backward = func() { back(r2, m, arg2, false) }
	}
	return r1, r2
}

// ChamferL2 is the Chamfer-L2 loss of Point-MAE's reconstruction (the upstream
// ChamferDistanceL2): the mean over all points of a of d1 plus the mean over all points
// of b of d2, summed and not halved. See ChamferDist.
func ChamferL2(a, b *Tensor) *Tensor {
	d1, d2 := ChamferDist(a, b)
	return Add(MeanAll(d1), MeanAll(d2))
}
