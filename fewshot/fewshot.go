// Package fewshot draws and keeps the N-way K-shot episodes of the few-shot
// classification protocol of Point-BERT and Point-MAE on ModelNet40: each fold picks N
// of the classes at random, K training shapes of each from the training split and 20
// unseen shapes of each from the test split, and numbers its classes 0..N-1. The folds
// come from a seed and are written to a JSON file, so every method and every later run
// is measured on the same episodes; results are reported as mean ± standard deviation
// over the folds.
package fewshot

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"

	"gonum.org/v1/gonum/stat"

	"github.com/pointpeft/pointpeft/dataset"
	"github.com/pointpeft/pointpeft/internal/atomicfile"
)

// Setting is an N-way K-shot task with Query test shapes per class.
type Setting struct {
	Way   int `json:"way"`
	Shot  int `json:"shot"`
	Query int `json:"query"`
}

// Standard are the four settings reported by Point-BERT and its successors on
// ModelNet40, each with 20 test shapes per class.
var Standard = []Setting{{5, 10, 20}, {5, 20, 20}, {10, 10, 20}, {10, 20, 20}}

func (s Setting) String() string { return fmt.Sprintf("%d-way %d-shot", s.Way, s.Shot) }

// Fold is one episode: Classes are class indices of the full data set in the fold's
// label order (Classes[j] becomes label j); Train and Test index the training and test
// splits.
type Fold struct {
	Classes []int `json:"classes"`
	Train   []int `json:"train"`
	Test    []int `json:"test"`
}

// Folds is a set of episodes of one setting, with what it was drawn from.
type Folds struct {
	Setting
	Seed uint64 `json:"seed"`
	// ClassNames are the full data set's classes; TrainSize and TestSize the sizes of the
	// splits the indices refer to.
	ClassNames []string `json:"class_names"`
	TrainSize  int      `json:"train_size"`
	TestSize   int      `json:"test_size"`
	Folds      []Fold   `json:"folds"`
}

// Draw draws n folds of setting s from the labels of the training and test splits.
// Fold f is drawn from the generator (seed, f) alone, as upstream's script draws each
// fold: shuffle the classes and keep the first Way; for each, shuffle its training
// shapes and keep the first Shot, shuffle its test shapes and keep the first Query;
// then shuffle the fold's training and test lists.
func Draw(trainLabels, testLabels []int, classNames []string, s Setting, n int, seed uint64) (*Folds, error) {
	if s.Way < 2 || s.Shot < 1 || s.Query < 1 || n < 1 {
		return nil, fmt.Errorf("few-shot: %v with %d test shapes per class and %d folds", s, s.Query, n)
	}
	if s.Way > len(classNames) {
		return nil, fmt.Errorf("few-shot: %d-way, but the data set has %d classes", s.Way, len(classNames))
	}
	trainBy, err := byClass(trainLabels, len(classNames), "training")
	if err != nil {
		return nil, err
	}
	testBy, err := byClass(testLabels, len(classNames), "test")
	if err != nil {
		return nil, err
	}
	out := &Folds{Setting: s, Seed: seed, ClassNames: classNames, TrainSize: len(trainLabels), TestSize: len(testLabels)}
	for f := 0; f < n; f++ {
		rng := rand.New(rand.NewPCG(seed, uint64(f)))
		classes := rng.Perm(len(classNames))[:s.Way]
		fold := Fold{Classes: classes}
		for _, c := range classes {
			tr, te := slices.Clone(trainBy[c]), slices.Clone(testBy[c])
			if len(tr) < s.Shot || len(te) < s.Query {
				return nil, fmt.Errorf("few-shot: class %s has %d training and %d test shapes, %v needs %d and %d",
					classNames[c], len(tr), len(te), s, s.Shot, s.Query)
			}
			rng.Shuffle(len(tr), func(i, j int) { tr[i], tr[j] = tr[j], tr[i] })
			rng.Shuffle(len(te), func(i, j int) { te[i], te[j] = te[j], te[i] })
			fold.Train = append(fold.Train, tr[:s.Shot]...)
			fold.Test = append(fold.Test, te[:s.Query]...)
		}
		rng.Shuffle(len(fold.Train), func(i, j int) { fold.Train[i], fold.Train[j] = fold.Train[j], fold.Train[i] })
		rng.Shuffle(len(fold.Test), func(i, j int) { fold.Test[i], fold.Test[j] = fold.Test[j], fold.Test[i] })
		out.Folds = append(out.Folds, fold)
	}
	return out, nil
}

