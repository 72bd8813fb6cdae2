package dapt

import (
	"testing"

	"github.com/pointpeft/pointpeft/peft"
)

// TestConfigForAndRecipes: the model configuration follows the grouping (ScanObjectNN's
// from 128 groups, ModelNet40's below), each recipe's grouping selects its own model
// configuration, and the registered recipes are the package's with their FPS pools.
func TestConfigForAndRecipes(t *testing.T) {
	scan, mn := ScanObjectNN(), ModelNet40()
	for groups, want := range map[int]Config{256: scan, 128: scan, 127: mn, 64: mn, 32: mn} {
		if got := ConfigFor(groups); got != want {
			t.Errorf("%d groups: %+v, want %+v", groups, got, want)
		}
	}
	for kind, r := range map[peft.DataKind]Recipe{peft.ScanObjectNNKind: ScanObjectNNRecipe(), peft.ModelNet40Kind: ModelNet40Recipe()} {
		if ConfigFor(r.NumGroup) != r.Model {
			t.Errorf("%s: %d groups select %+v, the recipe's model is %+v", kind, r.NumGroup, ConfigFor(r.NumGroup), r.Model)
		}
		reg, ok := peft.MethodRecipe(MethodName, kind)
		if !ok || reg.Points != r.Points || reg.Groups != r.NumGroup || reg.GroupSize != 32 || reg.FPSPool != r.FPSPool ||
			reg.LR != 5e-4 || reg.Augment != "scale-translate" || reg.Schedule != "epoch" || reg.Vote != 1 {
			t.Errorf("%s: registered %+v (%v), package %+v", kind, reg, ok, r)
		}
	}
	if s, m := ScanObjectNNRecipe(), ModelNet40Recipe(); s.Points != 2048 || s.FPSPool != 2400 || m.Points != 1024 || m.FPSPool != 1200 {
		t.Errorf("pools: %d for %d points, %d for %d; want 2400 for 2048, 1200 for 1024", s.FPSPool, s.Points, m.FPSPool, m.Points)
	}
	if _, ok := peft.MethodRecipe(MethodName, "shapenet"); ok {
		t.Error("a recipe for a kind DAPT released none for")
	}
}
