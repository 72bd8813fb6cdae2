package tensor

import (
	"math"
	"math/rand/v2"
	"testing"
)

// chamferPair returns point sets whose nearest-neighbour pairs are unambiguous, so that
// the ±fdEps stencil of the gradient check never flips an arg-min (the min is only
// piecewise smooth): a [p, n, 3] on distinct cells of a unit grid (±0.1 noise, so ≥ 0.8
// apart), b [p, n-1, 3] the first n-1 of them moved by ≤ 0.03 per axis, and a's last
// point 0.3 from its first, which makes it the unmatched one whose nearest b is b_0.
func chamferPair(rng *rand.Rand, p, n int) (a, b *Tensor) {
	a, b = New(p, n, 3), New(p, n-1, 3)
	for s := 0; s < p; s++ {
		cells := rng.Perm(27)
		for i := 0; i < n-1; i++ {
			c := cells[i]
			for k, v := range [3]int{c % 3, c / 3 % 3, c / 9} {
				x := float32(v) + float32(rng.Float64()*0.2-0.1)
				a.Data[(s*n+i)*3+k] = x
				b.Data[(s*(n-1)+i)*3+k] = x + float32(rng.Float64()*0.06-0.03)
			}
		}
		copy(a.Data[(s*n+n-1)*3:], a.Data[s*n*3:s*n*3+3])
		a.Data[(s*n+n-1)*3] += 0.3
	}
	return a, b
}

func TestGradChamfer(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 9))
	a, b := chamferPair(rng, 2, 5)
	gradCheck(t, "ChamferDist d1", func(in []*Tensor) *Tensor { d1, _ := ChamferDist(in[0], in[1]); return d1 }, a, b)
	gradCheck(t, "ChamferDist d2", func(in []*Tensor) *Tensor { _, d2 := ChamferDist(in[0], in[1]); return d2 }, a, b)
	gradCheck(t, "ChamferL2", func(in []*Tensor) *Tensor { return ChamferL2(in[0], in[1]) }, a, b)
}

// TestChamferMatchesBruteForce checks the values against a float64 double loop, and
// the loss against Mean(d1)+Mean(d2) computed by hand.
func TestChamferMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	p, n, m := 3, 7, 5
	a, b := randTensor(rng, p, n, 3), randTensor(rng, p, m, 3)
	d1, d2 := ChamferDist(a, b)
	var want float64
	for s := 0; s < p; s++ {
		for i := 0; i < n; i++ {
			best1 := math.Inf(1)
			for j := 0; j < m; j++ {
				var d float64
				for c := 0; c < 3; c++ {
					v := float64(a.Data[(s*n+i)*3+c]) - float64(b.Data[(s*m+j)*3+c])
					d += v * v
				}
				best1 = math.Min(best1, d)
			}
			if math.Abs(float64(d1.Data[s*n+i])-best1) > 1e-5*(1+best1) {
				t.Errorf("d1[%d,%d] = %g, want %g", s, i, d1.Data[s*n+i], best1)
			}
			want += best1 / float64(p*n)
		}
		for j := 0; j < m; j++ {
			best2 := math.Inf(1)
			for i := 0; i < n; i++ {
				var d float64
				for c := 0; c < 3; c++ {
					v := float64(a.Data[(s*n+i)*3+c]) - float64(b.Data[(s*m+j)*3+c])
					d += v * v
				}
				best2 = math.Min(best2, d)
			}
			if math.Abs(float64(d2.Data[s*m+j])-best2) > 1e-5*(1+best2) {
				t.Errorf("d2[%d,%d] = %g, want %g", s, j, d2.Data[s*m+j], best2)
			}
			want += best2 / float64(p*m)
		}
	}
	if got := ChamferL2(a, b).Item(); math.Abs(float64(got)-want) > 1e-5*want {
		t.Errorf("ChamferL2 = %g, want %g", got, want)
	}
	// Identical sets are at distance 0, and only one side needing a gradient works.
	x := NewParam("x", append([]float32(nil), a.Data...), p, n, 3)
	loss := ChamferL2(x, a)
	if loss.Item() != 0 {
		t.Errorf("ChamferL2(a, a) = %g", loss.Item())
	}
	Backward(loss)
	for _, g := range x.Grad {
		if g != 0 {
			t.Fatalf("gradient %g at a minimum", g)
		}
	}
	if err := Catch(func() { ChamferDist(a, randTensor(rng, p+1, m, 3)) }); err == nil {
		t.Error("mismatched set counts accepted")
	}
	if err := Catch(func() { ChamferDist(a, randTensor(rng, p, m, 2)) }); err == nil {
		t.Error("2-d points accepted")
	}
}
