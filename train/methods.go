package train

import (
	"fmt"

	"github.com/pointpeft/pointpeft/peft"
)

// MethodShare is what one method trains on a backbone.
type MethodShare struct {
	Method           peft.Method
	Summary          string
	Modes            []peft.Mode
	Trainable, Total int
}

// methodSummaries are the one-line descriptions of peft's own methods.
var methodSummaries = map[peft.Method]string{
	peft.MethodPointPEFT: "Point-PEFT (AAAI 2024): Point-prior Prompt and Geometry-aware Adapter on the frozen backbone",
	peft.MethodFull:      "full fine-tuning: every parameter",
	peft.MethodLinear:    "linear probing: the classification head on frozen features",
	peft.MethodBitFit:    "BitFit: every bias and the head",
}

// MethodShares builds every known method (peft.Methods: the built-in ones and those
// the program imports) on the backbone at path (empty: the shipped one), with a head
// for classes classes and numGroup × groupSize grouping, and counts what each trains.
func MethodShares(path string, classes, numGroup, groupSize int) ([]MethodShare, error) {
	var out []MethodShare
	for _, method := range peft.Methods() {
		// A fresh backbone each time: methods share its tensors and set what trains.
		bb, _, err := LoadBackbone(path, classes, numGroup, groupSize)
		if err != nil {
			return nil, err
		}
		pcfg := DefaultSpec().PEFT.Resolve(bb.Cfg.Depth)
		pcfg.Mode = ""
		if method == peft.MethodPointPEFT {
			pcfg.Mode = peft.Fixed
		}
		m, err := NewModel(bb, method, pcfg, make([]string, classes), nil, 1)
		if err != nil {
			return nil, fmt.Errorf("method %s on %s: %w", method, backboneName(path), err)
		}
		s := peft.Summarize(m.Net.Params())
		row := MethodShare{Method: method, Summary: methodSummaries[method], Trainable: s.Trainable, Total: s.Total}
		if spec, ok := peft.LookupMethod(method); ok {
			row.Summary, row.Modes = spec.Summary, spec.Modes
		} else if method == peft.MethodPointPEFT {
			row.Modes = []peft.Mode{peft.Fixed, peft.Faithful}
		}
		out = append(out, row)
	}
	return out, nil
}
