package main

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pointpeft/pointpeft/checkpoint"
	"github.com/pointpeft/pointpeft/dataset"
	"github.com/pointpeft/pointpeft/pcio"
	"github.com/pointpeft/pointpeft/progress"
)

const oracleDir = "../../testdata/oracle/"

// TestAuthorsCheckpointInCLI runs the authors' exported Point-PEFT checkpoint through
// predict in both modes and compares the logits with PyTorch's (faithful: each file
// alone, which predict guarantees; fixed: independent of the batch anyway).
func TestAuthorsCheckpointInCLI(t *testing.T) {
	dir := t.TempDir()
	common, err := checkpoint.Load(oracleDir + "pointpeft_common.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	want, err := checkpoint.Load(oracleDir + "pointpeft_authors.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	pts := common.Tensors["points"]
	b, n := pts.Shape[0], pts.Shape[1]
	var files []string
	for i := 0; i < b; i++ {
		f := filepath.Join(dir, fmt.Sprintf("cloud%d.npy", i))
		if err := pcio.WriteNPY(f, pts.F32[i*n*3:(i+1)*n*3], []int{n, 3}); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	classes := filepath.Join(dir, "classes.txt")
	os.WriteFile(classes, []byte("a\nb\nc\nd\ne\n"), 0o644)
	base := []string{"predict", "--checkpoint", oracleDir + "pointpeft_authors.pth", "--backbone", oracleDir + "pointmae_pretrain.pth",
		"--bank", oracleDir + "bank.pt", "--classes", classes, "--groups", "16", "--group-size", "8", "--prior-groups", "8",
		"--prior-group-size", "8", "--no-normalize"}
	for mode, key := range map[string]string{"faithful": "faithful.single", "fixed": "fixed"} {
		logits := filepath.Join(dir, mode+".npy")
		code, out, errOut := runCLI(append(append(base, "--mode", mode, "--logits", logits), files...)...)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", mode, code, errOut)
		}
		if !strings.Contains(out, "[as stored]") {
			t.Errorf("%s: the clouds were re-sampled: %s", mode, out)
		}
		got, _, err := pcio.ReadNPY(logits)
		if err != nil {
			t.Fatal(err)
		}
		ref := want.Tensors[key].F32
		for i := range ref {
			if d := math.Abs(float64(got[i] - ref[i])); d > 1e-4*(1+math.Abs(float64(ref[i]))) {
				t.Fatalf("%s logit %d: %g, PyTorch %g", mode, i, got[i], ref[i])
			}
		}
	}
	// Given as a backbone, it is refused rather than run as a plain classifier.
	code, _, errOut := runCLI("predict", "--checkpoint", oracleDir+"pointpeft_authors.pth", "--classes", classes, files[0])
	if code == 0 || !strings.Contains(errOut, "pre-trained backbone") {
		t.Errorf("without its backbone: exit %d, %q", code, errOut)
	}
	code, out, _ := runCLI("info", oracleDir+"pointpeft_authors.pth")
	if code != 0 || !strings.Contains(out, "point-peft-authors-finetuned") {
		t.Errorf("info: %s", out)
	}
}

// TestFlagMistakes: each bad flag value fails with exit 2 before anything is written.
func TestFlagMistakes(t *testing.T) {
	dir := t.TempDir()
	bb := tinyBackbone(t, dir, 1)
	cloud := filepath.Join(dir, "c.npy")
	if err := pcio.WriteNPY(cloud, make([]float32, 300*3), []int{300, 3}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "never")
	ft := func(extra ...string) []string {
		return append(append([]string{"finetune", "--backbone", bb, "--out", out}, tinyTrain...), extra...)
	}
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"negative top", []string{"predict", "--checkpoint", bb, "--top", "-1", cloud}, 2, "--top"},
		{"vote 0", []string{"eval", "--checkpoint", bb, "--data", "shapes:8:8", "--vote", "0"}, 2, "--vote"},
		{"vote -3", []string{"eval", "--checkpoint", bb, "--data", "shapes:8:8", "--vote", "-3"}, 2, "--vote"},
		{"negative batch", []string{"eval", "--checkpoint", bb, "--data", "shapes:8:8", "--batch", "-5"}, 2, "--batch"},
		{"stray word", append([]string{"finetune", "--backbone", bb, "--data", "shapes:64:28", "junk"}, ft()[2:]...), 2, "junk"},
		{"NaN lr", ft("--lr", "NaN"), 1, "finite"},
		{"batch over the data", ft("--batch", "100"), 1, "larger than the 64 training samples"},
		{"no data", []string{"finetune", "--out", out}, 1, "--data"},
		{"bad mode", ft("--mode", "magic"), 1, "magic"},
	}
	for _, c := range cases {
		code, _, errOut := runCLI(c.args...)
		if code != c.code || !strings.Contains(errOut, c.want) {
			t.Errorf("%s: exit %d (want %d), %q (want it to mention %q)", c.name, code, c.code, errOut, c.want)
		}
		if _, err := os.Stat(out); err == nil {
			t.Fatalf("%s: left %s behind", c.name, out)
		}
	}
}

