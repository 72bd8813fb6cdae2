package plots

import (
	"image"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// readPNG decodes path, checks its size (0 skips a dimension) and that it is not blank:
// the grey-level variance of a picture with real content is far above zero.
func readPNG(t *testing.T, path string, w, h int) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	b := img.Bounds()
	if (w != 0 && b.Dx() != w) || (h != 0 && b.Dy() != h) {
		t.Errorf("%s: %dx%d pixels, want %dx%d", path, b.Dx(), b.Dy(), w, h)
	}
	var sum, sum2, n float64
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			v := float64(r+g+bl) / 3 / 65535
			sum, sum2, n = sum+v, sum2+v*v, n+1
		}
	}
	if variance := sum2/n - (sum/n)*(sum/n); variance < 1e-3 {
		t.Errorf("%s: pixel variance %.2g, picture looks blank", path, variance)
	}
	// No temporary file may be left behind by the atomic write.
	entries, _ := os.ReadDir(filepath.Dir(path))
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
	return img
}

func sampleCurves(epochs int) Curves {
	c := Curves{Title: "PB_T50_RS, Point-PEFT"}
	for e := range epochs {
		c.Epochs = append(c.Epochs, e)
		f := float64(e) / float64(max(epochs-1, 1))
		c.TrainLoss = append(c.TrainLoss, 2.7*math.Exp(-3*f)+0.3)
		c.TrainAcc = append(c.TrainAcc, 30+60*(1-math.Exp(-4*f)))
		// The reference validates from epoch 1 on.
		if e == 0 {
			c.ValAcc = append(c.ValAcc, math.NaN())
		} else {
			c.ValAcc = append(c.ValAcc, 28+57*(1-math.Exp(-4*f)))
		}
		c.LR = append(c.LR, 1e-6+0.5*(5e-4-1e-6)*(1+math.Cos(math.Pi*f)))
	}
	return c
}

func TestTrainCurves(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "curves.png")
	if err := TrainCurves(path, sampleCurves(60)); err != nil {
		t.Fatal(err)
	}
	// 9 in wide; 3 panels of 2.6 in plus 0.4 in, at 96 dpi.
	readPNG(t, path, 864, 787)

	// Overwriting an existing file works, and so do one epoch and a missing panel.
	one := sampleCurves(1)
	one.TrainAcc, one.ValAcc = nil, nil
	if err := TrainCurves(path, one); err != nil {
		t.Fatal(err)
	}
	readPNG(t, path, 864, int(math.Round(5.6*96)))
}

func TestTrainCurvesRejects(t *testing.T) {
	dir := t.TempDir()
	short := sampleCurves(10)
	short.LR = short.LR[:9]
	allNaN := Curves{Epochs: []int{0, 1}, TrainLoss: []float64{math.NaN(), math.Inf(1)}}
	for name, c := range map[string]Curves{
		"no epochs":       {TrainLoss: []float64{1}},
		"length mismatch": short,
		"nothing to draw": allNaN,
	} {
		if err := TrainCurves(filepath.Join(dir, "x.png"), c); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if err := TrainCurves(filepath.Join(dir, "missing", "x.png"), sampleCurves(3)); err == nil {
		t.Error("unwritable path: no error")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("failed calls left files: %v", entries)
	}
}

func confusionSample(n int, rng *rand.Rand) [][]int {
	m := make([][]int, n)
	for i := range m {
		m[i] = make([]int, n)
		for k := 0; k < 20+rng.IntN(80); k++ {
			j := i
			if rng.Float64() < 0.25 {
				j = rng.IntN(n)
			}
			m[i][j]++
		}
	}
	return m
}

var scanClasses = []string{"bag", "bin", "box", "cabinet", "chair", "desk", "display", "door",
	"shelf", "table", "bed", "pillow", "sink", "sofa", "toilet"}

func TestConfusion(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	dir := t.TempDir()
	small := filepath.Join(dir, "scan.png")
	m := confusionSample(len(scanClasses), rng)
	m[3] = make([]int, len(scanClasses)) // a class without samples must not break it
	if err := Confusion(small, scanClasses, m, "ScanObjectNN test, epoch 120"); err != nil {
		t.Fatal(err)
	}
	img := readPNG(t, small, 0, 0)
	if b := img.Bounds(); b.Dx() < 15*36 || b.Dx() > 1200 {
		t.Errorf("15 classes: width %d pixels", b.Dx())
	}

	var forty []string
	for i := range 40 {
		forty = append(forty, "class_"+string(rune('a'+i%26))+strings.Repeat("x", i%7))
	}
	large := filepath.Join(dir, "modelnet.png")
	if err := Confusion(large, forty, confusionSample(40, rng), "ModelNet40"); err != nil {
		t.Fatal(err)
	}
	img = readPNG(t, large, 0, 0)
	if b := img.Bounds(); b.Dx() < 40*16 || b.Dx() > 1600 {
		t.Errorf("40 classes: width %d pixels", b.Dx())
	}
}

func TestConfusionRejects(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "c.png")
	cases := map[string]struct {
		classes []string
		m       [][]int
	}{
		"no classes":     {nil, nil},
		"too few rows":   {[]string{"a", "b"}, [][]int{{1, 0}}},
		"ragged row":     {[]string{"a", "b"}, [][]int{{1, 0}, {2}}},
		"negative count": {[]string{"a", "b"}, [][]int{{1, 0}, {-1, 3}}},
	}
	for name, c := range cases {
		if err := Confusion(p, c.classes, c.m, "x"); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Error("rejected input wrote a file")
	}
}

