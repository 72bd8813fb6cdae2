package tensor

import (
	"fmt"
	"math"

	"github.com/pointpeft/pointpeft/internal/vmath"
)

// rows views t as [rows, n] over its last axis.
func rowsOf(t *Tensor) (rows, n int) {
	n = t.Dim(-1)
	return t.Numel() / max(n, 1), n
}

// Softmax normalises the last axis to probabilities.
func Softmax(t *Tensor) *Tensor {
	rows, n := rowsOf(t)
	out := allocFull(len(t.Data))
	parallelFor(rows, grainElems/(n+1)+1, func(lo, hi int) {
		vmath.SoftmaxRows(out[lo*n:hi*n], t.Data[lo*n:hi*n], n)
	})
	res := resultSaving(saving{out: true}, t.Shape(), out, t)
	if res.requiresGrad {
		res.backward = func() {
			g := t.grad()
			parallelFor(rows, grainElems/(n+1)+1, func(lo, hi int) {
				for r := lo; r < hi; r++ {
					y, dy, dx := out[r*n:(r+1)*n], res.Grad[r*n:(r+1)*n], g[r*n:(r+1)*n]
					var dot float32
					for i := range y {
						dot += y[i] * dy[i]
					}
					for i := range y {
						dx[i] += y[i] * (dy[i] - dot)
					}
				}
			})
		}
	}
	return res
}

// LogSoftmax is log(softmax(x)) over the last axis, computed stably.
func LogSoftmax(t *Tensor) *Tensor {
	rows, n := rowsOf(t)
	out := allocFull(len(t.Data))
	parallelFor(rows, grainElems/(n+1)+1, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			logSoftmaxRow(out[r*n:(r+1)*n], t.Data[r*n:(r+1)*n])
		}
	})
	res := resultSaving(saving{out: true}, t.Shape(), out, t)
	if res.requiresGrad {
		res.backward = func() {
			g := t.grad()
			parallelFor(rows, grainElems/(n+1)+1, func(lo, hi int) {
				for r := lo; r < hi; r++ {
					y, dy, dx := out[r*n:(r+1)*n], res.Grad[r*n:(r+1)*n], g[r*n:(r+1)*n]
					var s float32
					for _, v := range dy {
						s += v
					}
					for i := range y {
						dx[i] += dy[i] - float32(math.Exp(float64(y[i])))*s
					}
				}
			})
		}
	}
	return res
}

func logSoftmaxRow(dst, src []float32) {
	m := float32(math.Inf(-1))
	for _, v := range src {
		if v > m { // not max(): its NaN and signed-zero rules cost a third of softmax
			m = v
		}
	}
	var s float64
	for _, v := range src {
		s += math.Exp(float64(v - m))
	}
	lse := m + float32(math.Log(s))
	for i, v := range src {
		dst[i] = v - lse
	}
}

// CrossEntropy is the mean over rows of -log softmax(logits)[label], logits [N, C].
// With smoothing s > 0 the target is (1-s)·onehot + s/C, as PyTorch's label_smoothing.
func CrossEntropy(logits *Tensor, labels []int, smoothing float32) *Tensor {
	if logits.Rank() != 2 || logits.Dim(0) != len(labels) {
		panic(&ShapeError{Op: "CrossEntropy", Shapes: [][]int{logits.Shape(), {len(labels)}}, Msg: "want logits [N,C] and N labels"})
	}
	n, c := logits.Dim(0), logits.Dim(1)
	for i, l := range labels {
		if l < 0 || l >= c {
			shapeErr("CrossEntropy", fmt.Sprintf("label %d of row %d not in [0,%d)", l, i, c), logits)
		}
	}
	logp := allocFull(n * c)
	var total float64
	for r := 0; r < n; r++ {
		row := logp[r*c : (r+1)*c]
		logSoftmaxRow(row, logits.Data[r*c:(r+1)*c])
		var all float64
		for _, v := range row {
			all += float64(v)
		}
		total += -float64(1-smoothing)*float64(row[labels[r]]) - float64(smoothing)/float64(c)*all
	}
	res := resultSaving(saves(), []int{}, []float32{float32(total / float64(max(n, 1)))}, logits)
	if res.requiresGrad {
		res.backward = func() {
			g := logits.grad()
			scale := res.Grad[0] / float32(n)
			for r := 0; r < n; r++ {
				for j := 0; j < c; j++ {
					target := smoothing / float32(c)
					if j == labels[r] {
						target += 1 - smoothing
					}
					g[r*c+j] += scale * (float32(math.Exp(float64(logp[r*c+j]))) - target)
				}
			}
		}
	}
	return res
}

