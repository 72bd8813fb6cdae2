package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/pointpeft/pointpeft/pcio"
	"github.com/pointpeft/pointpeft/train"
)

// cloudFolder writes a two-class ModelNet40-style folder (<class>/<split>/<i>.npy) of
// clouds of points points: perClass training and 3 test clouds per class.
func cloudFolder(t *testing.T, points, perClass int) string {
	t.Helper()
	root := t.TempDir()
	rng := rand.New(rand.NewPCG(9, 9))
	for _, class := range []string{"a", "b"} {
		for split, n := range map[string]int{"train": perClass, "test": 3} {
			dir := filepath.Join(root, class, split)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			for i := range n {
				p := make([]float32, points*3)
				for j := range p {
					p[j] = float32(rng.NormFloat64())
				}
				if err := pcio.WriteNPY(filepath.Join(dir, fmt.Sprintf("%d.npy", i)), p, []int{points, 3}); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	return root
}

// resolved is the spec finetune runs for args (and a settings file, if path is set).
func resolved(t *testing.T, path string, args ...string) train.Spec {
	t.Helper()
	cmd := newFinetuneCmd()
	if err := cmd.ParseFlags(args); err != nil {
		t.Fatal(err)
	}
	s, err := layered(cmd.Flags(), path, true)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestFinetuneStartsFromTheRecipe: --method idpt on ModelNet40-kind data resolves to
// IDPT's ModelNet40 recipe, on ScanObjectNN to its ScanObjectNN one; an explicit --lr
// overrides the recipe's and nothing else; a settings file overrides the recipe and a
// flag the file; a resumed run's layering starts from the reference recipe (its file
// holds every setting).
func TestFinetuneStartsFromTheRecipe(t *testing.T) {
	s := resolved(t, "", "--method", "idpt", "--data", "/data/modelnet40")
	if c := s.Train; c.FPSPool != 1200 || !c.FPSPoolCap || s.Points != 1024 || c.Augment != "scale-translate" || c.LR != 5e-4 ||
		c.Epochs != 300 || !strings.Contains(s.Recipe, "finetune_modelnet_idpt") {
		t.Errorf("idpt on ModelNet40: %+v", s)
	}
	if s := resolved(t, "", "--method", "idpt", "--data", "scanobjectnn:OBJ_BG:/data/scan"); s.Train.Augment != "rotate-y" ||
		s.Train.FPSPool != 2400 || s.Points != 2048 {
		t.Errorf("idpt on ScanObjectNN: %+v", s)
	}
	lr := resolved(t, "", "--method", "idpt", "--data", "/data/modelnet40", "--lr", "1e-3")
	if lr.Train.LR != 1e-3 || lr.Train.FPSPool != 1200 || lr.Train.WeightDecay != 0.05 || lr.Points != 1024 {
		t.Errorf("--lr 1e-3: %+v", lr.Train)
	}
	file := filepath.Join(t.TempDir(), "settings.yaml")
	if err := os.WriteFile(file, []byte("method: idpt\ntrain:\n  lr: 0.002\n  fps_pool: 1100\n  epochs: 50\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f := resolved(t, file, "--data", "/data/modelnet40", "--epochs", "7")
	if c := f.Train; c.LR != 0.002 || c.FPSPool != 1100 || c.Epochs != 7 || c.WarmupEpochs != 10 || f.Method != "idpt" {
		t.Errorf("file over recipe, flag over file: %+v", c)
	}
	cmd := newFinetuneCmd()
	if err := cmd.ParseFlags([]string{"--method", "idpt", "--data", "/data/modelnet40"}); err != nil {
		t.Fatal(err)
	}
	if r, err := layered(cmd.Flags(), "", false); err != nil || r.Train.FPSPool != 0 || r.Recipe != "" || r.Train.Augment != "" {
		t.Errorf("layering without the recipe: %+v, %v", r, err)
	}
}

// TestFinetuneSavesTheRecipeUsed: an idpt run on a folder of 256-point clouds starts
// from IDPT's ModelNet40 recipe, lowers its FPS pool of 1200 to 256 with a note, takes
// --lr 1e-3 over the recipe's, and saves what it used in config.yaml; an explicit pool
// larger than the clouds without the cap is refused naming both sizes.
func TestFinetuneSavesTheRecipeUsed(t *testing.T) {
	dir := t.TempDir()
	bb := tinyBackbone(t, dir, 1)
	data := cloudFolder(t, 256, 8)
	run := filepath.Join(dir, "run")
	args := []string{"finetune", "--backbone", bb, "--data", data, "--method", "idpt", "--points", "200", "--groups", "32",
		"--group-size", "16", "--epochs", "1", "--warmup", "0", "--batch", "4", "--lr", "1e-3", "-v=false"}
	code, out, errOut := runCLI(append(args, "--out", run)...)
	if code != 0 || !strings.Contains(out, "best test accuracy") {
		t.Fatalf("finetune exited %d: %s %s", code, out, errOut)
	}
	for _, want := range []string{"fps_pool 1200 lowered to 256", "from IDPT's cfgs/finetune_modelnet_idpt.yaml", "drawn from an FPS pool of 256"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	raw, err := os.ReadFile(filepath.Join(run, "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var saved struct {
		Train train.Config `yaml:"train"`
		Spec  train.Spec   `yaml:"spec"`
	}
	if err := yaml.Unmarshal(raw, &saved); err != nil {
		t.Fatal(err)
	}
	for _, c := range []train.Config{saved.Train, saved.Spec.Train} {
		if c.FPSPool != 256 || !c.FPSPoolCap || c.LR != 1e-3 || c.Augment != "scale-translate" || c.Epochs != 1 || c.WeightDecay != 0.05 {
			t.Errorf("config.yaml: %+v", c)
		}
	}
	if saved.Spec.Points != 200 || !strings.Contains(saved.Spec.Recipe, "finetune_modelnet_idpt") {
		t.Errorf("config.yaml spec: %d points, recipe %q", saved.Spec.Points, saved.Spec.Recipe)
	}
	refused := filepath.Join(dir, "refused")
	code, _, errOut = runCLI(append(args, "--out", refused, "--fps-pool", "300", "--fps-pool-cap=false")...)
	if code == 0 || !strings.Contains(errOut, "fps_pool 300 is larger than the training clouds") || !strings.Contains(errOut, "hold 256 points") {
		t.Errorf("--fps-pool 300 of 256-point clouds: exit %d, %s", code, errOut)
	}
	code, _, errOut = runCLI(append(args, "--out", refused, "--fps-pool", "150")...)
	if code == 0 || !strings.Contains(errOut, "fps_pool 150 is smaller than points 200") {
		t.Errorf("--fps-pool 150 for 200 points: exit %d, %s", code, errOut)
	}
	if _, err := os.Stat(refused); err == nil {
		t.Error("a refused run left its directory")
	}
}

// TestMethodsListsRecipes: pointpeft methods says which recipe each method starts from.
func TestMethodsListsRecipes(t *testing.T) {
	dir := t.TempDir()
	bb := tinyBackbone(t, dir, 1)
	code, out, errOut := runCLI("methods", "--backbone", bb, "--groups", "32", "--group-size", "16")
	if code != 0 {
		t.Fatalf("methods exited %d: %s", code, errOut)
	}
	for _, want := range []string{"recipes finetune starts from", "idpt", "IDPT's cfgs/finetune_modelnet_idpt.yaml",
		"modelnet40: the reference recipe", "point-peft", "the reference recipe"} {
		if !strings.Contains(out, want) {
			t.Errorf("methods output lacks %q:\n%s", want, out)
		}
	}
}

// TestFewshotWithAnFPSPool: fewshot takes --fps-pool as finetune does: Point-PEFT's
// memory bank and the evaluation see the FPS of --points from the 300-point clouds,
// training draws --points from the pool, and the fold's saved settings show the pool.
func TestFewshotWithAnFPSPool(t *testing.T) {
	dir := t.TempDir()
	bb := tinyBackbone(t, dir, 1)
	out := filepath.Join(dir, "pp")
	code, stdout, stderr := runCLI("fewshot", "--backbone", bb, "--data", "shapes:70:140", "--points", "256", "--groups", "16",
		"--group-size", "16", "--way", "3", "--shot", "2", "--query", "5", "--folds-file", filepath.Join(dir, "folds.json"),
		"--draw", "1", "--run", "0", "--epochs", "1", "--warmup", "0", "--batch", "2", "--method", "point-peft", "--prompts", "4",
		"--fps-pool", "300", "--out", out)
	if code != 0 || !strings.Contains(stdout, "over 1 folds") {
		t.Fatalf("fewshot exited %d: %s %s", code, stdout, stderr)
	}
	raw, err := os.ReadFile(filepath.Join(out, "fold-0", "config.yaml"))
	if err != nil || !strings.Contains(string(raw), "fps_pool: 300") {
		t.Errorf("fold config (%v) lacks fps_pool: 300:\n%s", err, raw)
	}
}
