package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pointpeft/pointpeft/train"
)

// writeRun writes a run's metrics.jsonl with the given last-epoch accuracies (val < 0:
// no validation) after one earlier epoch.
func writeRun(t *testing.T, dir string, test, val float64) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	for e, f := range []float64{0.5, 1} {
		m := train.EpochMetrics{Epoch: e, TestAcc: test * f, MeanClassAcc: test * f * 0.9, TrainAcc: 0.5}
		if val >= 0 {
			v, vm := val*f, val*f*0.9
			m.ValAcc, m.ValMeanClassAcc = &v, &vm
		}
		js, _ := json.Marshal(m)
		buf.Write(append(js, '\n'))
	}
	if err := os.WriteFile(filepath.Join(dir, "metrics.jsonl"), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestTablesChooseOnValidation: of two learning rates the one better on validation is
// reported, even though the other is better on test; mean ± std is over the seeds.
func TestTablesChooseOnValidation(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "modelnet40", "full")
	writeRun(t, filepath.Join(root, "lr1e-3-seed1"), 0.95, 0.80) // better on test, worse on validation
	writeRun(t, filepath.Join(root, "lr5e-4-seed1"), 0.90, 0.85)
	writeRun(t, filepath.Join(root, "lr5e-4-seed2"), 0.92, 0.87)
	os.WriteFile(filepath.Join(root, "lr5e-4-seed1.out"), []byte("full: ... trainable 10 of 10 parameters; ..."), 0o644)
	var out bytes.Buffer
	if err := write(&out, dir, filepath.Join(dir, "curves.png")); err != nil {
		t.Fatal(err)
	}
	want := "| full fine-tuning | 5e-4 (best on validation) | 1, 2 | 2 | 91.00 ± 1.41% | 81.90 ± 1.27% | 86.00 ± 1.41% | 10 of 10 |"
	if !strings.Contains(out.String(), want) {
		t.Fatalf("table\n%s\nlacks\n%s", out.String(), want)
	}
	if _, err := os.Stat(filepath.Join(dir, "curves.png")); err != nil {
		t.Fatal(err)
	}
}

// TestTablesRefuseTestSelection: runs at two learning rates without validation cannot be
// reduced to one row without looking at the test set.
func TestTablesRefuseTestSelection(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "modelnet40", "linear")
	writeRun(t, filepath.Join(root, "lr1e-3-seed1"), 0.95, -1)
	writeRun(t, filepath.Join(root, "lr5e-4-seed1"), 0.90, -1)
	var out bytes.Buffer
	if err := write(&out, dir, filepath.Join(dir, "curves.png")); err == nil || !strings.Contains(err.Error(), "test set") {
		t.Fatalf("error %v", err)
	}
}

func TestTablesFewshot(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "fewshot", "5way10shot", "point-peft-fixed", "summary.json")
	os.MkdirAll(filepath.Dir(p), 0o755)
	os.WriteFile(p, []byte(`{"way":5,"shot":10,"folds":[{"test_acc":0.9},{"test_acc":0.94},{"test_acc":0.98}]}`), 0o644)
	var out bytes.Buffer
	if err := write(&out, dir, filepath.Join(dir, "curves.png")); err != nil {
		t.Fatal(err)
	}
	if want := "| Point-PEFT, `fixed` | 94.0 ± 4.0 (3 folds) | — | — | — |"; !strings.Contains(out.String(), want) {
		t.Fatalf("table\n%s\nlacks\n%s", out.String(), want)
	}
}

func TestTablesProbes(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "probe"), 0o755)
	for name, body := range map[string]string{
		"backbone-epoch010":    `{"backbone":"run/backbone-epoch010.safetensors","lambda":0.01,"test_acc":0.85,"mean_class_acc":0.8}`,
		"backbone-epoch005":    `{"backbone":"run/backbone-epoch005.safetensors","lambda":0.001,"test_acc":0.8,"mean_class_acc":0.75}`,
		"extra-backbone-small": `{"backbone":"assets/backbone-small.safetensors","lambda":0.01,"test_acc":0.78,"mean_class_acc":0.7}`,
	} {
		os.WriteFile(filepath.Join(dir, "probe", name+".json"), []byte(body), 0o644)
	}
	var out bytes.Buffer
	if err := write(&out, dir, filepath.Join(dir, "curves.png")); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	i5 := strings.Index(got, "| `run/backbone-epoch005.safetensors` | 5 | 80.00% | 75.00% | 0.001 |")
	i10 := strings.Index(got, "| `run/backbone-epoch010.safetensors` | 10 | 85.00% |")
	ix := strings.Index(got, "| `assets/backbone-small.safetensors` | — | 78.00% |")
	if i5 < 0 || i10 < i5 || ix < i10 {
		t.Fatalf("probe table out of order or missing rows:\n%s", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "probe_vs_epochs.png")); err != nil {
		t.Fatal(err)
	}
}

func TestTablesPretrain(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "metrics.jsonl")
	os.WriteFile(path, []byte(`{"epoch":0,"lr":0.000001,"train_loss":0.0578,"seconds":320,"samples_per_s":30.7}
{"epoch":1,"lr":0.00033,"train_loss":0.00977,"seconds":351.4,"samples_per_s":28}
`), 0o644)
	var out bytes.Buffer
	png := filepath.Join(dir, "loss.png")
	if err := writePretrain(&out, path, png); err != nil {
		t.Fatal(err)
	}
	if want := "| 1 | 3.3e-04 | 0.00977 | 351 | 28.0 |"; !strings.Contains(out.String(), want) {
		t.Fatalf("table\n%s\nlacks %s", out.String(), want)
	}
	if _, err := os.Stat(png); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(path, nil, 0o644)
	if err := writePretrain(&out, path, ""); err == nil || !strings.Contains(err.Error(), "no epochs") {
		t.Fatalf("empty log: %v", err)
	}
}