// TestRunDirectoryPolicy: a non-empty run directory is refused; --overwrite replaces
// its run files (no stale adapter stays beside a full run); --resume continues it. The
// run prints its resolved settings and clamps a warm-up that does not fit.
func TestRunDirectoryPolicy(t *testing.T) {
	dir := t.TempDir()
	bb := tinyBackbone(t, dir, 1)
	run := filepath.Join(dir, "run")
	os.MkdirAll(run, 0o755)
	stale := filepath.Join(run, "adapter.safetensors")
	os.WriteFile(stale, []byte("old"), 0o644)
	args := append([]string{"finetune", "--backbone", bb, "--out", run, "--method", "full"}, tinyTrain...)
	code, _, errOut := runCLI(args...)
	if code == 0 || !strings.Contains(errOut, "not empty") {
		t.Fatalf("reused a non-empty directory: exit %d, %q", code, errOut)
	}
	args = append(args, "--overwrite", "--warmup", "10")
	code, _, errOut = runCLI(args...)
	if code != 0 {
		t.Fatalf("--overwrite: exit %d, %s", code, errOut)
	}
	if _, err := os.Stat(stale); err == nil {
		t.Error("--overwrite left the stale adapter.safetensors")
	}
	for _, want := range []string{"settings: method full", "warm-up of 10 epochs does not fit a 1-epoch run: clamped to 0"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	code, _, errOut = runCLI("finetune", "--resume", run, "--epochs", "2", "-v=false")
	if code != 0 {
		t.Fatalf("--resume: exit %d, %s", code, errOut)
	}
}

// TestShippedBackboneIsDefault: finetune runs without --backbone.
func TestShippedBackboneIsDefault(t *testing.T) {
	run := filepath.Join(t.TempDir(), "run")
	code, out, errOut := runCLI("finetune", "--data", "shapes:32:14", "--points", "256", "--groups", "16", "--group-size", "16",
		"--epochs", "1", "--batch", "16", "--method", "linear", "--out", run, "-v=false")
	if code != 0 || !strings.Contains(errOut, "backbone shipped") || !strings.Contains(out, "best test accuracy") {
		t.Fatalf("exit %d: %s %s", code, out, errOut)
	}
}

// TestFileMessages: a directory, a safetensors file whose header is longer than the
// file, a .pth that holds no tensors and a backbone given as a model each get a message
// that says what they are; convert writes nothing then.
func TestFileMessages(t *testing.T) {
	dir := t.TempDir()
	long := filepath.Join(dir, "long.safetensors")
	hdr := make([]byte, 8)
	binary.LittleEndian.PutUint64(hdr, 1<<20)
	os.WriteFile(long, append(hdr, []byte(`{"a":{}}`)...), 0o644)
	empty := filepath.Join(dir, "empty.pth")
	if err := os.WriteFile(empty, emptyPTH(t), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.safetensors")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"info", dir}, "a directory"},
		{[]string{"info", long}, "header of 1048576 bytes"},
		{[]string{"convert", empty, out}, "holds no tensors"},
		{[]string{"predict", "--checkpoint", tinyBackbone(t, dir, 1), long}, "pre-trained backbone"},
	} {
		code, _, errOut := runCLI(c.args...)
		if code != 1 || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, %q (want %q)", c.args, code, errOut, c.want)
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("convert wrote a file from a checkpoint without tensors")
	}
}

// emptyPTH is a torch.save zip whose pickle is {"model": <a pickled object>}: no tensors.
func emptyPTH(t *testing.T) []byte {
	t.Helper()
	pkl := "\x80\x02}q\x00X\x05\x00\x00\x00modelq\x01cposix\nsystem\nq\x02X\x04\x00\x00\x00echoq\x03\x85q\x04Rq\x05s."
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, body := range map[string]string{"evil/data.pkl": pkl, "evil/version": "3\n"} {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(body))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestFinetuneRefusesAFineTunedModelAsBackbone: the authors' Point-PEFT checkpoint is
// not silently cut down to a plain backbone.
func TestFinetuneRefusesAFineTunedModelAsBackbone(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	code, _, errOut := runCLI(append([]string{"finetune", "--backbone", oracleDir + "pointpeft_authors.pth", "--out", out}, tinyTrain...)...)
	if code != 1 || !strings.Contains(errOut, "prompt_cor") || !strings.Contains(errOut, "would be ignored") {
		t.Errorf("exit %d: %q", code, errOut)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a refused run left its directory")
	}
}

// TestTimeLimitStopsCleanly: a --time-limit stop exits 0 with a message, and --resume
// finishes the run.
func TestTimeLimitStopsCleanly(t *testing.T) {
	dir := t.TempDir()
	bb := tinyBackbone(t, dir, 1)
	run := filepath.Join(dir, "run")
	args := append([]string{"finetune", "--backbone", bb, "--out", run, "--method", "bitfit", "--time-limit", "1ns"}, tinyTrain...)
	code, _, errOut := runCLI(args...)
	if code != 0 || !strings.Contains(errOut, "stopped") || !strings.Contains(errOut, "--resume") {
		t.Fatalf("time limit: exit %d, %q", code, errOut)
	}
	code, out, errOut := runCLI("finetune", "--resume", run, "-v=false")
	if code != 0 || !strings.Contains(out, "best test accuracy") {
		t.Fatalf("resume: exit %d, %s %s", code, out, errOut)
	}
}

// TestQuietAndLogProgress: into a log (not a terminal) progress comes as plain lines
// without carriage returns; --quiet leaves only the result.
func TestQuietAndLogProgress(t *testing.T) {
	defer func(d time.Duration) { progress.Every = d }(progress.Every)
	progress.Every = 0
	dir := t.TempDir()
	bb := tinyBackbone(t, dir, 1)
	args := append([]string{"finetune", "--backbone", bb, "--method", "bitfit"}, tinyTrain...)
	code, _, errOut := runCLI(append(args, "--out", filepath.Join(dir, "a"))...)
	if code != 0 || strings.Contains(errOut, "\r") || !strings.Contains(errOut, "epoch 1/1: 16/64 samples") {
		t.Fatalf("log progress: exit %d, %q", code, errOut)
	}
	code, out, errOut := runCLI(append(args, "--out", filepath.Join(dir, "b"), "--quiet")...)
	if code != 0 || strings.Contains(errOut, "samples") || !strings.Contains(out, "best test accuracy") {
		t.Fatalf("--quiet: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

// TestFinetuneValidationSplit: --val holds out a stratified part of the training split,
// scores it every epoch and saves the split; a fraction outside [0,1) is refused.
func TestFinetuneValidationSplit(t *testing.T) {
	dir := t.TempDir()
	bb := tinyBackbone(t, dir, 1)
	run := filepath.Join(dir, "run")
	args := append([]string{"finetune", "--backbone", bb, "--method", "linear", "--out", run, "--val", "0.25"}, tinyTrain...)
	if code, out, errOut := runCLI(args...); code != 0 {
		t.Fatalf("exit %d: %s %s", code, out, errOut)
	}
	split, err := dataset.LoadSplit(filepath.Join(run, "split.json"))
	// Stratified: a quarter of each class, rounded per class (14 classes over 64 shapes).
	if err != nil || len(split.Val)+len(split.Train) != 64 || len(split.Val) < 12 || len(split.Val) > 18 {
		t.Fatalf("split %+v (%v), want about 16 of 64 held out", split, err)
	}
	raw, err := os.ReadFile(filepath.Join(run, "metrics.jsonl"))
	if err != nil || !strings.Contains(string(raw), `"val_acc"`) {
		t.Fatalf("metrics %s (%v) have no validation accuracy", raw, err)
	}
	bad := append([]string{"finetune", "--backbone", bb, "--out", filepath.Join(dir, "bad"), "--val", "1"}, tinyTrain...)
	if code, _, errOut := runCLI(bad...); code == 0 || !strings.Contains(errOut, "validation fraction") {
		t.Fatalf("--val 1: exit %d, %s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "bad")); err == nil {
		t.Error("a refused run left its directory")
	}
}

// TestModeForAMethodWithout: --mode with a method that has no modes is a usage error,
// not silently ignored; a mode a method lacks names the ones it has.
func TestModeForAMethodWithout(t *testing.T) {
	dir := t.TempDir()
	bb := tinyBackbone(t, dir, 1)
	code, _, errOut := runCLI(append([]string{"finetune", "--backbone", bb, "--out", filepath.Join(dir, "a"), "--method", "idpt", "--mode", "faithful"}, tinyTrain...)...)
	if code != 2 || !strings.Contains(errOut, "idpt has no modes") {
		t.Fatalf("idpt --mode faithful: exit %d, %s", code, errOut)
	}
	code, _, errOut = runCLI(append([]string{"finetune", "--backbone", bb, "--out", filepath.Join(dir, "b"), "--method", "pointlora", "--mode", "magic"}, tinyTrain...)...)
	if code == 0 || !strings.Contains(errOut, "fixed faithful") {
		t.Fatalf("pointlora --mode magic: exit %d, %s", code, errOut)
	}
}
