//go:build !cgo || purego

package vmath

import "math"

func layerNorm(dst, src []float32, n int, w, b []float32, eps float32, mean, rstd []float32) {
	for r := 0; r < len(src)/n; r++ {
		x, y := src[r*n:(r+1)*n], dst[r*n:(r+1)*n]
		// Four partial sums, as the vectorised kernel adds them.
		var acc [4]float64
		i := 0
		for ; i+4 <= n; i += 4 {
			for l := range acc {
				acc[l] += float64(x[i+l])
			}
		}
		s := acc[0] + acc[1] + acc[2] + acc[3]
		for ; i < n; i++ {
			s += float64(x[i])
		}
		mu := s / float64(n)
		acc = [4]float64{}
		for i = 0; i+4 <= n; i += 4 {
			for l := range acc {
				d := float64(x[i+l]) - mu
				acc[l] += d * d
			}
		}
		ss := acc[0] + acc[1] + acc[2] + acc[3]
		for ; i < n; i++ {
			d := float64(x[i]) - mu
			ss += d * d
		}
		rs := float32(1 / math.Sqrt(ss/float64(n)+float64(eps)))
		m := float32(mu)
		mean[r], rstd[r] = m, rs
		for j, v := range x {
			y[j] = (v-m)*rs*w[j] + b[j]
		}
	}
}

func gelu(y, x []float32) {
	for i, v := range x {
		y[i] = GELUOf(v)
	}
}

func geluGradAdd(dx, x, dy []float32) {
	for i, v := range x {
		dx[i] += dy[i] * GELUGradOf(v)
	}
}

func softmaxRows(dst, src []float32, n int) {
	for r := 0; r < len(src); r += n {
		row, out := src[r:r+n], dst[r:r+n]
		m := row[0]
		for _, v := range row {
			if v > m {
				m = v
			}
		}
		var s float64
		for i, v := range row {
			e := Exp32(v - m)
			out[i] = e
			s += float64(e)
		}
		inv := float32(1 / s)
		for i := range out {
			out[i] *= inv
		}
	}
}

func affineCols(dst, src []float32, c int, mean, rstd, w, b []float32, relu bool) {
	for r := 0; r < len(src); r += c {
		x, y := src[r:r+c], dst[r:r+c]
		for j, v := range x {
			v = (v-mean[j])*rstd[j]*w[j] + b[j]
			if relu && v < 0 {
				v = 0
			}
			y[j] = v
		}
	}
}

// better reports whether v replaces best in a running maximum (a NaN wins).
func better(v, best float32) bool { return v > best || (v != v && best == best) }

func maxAxis(out []float32, arg []int32, x []float32, n, inner int) {
	for o := 0; o < len(x)/(n*inner); o++ {
		base := x[o*n*inner:]
		best, bi := out[o*inner:(o+1)*inner], arg[o*inner:(o+1)*inner]
		copy(best, base[:inner])
		clear(bi)
		for j := 1; j < n; j++ {
			for i, v := range base[j*inner : (j+1)*inner] {
				if better(v, best[i]) {
					best[i], bi[i] = v, int32(j)
				}
			}
		}
	}
}

func gatherAddMax(out []float32, arg []int32, table []float32, idx []int32, local, scale []float32, k, c int) {
	for g, s := range scale {
		best, bi := out[g*c:(g+1)*c], arg[g*c:(g+1)*c]
		for j := 0; j < k; j++ {
			row := table[int(idx[g*k+j])*c : int(idx[g*k+j]+1)*c]
			loc := local[(g*k+j)*c : (g*k+j+1)*c]
			for ch := range best {
				if v := row[ch] + s*loc[ch]; j == 0 || better(v, best[ch]) {
					best[ch], bi[ch] = v, int32(j)
				}
			}
		}
	}
}

func relu(y, x []float32) {
	for i, v := range x {
		if v < 0 {
			v = 0
		}
		y[i] = v
	}
}

func reluGradAdd(dx, x, dy []float32) {
	for i, v := range x {
		if v > 0 {
			dx[i] += dy[i]
		}
	}
}

// attnProbs is attn_probs of kernels_c.go.
func attnProbs(p, q, k []float32, t, d, c3 int, scale float32) {
	for i := 0; i < t; i++ {
		pi := p[i*t : (i+1)*t]
		qi := q[i*c3 : i*c3+d]
		var m float32
		for j := range pi {
			kj := k[j*c3 : j*c3+d]
			var s float32
			for x, qv := range qi {
				s += qv * kj[x]
			}
			pi[j] = s * scale
			if j == 0 || pi[j] > m {
				m = pi[j]
			}
		}
		var sum float64
		for j, v := range pi {
			pi[j] = Exp32(v - m)
			sum += float64(pi[j])
		}
		inv := float32(1 / sum)
		for j := range pi {
			pi[j] *= inv
		}
	}
}

func attnSmall(out, qkv []float32, groups, t, heads, d int, scale float32, p []float32) {
	c := heads * d
	c3 := 3 * c
	for g := 0; g < groups; g++ {
		for h := 0; h < heads; h++ {
			q := qkv[g*t*c3+h*d:]
			attnProbs(p, q, q[c:], t, d, c3, scale)
			v := q[2*c:]
			for i := 0; i < t; i++ {
				oi := out[g*t*c+i*c+h*d : g*t*c+i*c+h*d+d]
				clear(oi)
				for j, pij := range p[i*t : (i+1)*t] {
					vj := v[j*c3 : j*c3+d]
					for x := range oi {
						oi[x] += pij * vj[x]
					}
				}
			}
		}
	}
}

func attnSmallGrad(dqkv, dout, qkv []float32, groups, t, heads, d int, scale float32, p []float32) {
	c := heads * d
	c3 := 3 * c
	p, ds := p[:t*t], p[t*t:2*t*t]
	for g := 0; g < groups; g++ {
		for h := 0; h < heads; h++ {
			off := g*t*c3 + h*d
			q, dq := qkv[off:], dqkv[off:]
			k, v, dk, dv := q[c:], q[2*c:], dq[c:], dq[2*c:]
			dO := dout[g*t*c+h*d:]
			attnProbs(p, q, k, t, d, c3, scale)
			for i := 0; i < t; i++ {
				doi := dO[i*c : i*c+d]
				var dot float32
				for j := 0; j < t; j++ {
					pij := p[i*t+j]
					var s float32
					for x, o := range doi {
						dv[j*c3+x] += pij * o
						s += o * v[j*c3+x]
					}
					ds[i*t+j] = s
					dot += pij * s
				}
				for j := 0; j < t; j++ {
					sij := scale * p[i*t+j] * (ds[i*t+j] - dot)
					for x := 0; x < d; x++ {
						dq[i*c3+x] += sij * k[j*c3+x]
						dk[j*c3+x] += sij * q[i*c3+x]
					}
				}
			}
		}
	}
}

func colSumAdd(dst, g []float32, cols int) {
	const tile, block = 256, 64
	var acc, part [tile]float32
	rows := len(g) / cols
	for j0 := 0; j0 < cols; j0 += tile {
		w := min(tile, cols-j0)
		clear(acc[:])
		for r0 := 0; r0 < rows; r0 += block {
			clear(part[:])
			for r := r0; r < min(r0+block, rows); r++ {
				row := g[r*cols+j0 : r*cols+j0+w]
				for j, v := range row {
					part[j] += v
				}
			}
			for j := range w {
				acc[j] += part[j]
			}
		}
		for j := range w {
			dst[j0+j] += acc[j]
		}
	}
}
