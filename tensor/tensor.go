package tensor

import (
	"fmt"
	"math"
	"strings"
	"sync/atomic"
)

// Tensor is a dense row-major float32 array, optionally a node of the autodiff graph.
type Tensor struct {
	shape []int
	// Data holds the values in row-major order; len(Data) == Numel().
	Data []float32
	// Grad holds dLoss/dData after Backward, for tensors that require a gradient; nil
	// before the first backward pass and for frozen parameters.
	Grad []float32

	name         string
	param        bool
	requiresGrad bool
	// gradGiven is set when an input took this tensor's gradient buffer as its own
	// (takeGrad), so Backward must not recycle it.
	gradGiven bool
	// seq orders the graph's nodes by creation (0 for leaves and untracked tensors), so
	// that Segment can tell the nodes made inside it.
	seq uint64
	// kept is set when a recorded backward step reads Data: Segment must not drop it.
	kept bool
	// view is set when Data is another tensor's (Reshape).
	view bool
	// gradShared is set on Recompute's stand-in for its input: Grad is the input's.
	gradShared bool

	// Graph links, set only while recording: the inputs and the closure that adds this
	// tensor's gradient into theirs.
	parents  []*Tensor
	backward func()
}

// ShapeError reports an op applied to tensors of incompatible shapes.
type ShapeError struct {
	Op     string
	Shapes [][]int
	Msg    string
}

func (e *ShapeError) Error() string {
	parts := make([]string, len(e.Shapes))
	for i, s := range e.Shapes {
		parts[i] = fmt.Sprint(s)
	}
	return fmt.Sprintf("tensor.%s: %s (shapes %s)", e.Op, e.Msg, strings.Join(parts, ", "))
}

func shapeErr(op, msg string, ts ...*Tensor) {
	e := &ShapeError{Op: op, Msg: msg}
	for _, t := range ts {
		e.Shapes = append(e.Shapes, t.Shape())
	}
	panic(e)
}

// Catch runs f and returns a *ShapeError it panicked with as an error; other panics pass.
func Catch(f func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if se, ok := r.(*ShapeError); ok {
				err = se
				return
			}
			panic(r)
		}
	}()
	f()
	return nil
}

// New returns a zero tensor of the given shape.
func New(shape ...int) *Tensor {
	n := checkShape("New", shape)
	return &Tensor{shape: append([]int(nil), shape...), Data: make([]float32, n)}
}

// FromData wraps data (not copied) as a tensor of the given shape.
func FromData(data []float32, shape ...int) *Tensor {
	n := checkShape("FromData", shape)
	if len(data) != n {
		panic(&ShapeError{Op: "FromData", Shapes: [][]int{shape}, Msg: fmt.Sprintf("%d values for %d elements", len(data), n)})
	}
	return &Tensor{shape: append([]int(nil), shape...), Data: data}
}

// Scalar returns a 0-d tensor holding v.
func Scalar(v float32) *Tensor { return &Tensor{shape: []int{}, Data: []float32{v}} }

// NewParam returns a named, trainable leaf tensor holding data (not copied).
func NewParam(name string, data []float32, shape ...int) *Tensor {
	t := FromData(data, shape...)
	t.name, t.param, t.requiresGrad = name, true, true
	return t
}

func checkShape(op string, shape []int) int {
	n := 1
	for _, d := range shape {
		if d < 0 {
			panic(&ShapeError{Op: op, Shapes: [][]int{shape}, Msg: "negative dimension"})
		}
		n *= d
	}
	return n
}

// Shape returns a copy of the tensor's dimensions.
func (t *Tensor) Shape() []int { return append([]int(nil), t.shape...) }

// Dim returns dimension i; negative i counts from the end.
func (t *Tensor) Dim(i int) int {
	if i < 0 {
		i += len(t.shape)
	}
	return t.shape[i]
}

// Rank is the number of dimensions.
func (t *Tensor) Rank() int { return len(t.shape) }

