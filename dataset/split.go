package dataset

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"

	"github.com/pointpeft/pointpeft/internal/atomicfile"
)

// Labels returns the label of every sample of ds, in order.
func Labels(ds Dataset) ([]int, error) {
	labels := make([]int, ds.Len())
	for i := range labels {
		s, err := ds.Get(i)
		if err != nil {
			return nil, err
		}
		labels[i] = s.Label
	}
	return labels, nil
}

// byClass groups the indices of labels by class, each group shuffled by its own
// generator (seed, class), so that a class's draw does not depend on the others.
func byClass(labels []int, seed uint64) ([][]int, error) {
	classes := 0
	for i, l := range labels {
		if l < 0 {
			return nil, fmt.Errorf("sample %d has label %d", i, l)
		}
		classes = max(classes, l+1)
	}
	groups := make([][]int, classes)
	for i, l := range labels {
		groups[l] = append(groups[l], i)
	}
	for c, g := range groups {
		rng := rand.New(rand.NewPCG(seed, uint64(c)))
		rng.Shuffle(len(g), func(i, j int) { g[i], g[j] = g[j], g[i] })
	}
	return groups, nil
}

// StratifiedSplit holds out about fraction of every class: round(fraction·n) of a class
// of n samples, at least one when n ≥ 2 and never all of them. It returns the indices
// kept for training and those held out, each in increasing order; the same labels,
// fraction and seed give the same split.
func StratifiedSplit(labels []int, fraction float64, seed uint64) (train, held []int, err error) {
	if !(fraction > 0 && fraction < 1) {
		return nil, nil, fmt.Errorf("stratified split: fraction %g outside (0,1)", fraction)
	}
	groups, err := byClass(labels, seed)
	if err != nil {
		return nil, nil, fmt.Errorf("stratified split: %w", err)
	}
	for _, g := range groups {
		k := int(math.Round(fraction * float64(len(g))))
		if len(g) >= 2 {
			k = min(max(k, 1), len(g)-1)
		} else {
			k = 0
		}
		held = append(held, g[:k]...)
		train = append(train, g[k:]...)
	}
	if len(held) == 0 {
		return nil, nil, fmt.Errorf("stratified split: no class has two samples to hold one out")
	}
	slices.Sort(train)
	slices.Sort(held)
	return train, held, nil
}

// StratifiedFolds deals the indices of labels into k folds of near-equal size, class by
// class, so every fold has about the same class mix (for cross-validation). Each fold is
// in increasing order.
func StratifiedFolds(labels []int, k int, seed uint64) ([][]int, error) {
	if k < 2 || k > len(labels) {
		return nil, fmt.Errorf("stratified folds: %d folds of %d samples", k, len(labels))
	}
	groups, err := byClass(labels, seed)
	if err != nil {
		return nil, fmt.Errorf("stratified folds: %w", err)
	}
	folds := make([][]int, k)
	next := 0 // dealing continues across classes so that fold sizes stay balanced
	for _, g := range groups {
		for _, i := range g {
			folds[next] = append(folds[next], i)
			next = (next + 1) % k
		}
	}
	for _, f := range folds {
		slices.Sort(f)
	}
	return folds, nil
}

// Split is a validation split carved from a training set, saved so that the same
// split can be reused by every run that tunes on it (learning rate, epochs) while the
// test set stays untouched.
type Split struct {
	Fraction float64 `json:"fraction"`
	Seed     uint64  `json:"seed"`
	// Samples is the size of the training set the split was drawn from.
	Samples int   `json:"samples"`
	Train   []int `json:"train"`
	Val     []int `json:"val"`
}

// NewSplit holds out a stratified fraction of ds for validation (see StratifiedSplit).
func NewSplit(ds Dataset, fraction float64, seed uint64) (*Split, error) {
	labels, err := Labels(ds)
	if err != nil {
		return nil, err
	}
	train, val, err := StratifiedSplit(labels, fraction, seed)
	if err != nil {
		return nil, err
	}
	return &Split{Fraction: fraction, Seed: seed, Samples: len(labels), Train: train, Val: val}, nil
}