// LayerNorm normalises the last axis: (x-mean)/sqrt(var+eps)·w + b, with the biased
// variance as PyTorch uses (eps 1e-5 there). w and b are [C] and may be nil.
func LayerNorm(x, w, b *Tensor, eps float32) *Tensor {
	rows, n := rowsOf(x)
	checkAffine("LayerNorm", x, w, b, n)
	out := allocFull(len(x.Data))
	mean := alloc(rows)
	rstd := alloc(rows)
	ws, bs := affineDefaults(w, b, n)
	parallelFor(rows, grainElems/(n+1)+1, func(lo, hi int) {
		vmath.LayerNorm(out[lo*n:hi*n], x.Data[lo*n:hi*n], n, ws, bs, eps, mean[lo:hi], rstd[lo:hi])
	})
	res := resultSaving(saves(x), x.Shape(), out, x, w, b)
	if res.requiresGrad {
		res.backward = func() {
			var gx []float32
			if x.requiresGrad {
				gx = x.grad()
			}
			dw, db := affineGrads(w, b)
			partials := newPartials(rows, n, dw != nil, db != nil)
			parallelFor(rows, grainElems/(n+1)+1, func(lo, hi int) {
				pw, pb := partials.get(lo)
				dxhat := alloc(n)
				for r := lo; r < hi; r++ {
					row, dy := x.Data[r*n:(r+1)*n], res.Grad[r*n:(r+1)*n]
					mu, rs := mean[r], rstd[r]
					var sumD, sumDX float32
					for i, v := range row {
						xh := (v - mu) * rs
						d := dy[i]
						if pw != nil {
							pw[i] += float64(d * xh)
						}
						if pb != nil {
							pb[i] += float64(d)
						}
						if w != nil {
							d *= w.Data[i]
						}
						dxhat[i] = d
						sumD += d
						sumDX += d * xh
					}
					if gx == nil {
						continue
					}
					mD, mDX := sumD/float32(n), sumDX/float32(n)
					g := gx[r*n : (r+1)*n]
					for i, v := range row {
						xh := (v - mu) * rs
						g[i] += rs * (dxhat[i] - mD - xh*mDX)
					}
				}
			})
			partials.addTo(dw, db)
		}
	}
	return res
}

func checkAffine(op string, x, w, b *Tensor, n int) {
	if w != nil && (w.Rank() != 1 || w.Dim(0) != n) {
		shapeErr(op, "weight must match the normalised axis", x, w)
	}
	if b != nil && (b.Rank() != 1 || b.Dim(0) != n) {
		shapeErr(op, "bias must match the normalised axis", x, b)
	}
}

func affineGrads(w, b *Tensor) (dw, db []float32) {
	if w != nil && w.requiresGrad {
		dw = w.grad()
	}
	if b != nil && b.requiresGrad {
		db = b.grad()
	}
	return dw, db
}

// partials holds per-goroutine float64 sums of per-channel values, one slot per chunk
// of parallelFor, summed in slot order afterwards so results are deterministic.
type partials struct {
	chunk int
	w, b  [][]float64
	n     int
}

func newPartials(rows, n int, hasW, hasB bool) *partials {
	slots, chunk := split(rows, grainElems/(n+1)+1)
	p := &partials{n: n, chunk: chunk, w: make([][]float64, slots), b: make([][]float64, slots)}
	for i := 0; i < slots; i++ {
		if hasW {
			p.w[i] = make([]float64, n)
		}
		if hasB {
			p.b[i] = make([]float64, n)
		}
	}
	return p
}

func (p *partials) get(lo int) (w, b []float64) {
	s := lo / p.chunk
	return p.w[s], p.b[s]
}

