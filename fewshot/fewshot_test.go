package fewshot

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pointpeft/pointpeft/dataset"
)

// split is an in-memory split whose shape i has class labels[i] and x coordinate i.
func split(t *testing.T, labels []int, classes []string) *dataset.InMemory {
	t.Helper()
	clouds := make([][]float32, len(labels))
	for i := range clouds {
		clouds[i] = []float32{float32(i), 0, 0}
	}
	ds, err := dataset.NewInMemory(clouds, labels, classes, dataset.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

// mn40Like has 40 classes, class c with 30+c training and 20+c%5 test shapes.
func mn40Like(t *testing.T) (train, test *dataset.InMemory) {
	var trl, tel []int
	var names []string
	for c := 0; c < 40; c++ {
		names = append(names, fmt.Sprintf("class%02d", c))
		for k := 0; k < 30+c; k++ {
			trl = append(trl, c)
		}
		for k := 0; k < 20+c%5; k++ {
			tel = append(tel, c)
		}
	}
	return split(t, trl, names), split(t, tel, names)
}

func TestDrawFollowsTheProtocol(t *testing.T) {
	train, test := mn40Like(t)
	for _, s := range Standard {
		folds, err := DrawFrom(train, test, s, 4, 7)
		if err != nil {
			t.Fatal(err)
		}
		for k, fold := range folds.Folds {
			if err := folds.check(fold); err != nil {
				t.Fatalf("%v fold %d: %v", s, k, err)
			}
			tr, te, err := folds.Datasets(train, test, k)
			if err != nil {
				t.Fatal(err)
			}
			if len(tr.Classes()) != s.Way || tr.Classes()[0] != train.Classes()[fold.Classes[0]] {
				t.Fatalf("fold classes %v for %v", tr.Classes(), fold.Classes)
			}
			for _, part := range []struct {
				ds   *dataset.Subset
				full *dataset.InMemory
				per  int
			}{{tr, train, s.Shot}, {te, test, s.Query}} {
				count := make([]int, s.Way)
				seen := map[int]bool{}
				for i := 0; i < part.ds.Len(); i++ {
					smp, err := part.ds.Get(i)
					if err != nil {
						t.Fatal(err)
					}
					orig := int(smp.Points[0])
					full, _ := part.full.Get(orig)
					if seen[orig] || fold.Classes[smp.Label] != full.Label {
						t.Fatalf("%v fold %d: shape %d repeated or relabelled wrongly (%d → %d)", s, k, orig, full.Label, smp.Label)
					}
					seen[orig] = true
					count[smp.Label]++
				}
				for c, n := range count {
					if n != part.per {
						t.Fatalf("%v fold %d: class %d has %d shapes, want %d", s, k, c, n, part.per)
					}
				}
			}
		}
		if slices.Equal(folds.Folds[0].Classes, folds.Folds[1].Classes) {
			t.Errorf("%v: folds 0 and 1 drew the same classes", s)
		}
	}
	a, _ := DrawFrom(train, test, Standard[0], 3, 1)
	b, _ := DrawFrom(train, test, Standard[0], 5, 1)
	if fmt.Sprint(a.Folds) != fmt.Sprint(b.Folds[:3]) {
		t.Fatal("fold k depends on how many folds are drawn")
	}
}

func TestDrawNotEnoughShapes(t *testing.T) {
	names := []string{"a", "b", "c"}
	train := split(t, []int{0, 0, 1, 1, 2, 2}, names)
	test := split(t, []int{0, 1, 2}, names)
	if _, err := DrawFrom(train, test, Setting{Way: 2, Shot: 2, Query: 2}, 1, 0); err == nil || !strings.Contains(err.Error(), "needs") {
		t.Fatalf("too few test shapes: %v", err)
	}
	if _, err := DrawFrom(train, test, Setting{Way: 4, Shot: 1, Query: 1}, 1, 0); err == nil {
		t.Fatal("4-way of 3 classes accepted")
	}
}

func TestFoldFileRoundTrip(t *testing.T) {
	train, test := mn40Like(t)
	folds, err := DrawFrom(train, test, Standard[3], 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "10way20shot.json")
	if err := folds.Save(path); err != nil {
		t.Fatal(err)
	}
	back, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(back) != fmt.Sprint(folds) {
		t.Fatal("folds changed in the round trip")
	}
	if _, _, err := back.Datasets(test, test, 0); err == nil {
		t.Fatal("folds applied to splits they were not drawn from")
	}
	back.Folds[1].Train[0] = back.TrainSize
	bad := filepath.Join(dir, "bad.json")
	if err := back.Save(bad); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(bad); err == nil || !strings.Contains(err.Error(), "fold 1") || !strings.Contains(err.Error(), bad) {
		t.Fatalf("corrupt fold file: %v", err)
	}
	os.WriteFile(bad, []byte(`{"way":5`), 0o644)
	if _, err := Load(bad); err == nil {
		t.Fatal("truncated fold file accepted")
	}
}

func TestMeanStd(t *testing.T) {
	m, s := MeanStd([]float64{90, 94, 98})
	if m != 94 || math.Abs(s-4) > 1e-12 {
		t.Fatalf("mean %v std %v, want 94 ± 4", m, s)
	}
	if m, s = MeanStd([]float64{93}); m != 93 || s != 0 {
		t.Fatalf("one value: %v ± %v", m, s)
	}
}
