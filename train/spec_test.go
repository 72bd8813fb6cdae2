package train

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/pointpeft/pointpeft/dataset"
	"github.com/pointpeft/pointpeft/nn"
	"gopkg.in/yaml.v3"
)

// TestSpecResolve: sizes follow the data set's reference config unless set, and a
// warm-up longer than half the run is clamped with a note.
func TestSpecResolve(t *testing.T) {
	s := DefaultSpec()
	s.Data, s.Train.Epochs = "scanobjectnn:PB_T50_RS:/data/scan", 300
	r, notes := s.Resolve()
	if r.Points != 2048 || r.Groups != 128 || r.GroupSize != 32 || r.Train.Augment != "scan" || len(notes) != 0 {
		t.Errorf("ScanObjectNN: %d points, %d×%d, augment %s, notes %v", r.Points, r.Groups, r.GroupSize, r.Train.Augment, notes)
	}
	s.Data, s.Points, s.Train.Epochs = "shapes", 512, 2
	r, notes = s.Resolve()
	if r.Points != 512 || r.Groups != 64 || r.Train.WarmupEpochs != 0 || len(notes) != 1 || !strings.Contains(notes[0], "clamped to 0") {
		t.Errorf("shapes: %d points, %d groups, warm-up %d, notes %v", r.Points, r.Groups, r.Train.WarmupEpochs, notes)
	}
	s.Train.Epochs = 40
	if r, notes = s.Resolve(); r.Train.WarmupEpochs != 10 || len(notes) != 0 {
		t.Errorf("a fitting warm-up changed: %d, %v", r.Train.WarmupEpochs, notes)
	}
}

// TestValidateRefusesNaN: a NaN or infinite learning rate is refused up front.
func TestValidateRefusesNaN(t *testing.T) {
	for _, v := range []float64{math.NaN(), math.Inf(1)} {
		c := DefaultConfig()
		c.LR = v
		if err := c.Validate(); err == nil {
			t.Errorf("lr %g accepted", v)
		}
	}
}

func TestDefaultRunDir(t *testing.T) {
	d := DefaultRunDir("point-peft")
	if !regexp.MustCompile(`^runs/point-peft-\d{8}-\d{6}$`).MatchString(filepath.ToSlash(d)) {
		t.Errorf("run directory %q", d)
	}
}

// TestEvaluateRefusesNoViews: zero views used to give a silent 7% accuracy.
func TestEvaluateRefusesNoViews(t *testing.T) {
	ds, err := dataset.Open("shapes:14:14", "test", dataset.OpenOptions{NumPoints: 64})
	if err != nil {
		t.Fatal(err)
	}
	bb := smallBackbone(t, len(ds.Classes()))
	for _, vote := range []int{0, -3} {
		if _, err := Evaluate(context.Background(), bb, ds, 8, vote, 0); err == nil {
			t.Errorf("vote %d accepted", vote)
		}
	}
	if _, err := Evaluate(context.Background(), bb, ds, -5, 1, 0); err == nil {
		t.Error("batch -5 accepted")
	}
}

// TestLoadFileRecompute: a run's configuration names its recompute mode, and one
// written when the setting was a switch (recompute: true/false) still loads.
func TestLoadFileRecompute(t *testing.T) {
	dir := t.TempDir()
	for body, want := range map[string]nn.Recompute{
		"train:\n  recompute: true\n":  nn.RecomputeAll,
		"train:\n  recompute: false\n": nn.RecomputeNone,
		"train:\n  recompute: mlp\n":   nn.RecomputeMLP,
		"train:\n  epochs: 3\n":        DefaultConfig().Recompute,
	} {
		path := filepath.Join(dir, "config.yaml")
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		s := DefaultSpec()
		if err := s.LoadFile(path); err != nil || s.Train.Recompute != want {
			t.Errorf("%q: %v, %v; want %v", body, s.Train.Recompute, err, want)
		}
	}
	path := filepath.Join(dir, "bad.yaml")
	os.WriteFile(path, []byte("train:\n  recompute: half\n"), 0o644)
	s := DefaultSpec()
	if err := s.LoadFile(path); err == nil || !strings.Contains(err.Error(), "bad.yaml") || !strings.Contains(err.Error(), "want none, mlp or all") {
		t.Errorf("recompute: half: %v", err)
	}
	raw, err := yaml.Marshal(DefaultSpec())
	if err != nil || !strings.Contains(string(raw), "recompute: mlp") {
		t.Errorf("marshalled: %v\n%s", err, raw)
	}
}