// Apply returns the training and validation parts of ds, which must be the training
// set the split was drawn from (same size).
func (s *Split) Apply(ds Dataset) (train, val *Subset, err error) {
	if ds.Len() != s.Samples {
		return nil, nil, fmt.Errorf("validation split: drawn from %d samples, the training set has %d", s.Samples, ds.Len())
	}
	if train, err = NewSubset(ds, s.Train, nil); err != nil {
		return nil, nil, fmt.Errorf("validation split: %w", err)
	}
	if val, err = NewSubset(ds, s.Val, nil); err != nil {
		return nil, nil, fmt.Errorf("validation split: %w", err)
	}
	return train, val, nil
}

// Save writes the split as JSON, atomically.
func (s *Split) Save(path string) error { return atomicfile.WriteJSON(path, s) }

// LoadSplit reads a split written by Save and checks it: indices in range, no index in
// both parts or twice.
func LoadSplit(path string) (*Split, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("validation split: %w", err)
	}
	var s Split
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("validation split %s: %w", path, err)
	}
	seen := make([]bool, max(s.Samples, 0))
	for _, part := range [][]int{s.Train, s.Val} {
		for _, i := range part {
			if i < 0 || i >= s.Samples {
				return nil, fmt.Errorf("validation split %s: index %d outside [0,%d)", path, i, s.Samples)
			}
			if seen[i] {
				return nil, fmt.Errorf("validation split %s: sample %d listed twice", path, i)
			}
			seen[i] = true
		}
	}
	if len(s.Val) == 0 || len(s.Train) == 0 {
		return nil, fmt.Errorf("validation split %s: %d training and %d validation samples", path, len(s.Train), len(s.Val))
	}
	return &s, nil
}

// Subset is a view of some samples of a data set, in a given order, optionally keeping
// only some classes and numbering them 0..len-1 in the order given.
type Subset struct {
	ds      Dataset
	idx     []int
	remap   map[int]int // original label → new label; nil keeps labels
	classes []string
}

// NewSubset is the samples idx of ds. With classes not nil, a sample of class
// classes[j] gets label j, and a sample of any other class is an error at Get.
func NewSubset(ds Dataset, idx []int, classes []int) (*Subset, error) {
	for _, i := range idx {
		if i < 0 || i >= ds.Len() {
			return nil, fmt.Errorf("subset: index %d outside [0,%d)", i, ds.Len())
		}
	}
	s := &Subset{ds: ds, idx: idx, classes: ds.Classes()}
	if classes != nil {
		names := ds.Classes()
		s.remap = make(map[int]int, len(classes))
		s.classes = make([]string, len(classes))
		for j, c := range classes {
			if c < 0 || c >= len(names) {
				return nil, fmt.Errorf("subset: class %d outside [0,%d)", c, len(names))
			}
			if _, dup := s.remap[c]; dup {
				return nil, fmt.Errorf("subset: class %d listed twice", c)
			}
			s.remap[c], s.classes[j] = j, names[c]
		}
	}
	return s, nil
}

// Len returns the number of samples.
func (s *Subset) Len() int { return len(s.idx) }

// Classes returns the class names, narrowed when the subset relabels.
func (s *Subset) Classes() []string { return s.classes }

// Indices returns the underlying data set's index of every sample.
func (s *Subset) Indices() []int { return s.idx }

// Get returns sample i, relabelled.
func (s *Subset) Get(i int) (Sample, error) {
	if err := checkIndex(s, i); err != nil {
		return Sample{}, fmt.Errorf("subset: %w", err)
	}
	smp, err := s.ds.Get(s.idx[i])
	if err != nil || s.remap == nil {
		return smp, err
	}
	l, ok := s.remap[smp.Label]
	if !ok {
		return Sample{}, fmt.Errorf("subset: sample %d (index %d) has class %d, not one of the subset's", i, s.idx[i], smp.Label)
	}
	smp.Label = l
	return smp, nil
}
