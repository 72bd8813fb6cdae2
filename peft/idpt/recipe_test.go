package idpt

import (
	"testing"

	"github.com/pointpeft/pointpeft/peft"
)

// TestRegisteredRecipes: training starts IDPT from the package's recipes: rotate-y and a
// pool of 2400 for 2048 points on ScanObjectNN, scale-and-translate and 1200 for 1024
// on ModelNet40, per-epoch schedule, no voting.
func TestRegisteredRecipes(t *testing.T) {
	for kind, want := range map[peft.DataKind]Recipe{peft.ScanObjectNNKind: ScanObjectNNRecipe(), peft.ModelNet40Kind: ModelNet40Recipe()} {
		r, ok := peft.MethodRecipe(MethodName, kind)
		if !ok || r.Augment != want.Augment || r.Points != want.Points || r.FPSPool != want.FPSPool || r.LR != want.LR ||
			r.Epochs != want.Epochs || r.WarmupEpochs != want.WarmupEpochs || r.ClipNorm != want.ClipNorm ||
			r.Schedule != "epoch" || r.Vote != 1 || r.Groups != 0 {
			t.Errorf("%s: registered %+v (%v), package %+v", kind, r, ok, want)
		}
	}
	if r, _ := peft.MethodRecipe(MethodName, peft.ScanObjectNNKind); r.Augment != "rotate-y" || r.FPSPool != 2400 {
		t.Errorf("ScanObjectNN: augment %s, pool %d", r.Augment, r.FPSPool)
	}
}
