package pointlora

import (
	"testing"

	"github.com/pointpeft/pointpeft/peft"
)

// TestRegisteredRecipe: PointLoRA registers its released PB_T50_RS recipe (2048 points
// from a pool of 2400, 128×32 groups) and none for ModelNet40, for which the authors
// released no configuration.
func TestRegisteredRecipe(t *testing.T) {
	r, ok := peft.MethodRecipe(MethodName, peft.ScanObjectNNKind)
	if !ok || r.Points != 2048 || r.FPSPool != 2400 || r.Groups != 128 || r.GroupSize != 32 || r.LR != 5e-4 ||
		r.Augment != "scale-translate" || r.Schedule != "epoch" {
		t.Errorf("ScanObjectNN: %+v (%v)", r, ok)
	}
	if _, ok := peft.MethodRecipe(MethodName, peft.ModelNet40Kind); ok {
		t.Error("a ModelNet40 recipe, which the authors did not release")
	}
}
