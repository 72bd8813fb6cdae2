package dataset

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// labelled is an in-memory set whose class c has counts[c] one-point clouds.
func labelled(t *testing.T, counts ...int) *InMemory {
	t.Helper()
	var clouds [][]float32
	var labels []int
	var names []string
	for c, n := range counts {
		names = append(names, fmt.Sprintf("c%d", c))
		for k := 0; k < n; k++ {
			clouds = append(clouds, []float32{float32(len(clouds)), 0, 0})
			labels = append(labels, c)
		}
	}
	ds, err := NewInMemory(clouds, labels, names, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

func TestStratifiedSplit(t *testing.T) {
	ds := labelled(t, 10, 20, 3, 1)
	s, err := NewSplit(ds, 0.2, 7)
	if err != nil {
		t.Fatal(err)
	}
	labels, _ := Labels(ds)
	perClass := map[int]int{}
	for _, i := range s.Val {
		perClass[labels[i]]++
	}
	// round(0.2·n), at least one of a class of two or more, none of a singleton.
	if want := map[int]int{0: 2, 1: 4, 2: 1}; fmt.Sprint(perClass) != fmt.Sprint(want) {
		t.Fatalf("held out per class %v, want %v", perClass, want)
	}
	all := append(append([]int(nil), s.Train...), s.Val...)
	slices.Sort(all)
	for i, v := range all {
		if v != i {
			t.Fatalf("train and val do not partition the %d samples: %v", ds.Len(), all)
		}
	}
	again, _ := NewSplit(ds, 0.2, 7)
	other, _ := NewSplit(ds, 0.2, 8)
	if !slices.Equal(again.Val, s.Val) || slices.Equal(other.Val, s.Val) {
		t.Fatalf("split is not a function of the seed: %v %v %v", s.Val, again.Val, other.Val)
	}
	for _, f := range []float64{0, 1, -0.5} {
		if _, err := NewSplit(ds, f, 1); err == nil {
			t.Errorf("fraction %g accepted", f)
		}
	}

	path := filepath.Join(t.TempDir(), "split.json")
	if err := s.Save(path); err != nil {
		t.Fatal(err)
	}
	back, err := LoadSplit(path)
	if err != nil || !slices.Equal(back.Val, s.Val) || !slices.Equal(back.Train, s.Train) || back.Samples != 34 {
		t.Fatalf("round trip: %+v %v", back, err)
	}
	tr, val, err := back.Apply(ds)
	if err != nil || tr.Len() != len(s.Train) || val.Len() != 7 {
		t.Fatalf("apply: %v", err)
	}
	smp, _ := val.Get(0)
	if want, _ := ds.Get(s.Val[0]); smp.Label != want.Label || smp.Points[0] != want.Points[0] {
		t.Fatalf("val sample 0 is %+v, want dataset sample %d %+v", smp, s.Val[0], want)
	}
	if _, _, err := back.Apply(labelled(t, 3, 3)); err == nil || !strings.Contains(err.Error(), "34 samples") {
		t.Fatalf("split applied to another data set: %v", err)
	}
}

func TestLoadSplitBadInput(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"range": `{"samples":3,"train":[0,1],"val":[3]}`,
		"twice": `{"samples":3,"train":[0,1],"val":[1]}`,
		"empty": `{"samples":3,"train":[0,1,2],"val":[]}`,
		"json":  `{"samples":3,`,
	} {
		p := filepath.Join(dir, name+".json")
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadSplit(p); err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: error %v does not name the file", name, err)
		}
	}
}

func TestStratifiedFolds(t *testing.T) {
	labels := []int{0, 0, 0, 0, 0, 0, 1, 1, 1, 2, 2, 2}
	folds, err := StratifiedFolds(labels, 3, 1)
	if err != nil {
		t.Fatal(err)
	}
	var all []int
	for _, f := range folds {
		count := map[int]int{}
		for _, i := range f {
			count[labels[i]]++
		}
		if len(f) != 4 || count[0] != 2 || count[1] != 1 || count[2] != 1 {
			t.Errorf("fold %v has classes %v, want 2/1/1", f, count)
		}
		all = append(all, f...)
	}
	slices.Sort(all)
	if len(all) != len(labels) || all[0] != 0 || all[len(all)-1] != len(labels)-1 {
		t.Fatalf("folds do not cover the samples once: %v", all)
	}
	if _, err := StratifiedFolds(labels, 1, 1); err == nil {
		t.Fatal("one fold accepted")
	}
}

func TestSubsetRelabels(t *testing.T) {
	ds := labelled(t, 2, 2, 2)
	s, err := NewSubset(ds, []int{5, 0}, []int{2, 0})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s.Classes(), []string{"c2", "c0"}) {
		t.Fatalf("classes %v", s.Classes())
	}
	a, _ := s.Get(0)
	b, _ := s.Get(1)
	if a.Label != 0 || a.Points[0] != 5 || b.Label != 1 || b.Points[0] != 0 {
		t.Fatalf("samples %+v %+v", a, b)
	}
	bad, _ := NewSubset(ds, []int{2}, []int{0})
	if _, err := bad.Get(0); err == nil {
		t.Fatal("a sample outside the subset's classes was relabelled")
	}
	if _, err := NewSubset(ds, []int{6}, nil); err == nil {
		t.Fatal("index out of range accepted")
	}
	if _, err := NewSubset(ds, []int{0}, []int{1, 1}); err == nil {
		t.Fatal("class listed twice accepted")
	}
}
