package train

import (
	"fmt"
	"strings"

	"github.com/pointpeft/pointpeft/dataset"
	"github.com/pointpeft/pointpeft/peft"
)

// DataKind is the kind of benchmark a data source is, which chooses a method's
// recipe: ScanObjectNN for scanobjectnn: sources, ModelNet40 for every other (their
// reference settings are ModelNet40's, see dataset.Reference).
func DataKind(data string) peft.DataKind {
	return peft.DataKind(dataset.Reference(data).Kind)
}

// SpecFor is the spec a run of method on data starts from: DefaultSpec with the
// method's released recipe for the data's kind (peft.MethodRecipe, DataKind) when it
// has one, named in Recipe, or DefaultSpec as it is. A recipe's FPS pool comes with
// FPSPoolCap, as the authors' runners lower it to the clouds' size. Settings files and
// flags go on top.
func SpecFor(method, data string) Spec {
	s := DefaultSpec()
	s.Method, s.Data = method, data
	kind := DataKind(data)
	r, ok := peft.MethodRecipe(peft.Method(method), kind)
	if !ok {
		return s
	}
	c := &s.Train
	c.Epochs, c.BatchSize, c.WarmupEpochs = r.Epochs, r.BatchSize, r.WarmupEpochs
	c.LR, c.MinLR, c.WarmupLR, c.WeightDecay, c.ClipNorm = r.LR, r.MinLR, r.WarmupLR, r.WeightDecay, r.ClipNorm
	c.Schedule, c.Smoothing, c.Augment, c.Vote = r.Schedule, r.Smoothing, r.Augment, r.Vote
	c.FPSPool, c.FPSPoolCap = r.FPSPool, r.FPSPool > 0
	s.Points, s.Groups, s.GroupSize = r.Points, r.Groups, r.GroupSize
	s.Recipe = r.Source
	return s
}

// RecipeSummary says in one line which recipe a run of method starts from on each
// kind of data set.
func RecipeSummary(method peft.Method) string {
	var parts []string
	found := false
	for _, kind := range []peft.DataKind{peft.ScanObjectNNKind, peft.ModelNet40Kind} {
		src := "the reference recipe"
		if r, ok := peft.MethodRecipe(method, kind); ok {
			src, found = r.Source, true
		}
		parts = append(parts, fmt.Sprintf("%s: %s", kind, src))
	}
	if !found {
		return "the reference recipe"
	}
	return strings.Join(parts, "; ")
}
