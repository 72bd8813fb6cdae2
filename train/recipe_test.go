package train

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/pointpeft/pointpeft/dataset"
	"github.com/pointpeft/pointpeft/pcio"
	"github.com/pointpeft/pointpeft/peft"
	"github.com/pointpeft/pointpeft/peft/dapt"
	"github.com/pointpeft/pointpeft/peft/idpt"
	_ "github.com/pointpeft/pointpeft/peft/pointgst"
	"github.com/pointpeft/pointpeft/peft/pointlora"
)

// TestSpecForRecipes: a peer method starts from its authors' recipe for the data's
// kind (IDPT on ModelNet40: 1024 points from a capped FPS pool of 1200,
// scale-and-translate; on ScanObjectNN: 2048 from 2400, rotate-y); DAPT's grouping
// follows the kind and selects that kind's model configuration; PointLoRA has no
// ModelNet40 recipe and Point-PEFT none at all, so they keep DefaultSpec.
func TestSpecForRecipes(t *testing.T) {
	const mn, scan = "/data/modelnet40_ply_hdf5_2048", "scanobjectnn:PB_T50_RS:/data/scan"
	s := SpecFor("idpt", mn)
	c := s.Train
	if s.Points != 1024 || c.FPSPool != 1200 || !c.FPSPoolCap || c.Augment != "scale-translate" || c.Epochs != 300 ||
		c.BatchSize != 32 || c.LR != 5e-4 || c.WeightDecay != 0.05 || c.WarmupEpochs != 10 || c.WarmupLR != 1e-6 ||
		c.MinLR != 1e-6 || c.ClipNorm != 10 || c.Schedule != "epoch" || c.Vote != 1 ||
		!strings.Contains(s.Recipe, "finetune_modelnet_idpt.yaml") || s.Method != "idpt" || s.Data != mn {
		t.Errorf("idpt on ModelNet40: %+v", s)
	}
	if r := idpt.ModelNet40Recipe(); r.Points != s.Points || r.FPSPool != c.FPSPool || r.LR != c.LR {
		t.Errorf("idpt on ModelNet40 is not idpt.ModelNet40Recipe: %+v", r)
	}
	s = SpecFor("idpt", scan)
	if s.Points != 2048 || s.Train.FPSPool != 2400 || s.Train.Augment != "rotate-y" || !strings.Contains(s.Recipe, "finetune_scan_") {
		t.Errorf("idpt on ScanObjectNN: %+v", s)
	}
	for _, c := range []struct {
		data                 string
		groups, points, pool int
		model                dapt.Config
	}{{mn, 64, 1024, 1200, dapt.ModelNet40()}, {scan, 128, 2048, 2400, dapt.ScanObjectNN()}} {
		s := SpecFor("dapt", c.data)
		if got := dapt.ConfigFor(s.Groups); got != c.model || s.Groups != c.groups || s.GroupSize != 32 ||
			s.Points != c.points || s.Train.FPSPool != c.pool {
			t.Errorf("dapt on %s: %d×%d groups, pool %d of %d, model %+v", c.data, s.Groups, s.GroupSize, s.Train.FPSPool, s.Points, got)
		}
	}
	if s := SpecFor("pointlora", scan); s.Train.FPSPool != 2400 || s.Groups != 128 || s.Points != 2048 ||
		s.Recipe != "PointLoRA's cfgs/finetune_scan_hardest_pointlora.yaml" {
		t.Errorf("pointlora on ScanObjectNN: %+v", s)
	}
	if s := SpecFor("pointgst", mn); s.Train.FPSPool != 1200 || s.Groups != 64 || s.Train.Augment != "scale-translate" {
		t.Errorf("pointgst on ModelNet40: %+v", s)
	}
	for _, method := range []string{"pointlora", "point-peft", "full"} {
		want := DefaultSpec()
		want.Method, want.Data = method, mn
		if got := SpecFor(method, mn); !reflect.DeepEqual(got, want) {
			t.Errorf("%s on ModelNet40: %+v, want DefaultSpec", method, got)
		}
	}
	if got := RecipeSummary(peft.MethodPointPEFT); got != "the reference recipe" {
		t.Errorf("point-peft's recipe: %q", got)
	}
	if got := RecipeSummary(pointlora.MethodName); !strings.Contains(got, "scanobjectnn: PointLoRA's") ||
		!strings.Contains(got, "modelnet40: the reference recipe") {
		t.Errorf("pointlora's recipes: %q", got)
	}
}

