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
	// Recipe says which recipe a run starts from on each kind of data set
	// (RecipeSummary).
	Recipe string
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
		pcfg.Mode, _ = peft.ResolveMode(method, "") // the method's default
		m, err := NewModel(bb, method, pcfg, make([]string, classes), nil, 1)
		if err != nil {
			return nil, fmt.Errorf("method %s on %s: %w", method, backboneName(path), err)
		}
		s := peft.Summarize(m.Net.Params())
		out = append(out, MethodShare{Method: method, Summary: peft.MethodSummary(method), Modes: peft.MethodModes(method),
			Trainable: s.Trainable, Total: s.Total, Recipe: RecipeSummary(method)})
	}
	return out, nil
}