func (p *partials) addTo(dw, db []float32) {
	for s := range p.w {
		for i := 0; i < p.n; i++ {
			if dw != nil {
				dw[i] += float32(p.w[s][i])
			}
			if db != nil {
				db[i] += float32(p.b[s][i])
			}
		}
	}
}

// BatchNormState is the running statistics of a BatchNorm layer, updated in training.
type BatchNormState struct {
	Mean, Var []float32
	// Batches counts training steps, PyTorch's num_batches_tracked.
	Batches  int64
	Momentum float32
	Eps      float32
}

// BatchNorm normalises each channel of x, which is channels-last [rows, C] (PyTorch's
// BatchNorm1d on [N, C, L] is the same op on the transposed layout). In training it uses
// the batch statistics and updates st's running mean and unbiased running variance;
// otherwise it uses the running statistics. w and b are [C] and may be nil.
func BatchNorm(x, w, b *Tensor, st *BatchNormState, train bool) *Tensor {
	rows, c := rowsOf(x)
	checkAffine("BatchNorm", x, w, b, c)
	mean, rstd := bnStats("BatchNorm", x, st, train)
	out := allocFull(len(x.Data))
	bnApply(out, x.Data, rows, c, mean, rstd, w, b, false)
	res := resultSaving(saves(x), x.Shape(), out, x, w, b)
	if res.requiresGrad {
		res.backward = func() { batchNormBackward(x, w, b, res, mean, rstd, train) }
	}
	return res
}

// bnApply writes the BatchNorm of src [rows, C] to dst (which may be src), followed by
// ReLU when relu is set.
func bnApply(dst, src []float32, rows, c int, mean, rstd []float32, w, b *Tensor, relu bool) {
	ws, bs := affineDefaults(w, b, c)
	parallelFor(rows, grainElems/(c+1)+1, func(lo, hi int) {
		vmath.AffineCols(dst[lo*c:hi*c], src[lo*c:hi*c], c, mean, rstd, ws, bs, relu)
	})
}

// affineDefaults returns the data of a normalisation's weight and bias, ones and
// zeros in place of an absent one.
func affineDefaults(w, b *Tensor, n int) (ws, bs []float32) {
	if w != nil {
		ws = w.Data
	} else {
		ws = onesOf(n)
	}
	if b != nil {
		bs = b.Data
	} else {
		bs = make([]float32, n)
	}
	return ws, bs
}

func ones(n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = 1
	}
	return s
}

// bnStats returns the per-channel mean and 1/std a BatchNorm of x [rows, C] applies:
// the batch's in training (updating st's running statistics), st's otherwise.
func bnStats(op string, x *Tensor, st *BatchNormState, train bool) (mean, rstd []float32) {
	rows, c := rowsOf(x)
	if len(st.Mean) != c || len(st.Var) != c {
		shapeErr(op, fmt.Sprintf("running statistics have %d channels", len(st.Mean)), x)
	}
	mean = allocFull(c)
	rstd = allocFull(c)
	if train {
		if rows < 2 {
			shapeErr(op, "training needs more than one value per channel", x)
		}
		mus, vars := channelMoments(x.Data, rows, c)
		m := st.Momentum
		for j := 0; j < c; j++ {
			mu, v := mus[j], vars[j]
			mean[j] = float32(mu)
			rstd[j] = float32(1 / math.Sqrt(v+float64(st.Eps)))
			st.Mean[j] = (1-m)*st.Mean[j] + m*float32(mu)
			st.Var[j] = (1-m)*st.Var[j] + m*float32(v*float64(rows)/float64(rows-1))
		}
		st.Batches++
	} else {
		for j := 0; j < c; j++ {
			mean[j] = st.Mean[j]
			rstd[j] = float32(1 / math.Sqrt(float64(st.Var[j])+float64(st.Eps)))
		}
	}
	return mean, rstd
}

