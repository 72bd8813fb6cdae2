package peft

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"

	"github.com/pointpeft/pointpeft/model"
	"github.com/pointpeft/pointpeft/nn"
	"github.com/pointpeft/pointpeft/tensor"
)

// Classifier is a backbone with a method's modules: what training, evaluation and
// prediction run.
type Classifier interface {
	nn.Stateful
	Forward(ctx *nn.Ctx, points []float32, b, n int) (*tensor.Tensor, error)
}

// MethodSpec describes a method that adds modules to the backbone and registers itself
// (the peer methods, each in its own package), the way image formats register with
// image.RegisterFormat: the core stays small, and a program links the methods it imports.
type MethodSpec struct {
	Name    Method
	Summary string // one line: what the method trains, and its paper
	// Modes the method has; the first is the default. Nil: the method has one behaviour.
	Modes []Mode
	// New builds the method's classifier on bb (whose weights it shares) in mode.
	New func(bb *model.PointTransformer, mode Mode, rng *rand.Rand) (Classifier, error)
	// Trains is the method's trainable filter over parameter names.
	Trains func(name string) bool
	// Recipe, if set, returns the authors' released fine-tuning recipe for a kind of
	// data set (ok false: none for that kind), which training starts from instead of
	// the reference recipe (see MethodRecipe).
	Recipe func(kind DataKind) (r Recipe, ok bool)
}

var (
	registryMu sync.RWMutex
	registry   = map[Method]MethodSpec{}
)

// RegisterMethod makes a method available by name to Method.Trains, SetTrainable and
// everything built on them. It panics on a name taken twice (a programming error).
func RegisterMethod(s MethodSpec) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, ok := registry[s.Name]; ok || slices.Contains(builtin, s.Name) {
		panic(fmt.Sprintf("peft: method %q registered twice", s.Name))
	}
	registry[s.Name] = s
}

// LookupMethod returns a registered method's spec.
func LookupMethod(name Method) (MethodSpec, bool) {
	registryMu.RLock()
	defer registryMu.RUnlock()
	s, ok := registry[name]
	return s, ok
}

// builtin are the methods of this package: Point-PEFT and the baselines, which act on
// the backbone itself.
var builtin = []Method{MethodPointPEFT, MethodFull, MethodLinear, MethodBitFit}

// Methods lists every known method: this package's, then the registered ones by name.
func Methods() []Method {
	registryMu.RLock()
	defer registryMu.RUnlock()
	out := slices.Clone(builtin)
	var reg []Method
	for k := range registry {
		reg = append(reg, k)
	}
	slices.Sort(reg)
	return append(out, reg...)
}

// builtinSummaries describe this package's methods in one line each.
var builtinSummaries = map[Method]string{
	MethodPointPEFT: "Point-PEFT (AAAI 2024): Point-prior Prompt and Geometry-aware Adapter on the frozen backbone",
	MethodFull:      "full fine-tuning: every parameter",
	MethodLinear:    "linear probing: the classification head on frozen features",
	MethodBitFit:    "BitFit: every bias and the head",
}

// MethodSummary says in one line what a method trains ("" for an unknown one).
func MethodSummary(method Method) string {
	if s, ok := LookupMethod(method); ok {
		return s.Summary
	}
	return builtinSummaries[method]
}

// MethodModes lists a method's modes, its default first (nil: it has none).
func MethodModes(method Method) []Mode {
	if s, ok := LookupMethod(method); ok {
		return s.Modes
	}
	if method == MethodPointPEFT {
		return []Mode{Fixed, Faithful}
	}
	return nil
}

// ResolveMode returns the mode method runs in: mode when the method has it, its default
// when mode is empty, an error naming the method's modes otherwise. A method without
// modes runs in "" whatever mode says (a caller that knows the user asked for a mode
// should refuse it, see MethodModes).
func ResolveMode(method Method, mode Mode) (Mode, error) {
	modes := MethodModes(method)
	switch {
	case len(modes) == 0:
		return "", nil
	case mode == "":
		return modes[0], nil
	case slices.Contains(modes, mode):
		return mode, nil
	}
	return "", fmt.Errorf("method %s has no mode %q (its modes: %v)", method, mode, modes)
}