// DrawFrom is Draw on the labels of two data sets (the training and test splits).
func DrawFrom(train, test dataset.Dataset, s Setting, n int, seed uint64) (*Folds, error) {
	if !slices.Equal(train.Classes(), test.Classes()) {
		return nil, fmt.Errorf("few-shot: the training and test splits have different classes")
	}
	trl, err := dataset.Labels(train)
	if err != nil {
		return nil, err
	}
	tel, err := dataset.Labels(test)
	if err != nil {
		return nil, err
	}
	return Draw(trl, tel, train.Classes(), s, n, seed)
}

func byClass(labels []int, classes int, split string) ([][]int, error) {
	out := make([][]int, classes)
	for i, l := range labels {
		if l < 0 || l >= classes {
			return nil, fmt.Errorf("few-shot: %s shape %d has label %d, want [0,%d)", split, i, l, classes)
		}
		out[l] = append(out[l], i)
	}
	return out, nil
}

// Save writes the folds as JSON, atomically.
func (f *Folds) Save(path string) error { return atomicfile.WriteJSON(path, f) }

// Load reads folds written by Save and checks each: Way distinct classes, Shot
// training and Query test shapes of each, indices within the recorded split sizes.
func Load(path string) (*Folds, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("few-shot folds: %w", err)
	}
	var f Folds
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, fmt.Errorf("few-shot folds %s: %w", path, err)
	}
	if len(f.Folds) == 0 {
		return nil, fmt.Errorf("few-shot folds %s: no folds", path)
	}
	for k, fold := range f.Folds {
		if err := f.check(fold); err != nil {
			return nil, fmt.Errorf("few-shot folds %s: fold %d: %w", path, k, err)
		}
	}
	return &f, nil
}

func (f *Folds) check(fold Fold) error {
	if len(fold.Classes) != f.Way || len(fold.Train) != f.Way*f.Shot || len(fold.Test) != f.Way*f.Query {
		return fmt.Errorf("%d classes, %d training and %d test shapes; %v with %d test shapes per class needs %d, %d and %d",
			len(fold.Classes), len(fold.Train), len(fold.Test), f.Setting, f.Query, f.Way, f.Way*f.Shot, f.Way*f.Query)
	}
	seen := map[int]bool{}
	for _, c := range fold.Classes {
		if c < 0 || c >= len(f.ClassNames) || seen[c] {
			return fmt.Errorf("class %d is out of range or repeated", c)
		}
		seen[c] = true
	}
	for _, part := range []struct {
		idx  []int
		size int
	}{{fold.Train, f.TrainSize}, {fold.Test, f.TestSize}} {
		for _, i := range part.idx {
			if i < 0 || i >= part.size {
				return fmt.Errorf("shape %d outside a split of %d", i, part.size)
			}
		}
	}
	return nil
}

// Datasets returns fold k's training and test sets, views of the full splits with the
// fold's classes numbered 0..Way-1. The splits must be the ones the folds were drawn
// from (same sizes and classes); a shape whose class is not the fold's is an error.
func (f *Folds) Datasets(train, test dataset.Dataset, k int) (tr, te *dataset.Subset, err error) {
	if k < 0 || k >= len(f.Folds) {
		return nil, nil, fmt.Errorf("few-shot: fold %d of %d", k, len(f.Folds))
	}
	if train.Len() != f.TrainSize || test.Len() != f.TestSize || !slices.Equal(train.Classes(), f.ClassNames) {
		return nil, nil, fmt.Errorf("few-shot: folds drawn from %d training and %d test shapes of %d classes, got %d, %d and %d",
			f.TrainSize, f.TestSize, len(f.ClassNames), train.Len(), test.Len(), len(train.Classes()))
	}
	fold := f.Folds[k]
	if tr, err = dataset.NewSubset(train, fold.Train, fold.Classes); err != nil {
		return nil, nil, err
	}
	if te, err = dataset.NewSubset(test, fold.Test, fold.Classes); err != nil {
		return nil, nil, err
	}
	return tr, te, nil
}

// MeanStd returns the mean and the sample standard deviation (n − 1 in the
// denominator; 0 for a single value) of xs.
func MeanStd(xs []float64) (mean, std float64) {
	if len(xs) == 1 {
		return xs[0], 0
	}
	return stat.MeanStdDev(xs, nil)
}
