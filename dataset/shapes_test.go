package dataset

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestShapesDeterministic(t *testing.T) {
	cfg := DefaultShapesConfig()
	cfg.Train, cfg.Test, cfg.NumPoints = 60, 30, 256
	a, err := NewShapes(cfg, "train")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewShapes(cfg, "train")
	te, _ := NewShapes(cfg, "test")
	cfg.Seed++
	c, _ := NewShapes(cfg, "train")
	counts := make([]int, len(ShapeClasses))
	for i := 0; i < a.Len(); i++ {
		sa, err := a.Get(i)
		if err != nil {
			t.Fatal(err)
		}
		sb, _ := b.Get(i)
		sc, _ := c.Get(i)
		if !equal(sa.Points, sb.Points) || sa.Label != sb.Label {
			t.Fatalf("sample %d differs between calls", i)
		}
		if equal(sa.Points, sc.Points) {
			t.Fatalf("sample %d ignores the seed", i)
		}
		if i < te.Len() {
			if st, _ := te.Get(i); equal(st.Points, sa.Points) {
				t.Fatalf("train and test sample %d are equal", i)
			}
		}
		if len(sa.Points) != 256*3 || math.Abs(maxRadius(sa.Points)-1) > 1e-5 {
			t.Fatalf("sample %d: %d values, radius %v", i, len(sa.Points), maxRadius(sa.Points))
		}
		counts[sa.Label]++
	}
	for k, n := range counts {
		if n < 4 {
			t.Fatalf("class %s has %d samples", ShapeClasses[k], n)
		}
	}
	for _, bad := range []ShapesConfig{{NumPoints: 0}, {NumPoints: 8, Occlusion: 2}, {NumPoints: 8, Train: -1}} {
		if _, err := NewShapes(bad, "train"); err == nil {
			t.Errorf("config %+v accepted", bad)
		}
	}
	if _, err := NewShapes(DefaultShapesConfig(), "val"); err == nil {
		t.Error("unknown split accepted")
	}
}

// randomNetFeatures embeds a cloud with a frozen random one-layer PointNet:
// per-point ReLU(W p + b), max- and mean-pooled.
func randomNetFeatures(p []float32, w [][3]float64, bias []float64) []float64 {
	d := len(w)
	f := make([]float64, 2*d+1)
	n := len(p) / 3
	for j := 0; j < d; j++ {
		mx, sum := 0.0, 0.0
		for i := 0; i < n; i++ {
			v := w[j][0]*float64(p[i*3]) + w[j][1]*float64(p[i*3+1]) + w[j][2]*float64(p[i*3+2]) + bias[j]
			v = math.Max(v, 0)
			mx = math.Max(mx, v)
			sum += v
		}
		f[j], f[d+j] = mx, sum/float64(n)
	}
	f[2*d] = 1
	return f
}

// TestShapesLearnableNotTrivial fits a ridge-regression linear probe on the
// features of a random network: the classes must be far above chance but not
// perfectly separable.
func TestShapesLearnableNotTrivial(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	cfg := DefaultShapesConfig()
	cfg.Train, cfg.Test, cfg.NumPoints = 1400, 700, 512
	r := rand.New(rand.NewPCG(42, 0))
	const d = 96
	w := make([][3]float64, d)
	bias := make([]float64, d)
	for j := range w {
		w[j] = [3]float64{r.NormFloat64(), r.NormFloat64(), r.NormFloat64()}
		bias[j] = r.NormFloat64() * 0.5
	}
	feats := func(split string) ([][]float64, []int) {
		ds, err := NewShapes(cfg, split)
		if err != nil {
			t.Fatal(err)
		}
		mem, err := Preload(ds, 0)
		if err != nil {
			t.Fatal(err)
		}
		x := make([][]float64, mem.Len())
		y := make([]int, mem.Len())
		for i := range x {
			s, _ := mem.Get(i)
			x[i], y[i] = randomNetFeatures(s.Points, w, bias), s.Label
		}
		return x, y
	}
	xtr, ytr := feats("train")
	xte, yte := feats("test")
	k, m := len(ShapeClasses), len(xtr[0])
	// Solve (X'X + lambda I) B = X'Y by Gaussian elimination.
	a := make([][]float64, m)
	for i := range a {
		a[i] = make([]float64, m+k)
		a[i][i] = 1e-3 * float64(len(xtr))
	}
	for s, x := range xtr {
		for i := 0; i < m; i++ {
			for j := 0; j < m; j++ {
				a[i][j] += x[i] * x[j]
			}
			a[i][m+ytr[s]] += x[i]
		}
	}
	for c := 0; c < m; c++ {
		piv := c
		for i := c + 1; i < m; i++ {
			if math.Abs(a[i][c]) > math.Abs(a[piv][c]) {
				piv = i
			}
		}
		a[c], a[piv] = a[piv], a[c]
		for i := 0; i < m; i++ {
			if i == c || a[c][c] == 0 {
				continue
			}
			f := a[i][c] / a[c][c]
			for j := c; j < m+k; j++ {
				a[i][j] -= f * a[c][j]
			}
		}
	}
	correct := 0
	for s, x := range xte {
		best, arg := math.Inf(-1), -1
		for c := 0; c < k; c++ {
			v := 0.0
			for i := 0; i < m; i++ {
				v += x[i] * a[i][m+c] / a[i][i]
			}
			if v > best {
				best, arg = v, c
			}
		}
		if arg == yte[s] {
			correct++
		}
	}
	acc := float64(correct) / float64(len(xte))
	t.Logf("linear probe on a random network: test accuracy %.3f (chance %.3f)", acc, 1/float64(k))
	if acc < 3.0/float64(k) || acc > 0.97 {
		t.Fatalf("probe accuracy %.3f: the set is too hard or trivial", acc)
	}
}
