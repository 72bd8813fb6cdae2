package dataset

import (
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pointpeft/pointpeft/geom"
	"github.com/pointpeft/pointpeft/pcio"
)

func seq(n int) []float32 {
	p := make([]float32, n*3)
	for i := range p {
		p[i] = float32(i)
	}
	return p
}

func TestFitPolicies(t *testing.T) {
	p := seq(10)
	got, err := Options{NumPoints: 4}.fit(p, 0, "x")
	if err != nil || len(got) != 12 || got[11] != 11 {
		t.Fatalf("first: %v %v", got, err)
	}
	got[0] = -1
	if p[0] != 0 {
		t.Fatal("fit aliases its input")
	}
	o := Options{NumPoints: 4, More: MoreRandom, Seed: 3}
	a, _ := o.fit(p, 5, "x")
	b, _ := o.fit(p, 5, "x")
	c, _ := o.fit(p, 6, "x")
	if !equal(a, b) || equal(a, c) {
		t.Fatal("random subset is not seeded by (seed, index)")
	}
	seen := map[float32]bool{}
	for i := 0; i < 4; i++ {
		if seen[a[i*3]] || int(a[i*3])%3 != 0 || a[i*3+1] != a[i*3]+1 {
			t.Fatalf("random subset is not a set of whole points: %v", a)
		}
		seen[a[i*3]] = true
	}
	_, err = Options{NumPoints: 20}.fit(p, 0, "read f.npy")
	if err == nil || !strings.Contains(err.Error(), "f.npy") || !strings.Contains(err.Error(), "has 10 points, need 20") {
		t.Fatalf("too few: %v", err)
	}
	r, err := Options{NumPoints: 20, Fewer: FewerResample}.fit(p, 0, "x")
	if err != nil || len(r) != 60 || !equal(r[:30], p) {
		t.Fatalf("resample: %v", err)
	}
}

