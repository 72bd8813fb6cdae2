//go:build !cgo || purego

package vmath

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