// channelMoments returns per-channel means and biased variances, summing in float64
// about a shift (the first row) so the variance stays accurate when |mean| ≫ std.
func channelMoments(x []float32, rows, c int) (mean, variance []float64) {
	p := newPartials(rows, c, true, true)
	parallelFor(rows, grainElems/(c+1)+1, func(lo, hi int) {
		ps, pss := p.get(lo)
		for r := lo; r < hi; r++ {
			row := x[r*c : (r+1)*c]
			for j, v := range row {
				d := float64(v) - float64(x[j])
				ps[j] += d
				pss[j] += d * d
			}
		}
	})
	mean, variance = make([]float64, c), make([]float64, c)
	for j := 0; j < c; j++ {
		var s, ss float64
		for k := range p.w {
			s += p.w[k][j]
			ss += p.b[k][j]
		}
		md := s / float64(rows)
		mean[j] = md + float64(x[j])
		variance[j] = max(ss/float64(rows)-md*md, 0)
	}
	return mean, variance
}

func batchNormBackward(x, w, b, res *Tensor, mean, rstd []float32, train bool) {
	rows, c := rowsOf(x)
	dw, db := affineGrads(w, b)
	// Σdy·x̂ and Σdy per channel are needed for the weight, the bias and (in training)
	// the input gradient alike.
	p := newPartials(rows, c, true, true)
	parallelFor(rows, grainElems/(c+1)+1, func(lo, hi int) {
		pw, pb := p.get(lo)
		for r := lo; r < hi; r++ {
			row, dy := x.Data[r*c:(r+1)*c], res.Grad[r*c:(r+1)*c]
			for j, v := range row {
				pw[j] += float64(dy[j] * (v - mean[j]) * rstd[j])
				pb[j] += float64(dy[j])
			}
		}
	})
	sumDX, sumD := make([]float64, c), make([]float64, c)
	for k := range p.w {
		for j := 0; j < c; j++ {
			sumDX[j] += p.w[k][j]
			sumD[j] += p.b[k][j]
		}
	}
	for j := 0; j < c; j++ {
		if dw != nil {
			dw[j] += float32(sumDX[j])
		}
		if db != nil {
			db[j] += float32(sumD[j])
		}
	}
	if !x.requiresGrad {
		return
	}
	gx := x.grad()
	scale := alloc(c)
	mD, mDX := alloc(c), alloc(c)
	for j := 0; j < c; j++ {
		scale[j] = rstd[j]
		if w != nil {
			scale[j] *= w.Data[j]
		}
		if train {
			mD[j] = float32(sumD[j] / float64(rows))
			mDX[j] = float32(sumDX[j] / float64(rows))
		}
	}
	parallelFor(rows, grainElems/(c+1)+1, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			row, dy, g := x.Data[r*c:(r+1)*c], res.Grad[r*c:(r+1)*c], gx[r*c:(r+1)*c]
			for j, v := range row {
				if train {
					xh := (v - mean[j]) * rstd[j]
					g[j] += scale[j] * (dy[j] - mD[j] - xh*mDX[j])
				} else {
					g[j] += scale[j] * dy[j]
				}
			}
		}
	})
}

// L2Normalize divides each row (last axis) by max(‖row‖₂, eps), as F.normalize does.
func L2Normalize(t *Tensor, eps float32) *Tensor {
	rows, n := rowsOf(t)
	out := allocFull(len(t.Data))
	norms := allocFull(rows)
	parallelFor(rows, grainElems/(n+1)+1, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			row := t.Data[r*n : (r+1)*n]
			var s float64
			for _, v := range row {
				s += float64(v) * float64(v)
			}
			nm := max(float32(math.Sqrt(s)), eps)
			norms[r] = nm
			for i, v := range row {
				out[r*n+i] = v / nm
			}
		}
	})
	res := resultSaving(saving{out: true}, t.Shape(), out, t)
	if res.requiresGrad {
		res.backward = func() {
			g := t.grad()
			parallelFor(rows, grainElems/(n+1)+1, func(lo, hi int) {
				for r := lo; r < hi; r++ {
					y, dy, dx := out[r*n:(r+1)*n], res.Grad[r*n:(r+1)*n], g[r*n:(r+1)*n]
					nm := norms[r]
					if nm == eps {
						for i := range dx {
							dx[i] += dy[i] / nm
						}
						continue
					}
					var dot float32
					for i := range y {
						dot += y[i] * dy[i]
					}
					for i := range y {
						dx[i] += (dy[i] - y[i]*dot) / nm
					}
				}
			})
		}
	}
	return res
}