// TestPoolResampling: with an FPS pool the loader's batches hold Points points per
// cloud, each a point of the sample's own cloud with no point twice, the same batches
// for a seed and others for another seed.
func TestPoolResampling(t *testing.T) {
	cfg := dataset.DefaultShapesConfig()
	cfg.Train, cfg.NumPoints = 12, 96
	ds, err := dataset.NewShapes(cfg, "train")
	if err != nil {
		t.Fatal(err)
	}
	batches := func(seed uint64) []*dataset.Batch {
		c := DefaultConfig()
		c.FPSPool, c.Seed = 96, seed
		res, err := (&Run{Cfg: c, Points: 40}).resample()
		if err != nil {
			t.Fatal(err)
		}
		l, err := dataset.NewLoader(ds, dataset.LoaderConfig{BatchSize: 4, Shuffle: true, Seed: seed, Workers: 2, Resample: res})
		if err != nil {
			t.Fatal(err)
		}
		it := l.Epoch(0)
		defer it.Close()
		var out []*dataset.Batch
		for range l.NumBatches() {
			b, err := it.Next()
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, b)
		}
		return out
	}
	a, again, other := batches(7), batches(7), batches(8)
	for k, b := range a {
		if b.N != 40 || len(b.Points) != b.Size*40*3 {
			t.Fatalf("batch %d: %d points per cloud, want 40", k, b.N)
		}
		for j, i := range b.Indices {
			s, _ := ds.Get(i)
			src := map[[3]float32]bool{}
			for p := range 96 {
				src[[3]float32(s.Points[p*3:p*3+3])] = true
			}
			got := map[[3]float32]bool{}
			for p := range 40 {
				q := [3]float32(b.Points[(j*40+p)*3:])
				if !src[q] || got[q] {
					t.Fatalf("batch %d cloud %d point %d %v: not in the sample's cloud, or drawn twice", k, j, p, q)
				}
				got[q] = true
			}
		}
		if !slices.Equal(b.Points, again[k].Points) {
			t.Fatalf("batch %d differs with the same seed", k)
		}
	}
	if slices.Equal(a[0].Points, other[0].Points) {
		t.Error("another seed draws the same batch")
	}
}

// TestRotateY: the rotate-y augmentation keeps every y coordinate and every norm,
// turns each cloud by one angle about y, and gives different clouds different angles.
func TestRotateY(t *testing.T) {
	const b, n = 3, 50
	rng := rand.New(rand.NewPCG(1, 1))
	orig := make([]float32, b*n*3)
	for i := range orig {
		orig[i] = float32(rng.NormFloat64())
	}
	p := slices.Clone(orig)
	Augmentations["rotate-y"](p, b, n, rand.New(rand.NewPCG(2, 2)))
	norm := func(q []float32) float64 { return math.Sqrt(float64(q[0]*q[0] + q[1]*q[1] + q[2]*q[2])) }
	var angles []float64
	for c := range b {
		var first float64
		for i := range n {
			k := (c*n + i) * 3
			q0, q1 := orig[k:k+3], p[k:k+3]
			if q0[1] != q1[1] || math.Abs(norm(q0)-norm(q1)) > 1e-5 {
				t.Fatalf("cloud %d point %d: %v became %v: y or norm changed", c, i, q0, q1)
			}
			// p·R with R about y turns atan2(z, x) by the cloud's angle.
			th := math.Remainder(math.Atan2(float64(q1[2]), float64(q1[0]))-math.Atan2(float64(q0[2]), float64(q0[0])), 2*math.Pi)
			if i == 0 {
				first = th
			} else if math.Abs(math.Remainder(th-first, 2*math.Pi)) > 1e-4 {
				t.Fatalf("cloud %d: point %d turned by %g, point 0 by %g", c, i, th, first)
			}
		}
		angles = append(angles, first)
	}
	if angles[0] == angles[1] || angles[1] == angles[2] || math.Abs(angles[0]) < 1e-3 {
		t.Errorf("angles %v: want one non-zero angle per cloud", angles)
	}
}

