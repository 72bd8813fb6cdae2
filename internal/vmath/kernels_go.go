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
