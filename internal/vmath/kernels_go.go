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