func equal(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestNormalize(t *testing.T) {
	p := []float32{1, 1, 1, 3, 1, 1, 2, 5, 1}
	Normalize(p)
	if r := maxRadius(p); math.Abs(r-1) > 1e-6 {
		t.Fatalf("radius %v", r)
	}
}

func maxRadius(p []float32) float64 {
	var m float64
	for i := 0; i < len(p); i += 3 {
		m = math.Max(m, math.Sqrt(float64(p[i]*p[i]+p[i+1]*p[i+1]+p[i+2]*p[i+2])))
	}
	return m
}

func TestSampleSurface(t *testing.T) {
	// A flat 4x1 rectangle (two triangles) and a 1x1 square beside it: the
	// rectangle should get about 80% of the points.
	verts := []float32{0, 0, 0, 4, 0, 0, 4, 1, 0, 0, 1, 0, 10, 0, 0, 11, 0, 0, 11, 1, 0, 10, 1, 0}
	faces := []int32{0, 1, 2, 0, 2, 3, 4, 5, 6, 4, 6, 7}
	pts, err := SampleSurface(verts, faces, 20000, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	big := 0
	for i := 0; i < len(pts); i += 3 {
		x, y, z := pts[i], pts[i+1], pts[i+2]
		if z != 0 || y < 0 || y > 1 || (x > 4 && x < 10) || x < 0 || x > 11 {
			t.Fatalf("point %v off the surface", pts[i:i+3])
		}
		if x <= 4 {
			big++
		}
	}
	if f := float64(big) / 20000; math.Abs(f-0.8) > 0.02 {
		t.Fatalf("area weighting: %.3f of points on the big rectangle, want 0.8", f)
	}
	again, _ := SampleSurface(verts, faces, 20000, rand.New(rand.NewPCG(1, 2)))
	if !equal(pts, again) {
		t.Fatal("not deterministic")
	}
	bad := map[string]struct {
		faces []int32
		n     int
	}{"n": {faces, 0}, "index": {[]int32{0, 1, 99}, 5}, "noface": {nil, 5}, "flat": {[]int32{0, 0, 0}, 5}}
	for name, c := range bad {
		if _, err := SampleSurface(verts, c.faces, c.n, rand.New(rand.NewPCG(1, 1))); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// makeFolder builds <root>/<class>/<split>/ with the given files.
func makeFolder(t *testing.T, files map[string]pcio.Cloud) string {
	t.Helper()
	root := t.TempDir()
	for name, c := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		switch filepath.Ext(p) {
		case ".npy":
			err = pcio.WriteNPY(p, c.Points, []int{c.Len(), 3})
		case ".ply":
			err = pcio.WritePLY(p, c, true)
		case ".txt":
			err = pcio.WriteTXT(p, c)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestFolder(t *testing.T) {
	tetra := pcio.Cloud{Points: []float32{0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1}, Faces: []int32{0, 1, 2, 0, 1, 3, 0, 2, 3, 1, 2, 3}}
	root := makeFolder(t, map[string]pcio.Cloud{
		"bcls/train/a.npy":  {Points: seq(20)},
		"bcls/train/b.txt":  {Points: seq(30)},
		"acls/train/m.ply":  tetra,
		"acls/test/t.npy":   {Points: seq(8)},
		"bcls/test/u.npy":   {Points: seq(8)},
		"bcls/train/notes":  {Points: seq(1)},
		".hidden/train/x.n": {Points: seq(1)},
	})
	os.WriteFile(filepath.Join(root, "README.md"), []byte("x"), 0o644)
	ds, err := OpenFolder(root, "train", Options{NumPoints: 16, Seed: 9})
	if err != nil {
		t.Fatal(err)
	}
	if ds.Len() != 3 || strings.Join(ds.Classes(), ",") != "acls,bcls" {
		t.Fatalf("len %d classes %v", ds.Len(), ds.Classes())
	}
	for i := 0; i < ds.Len(); i++ {
		s, err := ds.Get(i)
		if err != nil {
			t.Fatal(err)
		}
		if len(s.Points) != 48 {
			t.Fatalf("%s: %d values", ds.Path(i), len(s.Points))
		}
		if wantLabel := map[bool]int{true: 0, false: 1}[strings.Contains(ds.Path(i), "acls")]; s.Label != wantLabel {
			t.Fatalf("%s: label %d", ds.Path(i), s.Label)
		}
	}
	m1, _ := ds.Get(0)
	m2, _ := ds.Get(0)
	if !equal(m1.Points, m2.Points) {
		t.Fatal("mesh sampling is not seeded by index")
	}
	if _, err := ds.Get(3); err == nil {
		t.Fatal("out-of-range index accepted")
	}
	// Too few points: the error names the file.
	ds32, _ := OpenFolder(root, "train", Options{NumPoints: 25})
	_, err = ds32.Get(1)
	if err == nil || !strings.Contains(err.Error(), "a.npy") {
		t.Fatalf("too few points: %v", err)
	}
	// A mesh without a requested size cannot be sampled.
	ds0, _ := OpenFolder(root, "train", Options{})
	if _, err := ds0.Get(0); err == nil || !strings.Contains(err.Error(), "m.ply") {
		t.Fatalf("mesh without NumPoints: %v", err)
	}
}

func TestFolderBadInput(t *testing.T) {
	root := makeFolder(t, map[string]pcio.Cloud{
		"a/train/x.npy": {Points: seq(4)},
		"b/test/y.npy":  {Points: seq(4)},
	})
	_, err := OpenFolder(root, "train", Options{})
	if err == nil || !strings.Contains(err.Error(), filepath.Join(root, "b")) {
		t.Fatalf("empty class folder: %v", err)
	}
	if _, err := OpenFolder(filepath.Join(root, "nope"), "train", Options{}); err == nil {
		t.Fatal("missing root accepted")
	}
	nan := seq(4)
	nan[5] = float32(math.NaN())
	root = makeFolder(t, map[string]pcio.Cloud{"a/train/nan.npy": {Points: nan}})
	ds, err := OpenFolder(root, "train", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ds.Get(0); err == nil || !strings.Contains(err.Error(), "nan.npy") || !strings.Contains(err.Error(), "non-finite") {
		t.Fatalf("NaN file: %v", err)
	}
	if _, err := Preload(ds, 2); err == nil || !strings.Contains(err.Error(), "nan.npy") {
		t.Fatalf("NaN file through Preload: %v", err)
	}
}

func TestModelNetResampled(t *testing.T) {
	root := filepath.Join("testdata", "modelnet_resampled")
	ds, err := OpenModelNetResampled(root, "train", Options{NumPoints: 32})
	if err != nil {
		t.Fatal(err)
	}
	if ds.Len() != 6 || len(ds.Classes()) != 3 {
		t.Fatalf("len %d classes %v", ds.Len(), ds.Classes())
	}
	for i := 0; i < ds.Len(); i++ {
		s, err := ds.Get(i)
		if err != nil {
			t.Fatal(err)
		}
		if len(s.Points) != 96 || s.Label != i/2 || math.Abs(maxRadius(s.Points)-1) > 1e-5 {
			t.Fatalf("sample %d: %d values label %d radius %v", i, len(s.Points), s.Label, maxRadius(s.Points))
		}
	}
	if _, err := OpenModelNetResampled(root, "val", Options{}); err == nil {
		t.Fatal("missing split file accepted")
	}
	// A split file naming an unknown class.
	bad := t.TempDir()
	os.WriteFile(filepath.Join(bad, "modelnet40_shape_names.txt"), []byte("bench\ncone\n"), 0o644)
	os.WriteFile(filepath.Join(bad, "modelnet40_train.txt"), []byte("bench_0001\nsofa_0003\n"), 0o644)
	_, err = OpenModelNetResampled(bad, "train", Options{})
	if err == nil || !strings.Contains(err.Error(), "modelnet40_train.txt") || !strings.Contains(err.Error(), "line 2") ||
		!strings.Contains(err.Error(), "sofa_0003") {
		t.Fatalf("unknown class: %v", err)
	}
	// A listed file that is missing names the file.
	os.WriteFile(filepath.Join(bad, "modelnet40_train.txt"), []byte("bench_0001\n"), 0o644)
	ds, _ = OpenModelNetResampled(bad, "train", Options{})
	if _, err := ds.Get(0); err == nil || !strings.Contains(err.Error(), "bench_0001.txt") {
		t.Fatalf("missing file: %v", err)
	}
}

func TestModelNetDatAndAutoDetect(t *testing.T) {
	root := filepath.Join("testdata", "modelnet_resampled")
	ds, err := OpenModelNet40(root, "test", Options{NumPoints: 16, More: MoreRandom})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := ds.(*InMemory); !ok || ds.Len() != 4 || len(ds.Classes()) != 3 {
		t.Fatalf("test split should come from the .dat cache: %T len %d", ds, ds.Len())
	}
	for i := 0; i < ds.Len(); i++ {
		s, err := ds.Get(i)
		if err != nil || len(s.Points) != 48 || s.Label != i%3 || math.Abs(maxRadius(s.Points)-1) > 1e-5 {
			t.Fatalf("sample %d: %v", i, err)
		}
	}
	tr, err := OpenModelNet40(root, "train", Options{NumPoints: 16})
	if _, ok := tr.(*ModelNetResampled); err != nil || !ok {
		t.Fatalf("train split should use the text files: %T %v", tr, err)
	}
	if _, err := OpenModelNetDat(filepath.Join(root, "nope.dat"), Options{}); err == nil {
		t.Fatal("missing .dat accepted")
	}
}

func TestScanObjectNN(t *testing.T) {
	root := filepath.Join("testdata", "scanobjectnn")
	want := map[ScanVariant][2]int{ScanObjBG: {5, 6}, ScanObjOnly: {5, 6}, ScanPBT50RS: {7, 8}}
	for v, n := range want {
		for k, split := range []string{"train", "test"} {
			ds, err := OpenScanObjectNN(root, v, split, Options{NumPoints: 16, More: MoreRandom})
			if errors.Is(err, pcio.ErrNoHDF5) {
				t.Skip(err)
			}
			if err != nil {
				t.Fatal(err)
			}
			if ds.Len() != n[k] || len(ds.Classes()) != 15 {
				t.Fatalf("%s %s: %d samples", v, split, ds.Len())
			}
			s, err := ds.Get(ds.Len() - 1)
			if err != nil || len(s.Points) != 48 || s.Label != (ds.Len()-1)%15 {
				t.Fatalf("%s %s: %v", v, split, err)
			}
		}
	}
	_, err := OpenScanObjectNN(filepath.Join(root, "bad"), ScanObjBG, "train", Options{})
	if err == nil || !strings.Contains(err.Error(), "training_objectdataset.h5") || !strings.Contains(err.Error(), "5 clouds") {
		t.Fatalf("mismatched counts: %v", err)
	}
	if _, err := OpenScanObjectNN(root, "OBJ_XX", "train", Options{}); err == nil {
		t.Fatal("unknown variant accepted")
	}
	if _, err := OpenScanObjectNN(root, ScanObjBG, "val", Options{}); err == nil {
		t.Fatal("unknown split accepted")
	}
}

func TestInMemoryBadInput(t *testing.T) {
	if _, err := NewInMemory([][]float32{seq(2)}, []int{0, 1}, []string{"a"}, Options{}); err == nil {
		t.Fatal("count mismatch accepted")
	}
	if _, err := NewInMemory([][]float32{seq(2)}, []int{1}, []string{"a"}, Options{}); err == nil {
		t.Fatal("label out of range accepted")
	}
	nan := seq(2)
	nan[4] = float32(math.Inf(1))
	if _, err := NewInMemory([][]float32{nan}, []int{0}, []string{"a"}, Options{}); err == nil {
		t.Fatal("Inf accepted")
	}
}

// TestKeepFewerAndFPSView: a folder of 300-point clouds opened at 400 keeps its 300
// points with KeepFewer (PointCounts says so) and is filled up to 400 without; the FPS
// view of 100 points takes each cloud's first point and then the points of the FPS,
// and refuses a view larger than a cloud, naming both sizes.
func TestKeepFewerAndFPSView(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	cloud := func() pcio.Cloud {
		p := make([]float32, 300*3)
		for i := range p {
			p[i] = float32(rng.NormFloat64())
		}
		return pcio.Cloud{Points: p}
	}
	root := makeFolder(t, map[string]pcio.Cloud{"a/train/0.npy": cloud(), "a/train/1.npy": cloud(), "b/train/2.npy": cloud()})
	kept, err := Open(root, "train", OpenOptions{NumPoints: 400, KeepFewer: true})
	if err != nil {
		t.Fatal(err)
	}
	if lo, hi, err := PointCounts(kept); lo != 300 || hi != 300 || err != nil {
		t.Fatalf("kept clouds hold %d to %d points (%v), want 300", lo, hi, err)
	}
	filled, err := Open(root, "train", OpenOptions{NumPoints: 400})
	if err != nil {
		t.Fatal(err)
	}
	if lo, hi, _ := PointCounts(filled); lo != 400 || hi != 400 {
		t.Fatalf("filled clouds hold %d to %d points, want 400", lo, hi)
	}
	view, err := NewFPSView(kept, 100)
	if err != nil {
		t.Fatal(err)
	}
	for i := range view.Len() {
		s, err := view.Get(i)
		if err != nil {
			t.Fatal(err)
		}
		orig, _ := kept.Get(i)
		idx, _ := geom.FPS(orig.Points, 1, 300, 100)
		want, _ := geom.Gather(orig.Points, 1, 300, idx, 100)
		if len(s.Points) != 300 || !equal(s.Points, want) || !equal(s.Points[:3], orig.Points[:3]) || s.Label != orig.Label {
			t.Fatalf("sample %d: %d coordinates, not the FPS of 100 points from its first", i, len(s.Points))
		}
	}
	big, _ := NewFPSView(kept, 301)
	if _, err := big.Get(0); err == nil || !strings.Contains(err.Error(), "has 300 points, fewer than the 301") {
		t.Fatalf("a view larger than the cloud: %v", err)
	}
	if _, err := NewFPSView(kept, 0); err == nil {
		t.Fatal("a view of 0 points accepted")
	}
}