// Numel is the number of elements.
func (t *Tensor) Numel() int { return prod(t.shape) }

// Name is the parameter name given to NewParam (empty for other tensors).
func (t *Tensor) Name() string { return t.name }

// IsParam reports whether t was made by NewParam.
func (t *Tensor) IsParam() bool { return t.param }

// RequiresGrad reports whether gradients flow into t.
func (t *Tensor) RequiresGrad() bool { return t.requiresGrad }

// SetTrainable freezes (false) or unfreezes (true) a parameter. A frozen parameter gets
// no gradient buffer, and the GEMMs that would compute its gradient are skipped.
func (t *Tensor) SetTrainable(on bool) {
	if !t.param {
		panic("tensor: SetTrainable on a non-parameter tensor")
	}
	t.requiresGrad = on
	if !on {
		t.Grad = nil
	}
}

// Item returns the single value of a one-element tensor.
func (t *Tensor) Item() float32 {
	if len(t.Data) != 1 {
		shapeErr("Item", "tensor has more than one element", t)
	}
	return t.Data[0]
}

// ZeroGrad clears the accumulated gradient.
func (t *Tensor) ZeroGrad() { clear(t.Grad) }

// Detach returns a tensor sharing t's data that is not connected to the graph.
func (t *Tensor) Detach() *Tensor { return &Tensor{shape: t.shape, Data: t.Data} }

// Clone returns a deep copy of the data, detached from the graph.
func (t *Tensor) Clone() *Tensor {
	return &Tensor{shape: t.Shape(), Data: append([]float32(nil), t.Data...)}
}

func (t *Tensor) String() string {
	if t.name != "" {
		return fmt.Sprintf("Tensor(%s %v)", t.name, t.shape)
	}
	return fmt.Sprintf("Tensor(%v)", t.shape)
}

// gradOff counts nested NoGrad calls; recording is on while it is zero.
var gradOff atomic.Int32

// NoGrad runs f without recording the graph: ops in f return plain tensors, which is
// what evaluation wants (no closures, no saved activations). It is process-wide, like
// torch.no_grad, so don't train in another goroutine meanwhile.
func NoGrad(f func()) {
	gradOff.Add(1)
	defer gradOff.Add(-1)
	f()
}

// GradEnabled reports whether ops currently record the graph.
func GradEnabled() bool { return gradOff.Load() == 0 }

// nodeSeq numbers graph nodes in creation order.
var nodeSeq atomic.Uint64

// result makes the output tensor of an op and links it to its inputs when any of them
// requires a gradient. The caller sets backward only if out.requiresGrad. It assumes the
// backward step reads the data of every input and of the output; ops that read less say
// so with resultSaving, which lets Segment drop what nothing reads.
func result(shape []int, data []float32, inputs ...*Tensor) *Tensor {
	return resultSaving(saving{inputs: inputs, out: true}, shape, data, inputs...)
}

// saving says whose Data an op's backward step reads: the listed inputs, and its own
// output when out is set.
type saving struct {
	inputs []*Tensor
	out    bool
}

// saves returns a saving of the given inputs (nil entries are ignored) and not the output.
func saves(inputs ...*Tensor) saving { return saving{inputs: inputs} }

func resultSaving(s saving, shape []int, data []float32, inputs ...*Tensor) *Tensor {
	out := &Tensor{shape: shape, Data: data}
	if !GradEnabled() {
		return out
	}
	for _, in := range inputs {
		if in != nil && in.requiresGrad {
			out.requiresGrad = true
			break
		}
	}
	if !out.requiresGrad {
		return out
	}
	out.parents = inputs
	out.seq = nodeSeq.Add(1)
	for _, in := range s.inputs {
		if in != nil {
			in.kept = true
		}
	}
	out.kept = s.out
	return out
}