// writeClouds makes a two-class <class>/<split>/<i>.npy folder whose clouds hold
// points points each.
func writeClouds(t *testing.T, points, perClass int) string {
	t.Helper()
	root := t.TempDir()
	rng := rand.New(rand.NewPCG(5, 5))
	for _, class := range []string{"a", "b"} {
		for _, split := range []string{"train", "test"} {
			dir := filepath.Join(root, class, split)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			for i := range perClass {
				p := make([]float32, points*3)
				for j := range p {
					p[j] = float32(rng.NormFloat64())
				}
				if err := pcio.WriteNPY(filepath.Join(dir, string(rune('0'+i))+".npy"), p, []int{points, 3}); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	return root
}

// TestFPSPoolValues: a pool smaller than the model's points, a pool larger than the
// data set's 120-point clouds, and a run asked to draw more than its pool are errors
// naming the values; with fps_pool_cap the pool is lowered to 120 with a note, and the
// test clouds are the FPS of the model's points.
func TestFPSPoolValues(t *testing.T) {
	root := writeClouds(t, 120, 3)
	s := DefaultSpec()
	s.Data, s.Method, s.Points, s.Groups, s.GroupSize = root, "full", 100, 8, 8
	s, _ = s.Resolve()
	s.Train.FPSPool = 90
	if err := s.Validate(); err == nil || !strings.Contains(err.Error(), "fps_pool 90 is smaller than points 100") {
		t.Errorf("pool 90 for 100 points: %v", err)
	}
	s.Train.FPSPool = 150
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	_, _, _, _, err := OpenRunData(s)
	if err == nil || !strings.Contains(err.Error(), "fps_pool 150 is larger than the training clouds") ||
		!strings.Contains(err.Error(), "hold 120 points") {
		t.Errorf("pool 150 of 120-point clouds: %v", err)
	}
	s.Train.FPSPoolCap = true
	got, trainSet, testSet, notes, err := OpenRunData(s)
	if err != nil {
		t.Fatal(err)
	}
	if got.Train.FPSPool != 120 || len(notes) != 1 || !strings.Contains(notes[0], "fps_pool 150 lowered to 120") {
		t.Errorf("capped: pool %d, notes %v", got.Train.FPSPool, notes)
	}
	if lo, hi, _ := dataset.PointCounts(trainSet); lo != 120 || hi != 120 {
		t.Errorf("training clouds of %d to %d points, want 120", lo, hi)
	}
	if lo, hi, _ := dataset.PointCounts(testSet); lo != 100 || hi != 100 {
		t.Errorf("test clouds of %d to %d points, want the FPS of 100", lo, hi)
	}
	s.Points, s.Train.FPSPool = 130, 150
	if _, _, _, _, err := OpenRunData(s); err == nil || !strings.Contains(err.Error(), "hold 120 points, fewer than points 130") {
		t.Errorf("capped below the points: %v", err)
	}
	c := DefaultConfig()
	c.FPSPool = 64
	if _, err := (&Run{Cfg: c, Points: 65}).resample(); err == nil || !strings.Contains(err.Error(), "fps_pool 64: the run draws 65 points") {
		t.Errorf("65 points from a pool of 64: %v", err)
	}
	c.FPSPool = -1
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "fps_pool -1") {
		t.Errorf("pool -1: %v", err)
	}
}