// shapes are simple test clouds with distinct silhouettes.
func shapes(rng *rand.Rand, n int) [][]float32 {
	sphere, box, torus, chair := make([]float32, 0, 3*n), make([]float32, 0, 3*n), make([]float32, 0, 3*n), make([]float32, 0, 3*n)
	for range n {
		// Sphere surface.
		x, y, z := rng.NormFloat64(), rng.NormFloat64(), rng.NormFloat64()
		r := math.Sqrt(x*x + y*y + z*z)
		sphere = append(sphere, float32(x/r), float32(y/r), float32(z/r))
		// Box surface: one coordinate pinned to a face.
		p := [3]float64{rng.Float64()*2 - 1, rng.Float64()*1 - 0.5, rng.Float64()*0.6 - 0.3}
		k := rng.IntN(3)
		p[k] = []float64{1, 0.5, 0.3}[k] * float64(1-2*rng.IntN(2))
		box = append(box, float32(p[0]), float32(p[1]), float32(p[2]))
		// Torus in the x-z plane.
		u, v := rng.Float64()*2*math.Pi, rng.Float64()*2*math.Pi
		torus = append(torus, float32((1+0.3*math.Cos(v))*math.Cos(u)), float32(0.3*math.Sin(v)), float32((1+0.3*math.Cos(v))*math.Sin(u)))
		// Chair: seat, back, four legs (y up).
		var q [3]float64
		switch s := rng.IntN(6); {
		case s < 2:
			q = [3]float64{rng.Float64() - 0.5, 0, rng.Float64() - 0.5}
		case s < 4:
			q = [3]float64{rng.Float64() - 0.5, rng.Float64(), -0.5}
		default:
			q = [3]float64{0.45 * float64(1-2*rng.IntN(2)), -rng.Float64() * 0.8, 0.45 * float64(1-2*rng.IntN(2))}
		}
		chair = append(chair, float32(q[0]), float32(q[1]), float32(q[2]))
	}
	return [][]float32{chair, sphere, box, torus}
}

func TestClouds(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	cl := append(shapes(rng, 2048), shapes(rng, 1024)[:2]...)
	titles := []string{"pred: chair / true: chair", "pred: sphere / true: sphere", "pred: box / true: bed",
		"pred: torus / true: torus", "pred: table / true: chair", "pred: sphere / true: sphere"}
	wrong := []bool{false, false, true, false, true, false}
	path := filepath.Join(t.TempDir(), "clouds.png")
	if err := Clouds(path, cl, titles, wrong, 3); err != nil {
		t.Fatal(err)
	}
	// 3×2 tiles of 202×220 pt at 96 dpi.
	img := readPNG(t, path, 808, 587)
	// A wrong title is drawn in red: some pixel in the third tile's title band is red.
	red := false
	for y := 6; y < 30 && !red; y++ {
		for x := 2 * 269; x < 3*269 && !red; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			red = r > 40000 && g < 20000 && b < 20000
		}
	}
	if !red {
		t.Error("no red title text for a wrong prediction")
	}

	// A single point and nil flags are fine; cols beyond the count shrink the grid.
	if err := Clouds(path, [][]float32{{1, 2, 3}}, []string{"one point"}, nil, 4); err != nil {
		t.Fatal(err)
	}
	readPNG(t, path, 269, 293)
}

func TestCloudsRejects(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.png")
	ok := [][]float32{{0, 0, 0, 1, 1, 1}}
	cases := map[string]func() error{
		"no clouds":    func() error { return Clouds(p, nil, nil, nil, 1) },
		"zero columns": func() error { return Clouds(p, ok, []string{"a"}, nil, 0) },
		"title count":  func() error { return Clouds(p, ok, []string{"a", "b"}, nil, 1) },
		"flag count":   func() error { return Clouds(p, ok, []string{"a"}, []bool{true, false}, 1) },
		"not triples":  func() error { return Clouds(p, [][]float32{{0, 1}}, []string{"a"}, nil, 1) },
		"empty cloud":  func() error { return Clouds(p, [][]float32{{}}, []string{"a"}, nil, 1) },
		"non-finite":   func() error { return Clouds(p, [][]float32{{0, float32(math.NaN()), 0}}, []string{"a"}, nil, 1) },
	}
	for name, f := range cases {
		if err := f(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestEpochCurves(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "val.png")
	ss := []Series{
		{Name: "full", Epochs: []int{0, 1, 2}, Values: []float64{60, 70, 75}},
		{Name: "linear", Epochs: []int{0, 1}, Values: []float64{50, math.NaN()}},
	}
	if err := EpochCurves(path, "validation accuracy", "accuracy (%)", ss); err != nil {
		t.Fatal(err)
	}
	readPNG(t, path, 864, 384)
	ss[1].Values = ss[1].Values[:1]
	if err := EpochCurves(filepath.Join(dir, "x.png"), "", "", ss); err == nil {
		t.Error("length mismatch: no error")
	}
	if err := EpochCurves(filepath.Join(dir, "x.png"), "", "", []Series{{Name: "a", Epochs: []int{0}, Values: []float64{math.NaN()}}}); err == nil {
		t.Error("nothing to draw: no error")
	}
}