// grad returns t's gradient buffer, allocating it (zeroed) on first use.
func (t *Tensor) grad() []float32 {
	if t.Grad == nil {
		if t.param {
			t.Grad = make([]float32, len(t.Data)) // parameters' gradients outlive a step
		} else {
			t.Grad = alloc(t.Numel()) // Data may have been dropped by Segment
		}
	}
	return t.Grad
}

// takeGrad adds g into t's gradient. When t has none yet and is not a parameter, t
// takes g itself instead of a copy: g is the gradient of the op output whose backward is
// running, which nothing reads afterwards. At most one input of an op may take it.
func (t *Tensor) takeGrad(g []float32, from *Tensor) {
	if t.Grad == nil && !t.param {
		t.Grad = g
		from.gradGiven = true
		return
	}
	addInto(t.grad(), g)
}

// Backward computes the gradient of the scalar loss with respect to every tensor that
// requires one, accumulating into the Grad of parameters (call ZeroGrad between steps).
// The graph is released on the way: the data, gradients and closures of intermediate
// tensors are dropped as soon as no later backward step reads them, so intermediate
// tensors must not be read afterwards (their Data is nil).
func Backward(loss *Tensor) {
	if len(loss.Data) != 1 {
		shapeErr("Backward", "loss must have one element", loss)
	}
	if !loss.requiresGrad {
		return
	}
	loss.grad()[0] += 1
	sweep(loss)
}

// sweep runs the backward steps of the graph under root, whose gradient is set.
func sweep(root *Tensor) {
	order := topoOrder(root)
	for i := len(order) - 1; i >= 0; i-- {
		t := order[i]
		if t.backward != nil && t.Grad != nil {
			t.backward()
		}
		// Every reader of t's data has run its backward step too (they all use t), so
		// its activation can go; a Reshape's shares its input's, which goes later.
		if t.backward != nil && !t.view && t != root {
			release(t.Data)
			t.Data = nil
		}
		// Every use of t is behind us: its gradient is spent, so its buffer can serve
		// the gradients still to come (unless an input took it over, or it is a
		// Recompute input's own gradient).
		if !t.param && !t.gradShared {
			if !t.gradGiven {
				release(t.Grad)
			}
			t.Grad = nil
		}
		t.backward, t.parents, t.gradGiven = nil, nil, false
	}
}

// topoOrder lists the graph under root, inputs before the ops that use them, using an
// explicit stack: a 12-block Transformer graph is deep enough to make recursion costly.
func topoOrder(root *Tensor) []*Tensor {
	var order []*Tensor
	seen := map[*Tensor]bool{root: true}
	type frame struct {
		t    *Tensor
		next int
	}
	stack := []frame{{t: root}}
	for len(stack) > 0 {
		top := &stack[len(stack)-1]
		if top.next < len(top.t.parents) {
			p := top.t.parents[top.next]
			top.next++
			if p != nil && p.requiresGrad && !seen[p] {
				seen[p] = true
				stack = append(stack, frame{t: p})
			}
			continue
		}
		order = append(order, top.t)
		stack = stack[:len(stack)-1]
	}
	return order
}

// AllFinite reports whether every value of xs is finite (the NaN/Inf guard of training).
func AllFinite(xs []float32) bool {
	for _, v := range xs {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return false
		}
	}
	return true
}

// SameShape reports whether two shapes are equal.
func SameShape(a, b []int) bool {
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

func prod(s []int) int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

// normAxis turns a possibly negative axis into an index, panicking when out of range.
func normAxis(op string, t *Tensor, axis int) int {
	if axis < 0 {
		axis += len(t.shape)
	}
	if axis < 0 || axis >= len(t.shape) {
		shapeErr(op, fmt.Sprintf("axis %d out of range", axis), t)
	}
	return axis
}

// splitAt returns the products of the dimensions before, at and after axis.
func splitAt(shape []int, axis int) (outer, n, inner int) {
	return prod(shape[:axis]), shape[axis], prod(shape[axis+1:])
}
