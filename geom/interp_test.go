package geom

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestInterpWeights(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	b, s, tt, k := 3, 64, 500, 3
	src := randCloud(rng, b, s)
	tgt := randCloud(rng, b, tt)
	// Target 0 of every cloud sits exactly on source 5.
	for bi := range b {
		copy(tgt[bi*tt*3:], src[(bi*s+5)*3:(bi*s+6)*3])
	}
	idx, w, err := ThreeNN(src, b, s, tgt, tt)
	if err != nil {
		t.Fatal(err)
	}
	wantIdx, _ := KNN(src, b, s, tgt, tt, k)
	for r := range b * tt {
		var sum float64
		for i := range k {
			if idx[r*k+i] != wantIdx[r*k+i] {
				t.Fatalf("ThreeNN idx differs from KNN at row %d", r)
			}
			sum += float64(w[r*k+i])
		}
		if math.Abs(sum-1) > 1e-6 {
			t.Fatalf("row %d weights sum to %v", r, sum)
		}
		// Against the formula evaluated in float64 from the coordinates.
		bi := r / tt
		var recip [3]float64
		var norm float64
		for i := range k {
			j := bi*s + int(idx[r*k+i])
			var d float64
			for a := range 3 {
				e := float64(tgt[3*r+a]) - float64(src[3*j+a])
				d += e * e
			}
			recip[i] = 1 / (d + DefaultInterpEps)
			norm += recip[i]
		}
		for i := range k {
			if want := recip[i] / norm; math.Abs(float64(w[r*k+i])-want) > 1e-5*max(want, 1e-2) {
				t.Fatalf("row %d weight %d = %v, want %v", r, i, w[r*k+i], want)
			}
		}
		// Nearer sources never get less weight.
		for i := 1; i < k; i++ {
			if w[r*k+i] > w[r*k+i-1] {
				t.Fatalf("row %d weights not monotone: %v", r, w[r*k:(r+1)*k])
			}
		}
	}
	for bi := range b {
		r := bi * tt
		if idx[r*k] != 5 || w[r*k] < 1-1e-5 {
			t.Fatalf("cloud %d: coincident target got idx %d weight %v", bi, idx[r*k], w[r*k])
		}
	}

	// eps = 0: exact one-hot on the coincident source, exact split for a
	// duplicated source, plain 1/d² elsewhere.
	src1 := []float32{0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 4, 0}
	tgt1 := []float32{0, 0, 0, 1, 0, 0}
	w1, err := InterpWeights(src1[:9], 1, 3, tgt1, 2, []int32{1, 0, 0, 1}, 2, 0)
	if err != nil {
		t.Fatal(err)
	}
	if w1[0] != 0 || w1[1] != 1 || w1[2] != 0.5 || w1[3] != 0.5 {
		t.Fatalf("eps=0 weights %v", w1)
	}
	w2, err := InterpWeights(src1, 1, 4, tgt1[:3], 1, []int32{0, 2, 1}, 3, 0)
	if err != nil {
		t.Fatal(err)
	}
	if w2[0] != 0.5 || w2[1] != 0.5 || w2[2] != 0 {
		t.Fatalf("eps=0 duplicate-source weights %v", w2)
	}
	w3, err := InterpWeights(src1, 1, 4, []float32{0, 1, 0}, 1, []int32{0, 3}, 2, 0)
	if err != nil {
		t.Fatal(err)
	}
	// d² = 1 and 9: weights 0.9 and 0.1.
	if math.Abs(float64(w3[0])-0.9) > 1e-7 || math.Abs(float64(w3[1])-0.1) > 1e-7 {
		t.Fatalf("1/d² weights %v, want [0.9 0.1]", w3)
	}
}

func TestInterpolate(t *testing.T) {
	rng := rand.New(rand.NewPCG(43, 44))
	b, s, tt, c := 2, 32, 100, 5
	src := randCloud(rng, b, s)
	tgt := randCloud(rng, b, tt)
	copy(tgt[(tt+7)*3:], src[(s+9)*3:(s+10)*3]) // cloud 1 target 7 on source 9
	feats := make([]float32, b*s*c)
	for i := range feats {
		feats[i] = float32(rng.NormFloat64())
	}
	idx, w, err := KNNWeights(src, b, s, tgt, tt, 4, 0)
	if err != nil {
		t.Fatal(err)
	}
	out, err := Interpolate(feats, b, s, c, idx, w, tt, 4)
	if err != nil {
		t.Fatal(err)
	}
	for ch := range c {
		if got, want := out[(tt+7)*c+ch], feats[(s+9)*c+ch]; got != want {
			t.Fatalf("coincident target channel %d = %v, want source value %v", ch, got, want)
		}
	}
	for r := range b * tt {
		for ch := range c {
			var want float64
			for i := range 4 {
				want += float64(w[r*4+i]) * float64(feats[((r/tt)*s+int(idx[r*4+i]))*c+ch])
			}
			if math.Abs(float64(out[r*c+ch])-want) > 1e-5 {
				t.Fatalf("row %d channel %d = %v, want %v", r, ch, out[r*c+ch], want)
			}
		}
	}
	// Constant features stay constant.
	for i := range feats {
		feats[i] = 2.5
	}
	out, _ = Interpolate(feats, b, s, c, idx, w, tt, 4)
	for i, v := range out {
		if math.Abs(float64(v)-2.5) > 1e-5 {
			t.Fatalf("constant field interpolated to %v at %d", v, i)
		}
	}
}
