package pointgst_test

import (
	"testing"

	"github.com/pointpeft/pointpeft/peft/pointgst"
	"github.com/pointpeft/pointpeft/train"
)

// TestRecipeIsATrainConfig copies a recipe into train.Config, as the command will, and
// checks that the loop accepts it and that it is the authors' configuration.
func TestRecipeIsATrainConfig(t *testing.T) {
	for name, r := range map[string]pointgst.Recipe{
		"PB_T50_RS":  pointgst.ScanObjectNNRecipe(pointgst.Faithful),
		"ModelNet40": pointgst.ModelNet40Recipe(pointgst.Faithful),
	} {
		c := train.DefaultConfig()
		c.Epochs, c.BatchSize, c.LR, c.WeightDecay, c.ClipNorm = r.Epochs, r.BatchSize, r.LR, r.WeightDecay, r.ClipNorm
		c.WarmupEpochs, c.WarmupLR, c.MinLR, c.Schedule, c.Augment, c.Vote = r.WarmupEpochs, r.WarmupLR, r.MinLR, r.Schedule, r.Augment, r.Vote
		c.FPSPool, c.FPSPoolCap = r.FPSPool, true
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if err := r.Backbone.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if err := r.Cfg.Validate(r.Backbone.NumGroup); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if r.LR != 5e-4 || r.Epochs != 300 || r.BatchSize != 32 || r.Augment != "scale-translate" || r.Cfg.Rank != 36 {
			t.Errorf("%s: %+v is not the authors' recipe", name, r)
		}
		if want := map[string]int{"PB_T50_RS": 2048, "ModelNet40": 1024}[name]; r.Points != want ||
			r.Points/r.Backbone.NumGroup != 16 {
			t.Errorf("%s: %d points in %d groups", name, r.Points, r.Backbone.NumGroup)
		}
		if want := map[string]int{"PB_T50_RS": 2400, "ModelNet40": 1200}[name]; r.FPSPool != want {
			t.Errorf("%s: FPS pool of %d points, want %d", name, r.FPSPool, want)
		}
	}
}

var _ train.Classifier = (*pointgst.Model)(nil)
