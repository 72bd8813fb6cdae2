package nn

import (
	"fmt"
	"sort"

	"github.com/pointpeft/pointpeft/checkpoint"
	"github.com/pointpeft/pointpeft/tensor"
)

// Stateful is a model whose parameters and buffers make up its state dict.
type Stateful interface {
	Params() []*tensor.Tensor
	Buffers() []Buffer
}

// StateDict copies the parameters and buffers of m into a state dict with PyTorch's keys.
// With trainableOnly set it keeps just the trainable parameters (see StateDictOf for an
// adapter file, which needs the buffers too).
func StateDict(m Stateful, trainableOnly bool) *checkpoint.StateDict {
	sd := checkpoint.NewStateDict()
	for _, p := range m.Params() {
		if !trainableOnly || p.RequiresGrad() {
			sd.Set(p.Name(), checkpoint.NewF32(p.Shape(), append([]float32(nil), p.Data...)))
		}
	}
	if !trainableOnly {
		putBuffers(sd, m)
	}
	return sd
}

// StateDictOf copies the parameters keep selects and every buffer of m: what an adapter
// file must hold, since BatchNorm statistics change in training even where the weights
// are frozen.
func StateDictOf(m Stateful, keep func(p *tensor.Tensor) bool) *checkpoint.StateDict {
	sd := checkpoint.NewStateDict()
	for _, p := range m.Params() {
		if keep(p) {
			sd.Set(p.Name(), checkpoint.NewF32(p.Shape(), append([]float32(nil), p.Data...)))
		}
	}
	putBuffers(sd, m)
	return sd
}

func putBuffers(sd *checkpoint.StateDict, m Stateful) {
	for _, b := range m.Buffers() {
		if b.Count != nil {
			sd.Set(b.Name, checkpoint.NewI64([]int{}, []int64{*b.Count}))
			continue
		}
		sd.Set(b.Name, checkpoint.NewF32([]int{len(b.Data)}, append([]float32(nil), b.Data...)))
	}
}

// LoadReport lists what LoadState matched, like PyTorch's load_state_dict(strict=False).
type LoadReport struct {
	Loaded, Missing, Unexpected []string
}

// LoadState copies the tensors of sd into m's parameters and buffers by key. Keys of m
// absent from sd are reported missing and keep their values; keys of sd that m lacks are
// reported unexpected. A tensor whose shape differs from the parameter's is an error,
// and nothing is copied then.
func LoadState(m Stateful, sd *checkpoint.StateDict) (LoadReport, error) {
	type target struct {
		shape []int
		data  []float32
		count *int64
	}
	want := map[string]target{}
	for _, p := range m.Params() {
		want[p.Name()] = target{shape: p.Shape(), data: p.Data}
	}
	for _, b := range m.Buffers() {
		if b.Count != nil {
			want[b.Name] = target{shape: []int{}, count: b.Count}
		} else {
			want[b.Name] = target{shape: []int{len(b.Data)}, data: b.Data}
		}
	}
	var rep LoadReport
	var errs []string
	for _, k := range sd.Keys {
		t := sd.Tensors[k]
		w, ok := want[k]
		if !ok {
			rep.Unexpected = append(rep.Unexpected, k)
			continue
		}
		if w.count != nil {
			if t.Numel() != 1 {
				errs = append(errs, fmt.Sprintf("%s: checkpoint shape %v, model wants a scalar", k, t.Shape))
			}
			continue
		}
		if !tensor.SameShape(t.Shape, w.shape) {
			errs = append(errs, fmt.Sprintf("%s: checkpoint shape %v, model shape %v", k, t.Shape, w.shape))
			continue
		}
		if !t.IsFloat() {
			errs = append(errs, fmt.Sprintf("%s: checkpoint dtype %s, model wants floats", k, t.DType))
		}
	}
	if len(errs) > 0 {
		sort.Strings(errs)
		return rep, fmt.Errorf("state dict does not fit the model: %d tensors differ: %v", len(errs), errs)
	}
	for _, k := range sd.Keys {
		t := sd.Tensors[k]
		w, ok := want[k]
		if !ok {
			continue
		}
		if w.count != nil {
			if len(t.I64) == 1 {
				*w.count = t.I64[0]
			} else if len(t.F32) == 1 {
				*w.count = int64(t.F32[0])
			}
		} else {
			copy(w.data, t.F32)
		}
		rep.Loaded = append(rep.Loaded, k)
		delete(want, k)
	}
	for k := range want {
		rep.Missing = append(rep.Missing, k)
	}
	sort.Strings(rep.Missing)
	return rep, nil
}
