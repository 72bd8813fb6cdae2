package main

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pointpeft/pointpeft/model"
	"github.com/pointpeft/pointpeft/pcio"
	"github.com/pointpeft/pointpeft/predict"
	"github.com/pointpeft/pointpeft/train"
)

// tinyBackbone writes a small randomly initialised pre-trained backbone file, as
// `pointpeft pretrain` would, and returns its path.
func tinyBackbone(t *testing.T, dir string, seed uint64) string {
	t.Helper()
	c := model.PointMAEPretrainConfig()
	c.TransDim, c.EncoderDims, c.Depth, c.NumGroup, c.GroupSize = 36, 36, 2, 16, 16
	c.EncoderHidden, c.PosHidden = [3]int{16, 32, 64}, 32
	mae := model.DefaultMAEConfig()
	mae.DecoderDepth = 1
	m, err := model.NewPointMAEPretrain(c, mae, rand.New(rand.NewPCG(seed, 1)))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "backbone.safetensors")
	if err := train.ExportBackbone(m, path, false); err != nil {
		t.Fatal(err)
	}
	return path
}

func runCLI(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

var tinyTrain = []string{"--data", "shapes:64:28", "--points", "256", "--groups", "16", "--group-size", "16",
	"--epochs", "1", "--warmup", "0", "--batch", "16", "--prompts", "4", "-v=false"}

// TestFinetuneEvalPredictEndToEnd runs the commands a user chains: finetune, info,
// eval, bank, predict (text, JSON and logits), on the procedural shapes.
func TestFinetuneEvalPredictEndToEnd(t *testing.T) {
	dir := t.TempDir()
	bb := tinyBackbone(t, dir, 1)
	run := filepath.Join(dir, "run")
	args := append([]string{"finetune", "--backbone", bb, "--out", run, "--method", "point-peft"}, tinyTrain...)
	code, out, errOut := runCLI(args...)
	if code != 0 {
		t.Fatalf("finetune exited %d: %s", code, errOut)
	}
	if !strings.Contains(out, "best test accuracy") {
		t.Fatalf("finetune output %q", out)
	}
	for _, f := range []string{"config.yaml", "metrics.jsonl", "train_curves.png", "confusion.png", "last.safetensors", "best.safetensors", "adapter.safetensors"} {
		if _, err := os.Stat(filepath.Join(run, f)); err != nil {
			t.Errorf("run file: %v", err)
		}
	}
	if code, out, errOut = runCLI("info", filepath.Join(run, "adapter.safetensors")); code != 0 || !strings.Contains(out, "prompt_cor") {
		t.Errorf("info exited %d: %s %s", code, out, errOut)
	}
	if code, out, errOut = runCLI("eval", "--checkpoint", filepath.Join(run, "best.safetensors"), "--data", "shapes:64:28", "--points", "256"); code != 0 || !strings.Contains(out, "overall accuracy") {
		t.Errorf("eval exited %d: %s %s", code, out, errOut)
	}
	// The adapter alone with its backbone gives the same model.
	_, out2, _ := runCLI("eval", "--checkpoint", filepath.Join(run, "adapter.safetensors"), "--backbone", bb, "--data", "shapes:64:28", "--points", "256")
	if out2 == "" || strings.Fields(out)[len(strings.Fields(out))-1] != strings.Fields(out2)[len(strings.Fields(out2))-1] {
		t.Errorf("adapter+backbone eval %q differs from checkpoint eval %q", out2, out)
	}
	bank := filepath.Join(dir, "bank.safetensors")
	if code, _, errOut = runCLI("bank", "--backbone", bb, "--data", "shapes:64:28", "--points", "256", "--prior-groups", "16", "--prior-group-size", "16", "--out", bank); code != 0 {
		t.Errorf("bank exited %d: %s", code, errOut)
	}
	cloud := filepath.Join(dir, "cloud.npy")
	pts := make([]float32, 300*3)
	rng := rand.New(rand.NewPCG(2, 2))
	for i := range pts {
		pts[i] = float32(rng.NormFloat64())
	}
	if err := pcio.WriteNPY(cloud, pts, []int{300, 3}); err != nil {
		t.Fatal(err)
	}
	logits := filepath.Join(dir, "logits.npy")
	code, out, errOut = runCLI("predict", "--checkpoint", filepath.Join(run, "best.safetensors"), "--points", "256", "--json", "--logits", logits, cloud, cloud)
	if code != 0 {
		t.Fatalf("predict exited %d: %s", code, errOut)
	}
	var preds []predict.Prediction
	if err := json.Unmarshal([]byte(out), &preds); err != nil || len(preds) != 2 || len(preds[0].Top) != 5 {
		t.Fatalf("predict JSON %q: %v", out, err)
	}
	// Same file, same answer (up to GEMM rounding, which depends on a row's place in the batch).
	if preds[0].Class != preds[1].Class || math.Abs(float64(preds[0].Prob-preds[1].Prob)) > 1e-5 {
		t.Errorf("the same file got two answers: %+v", preds)
	}
	if _, shape, err := pcio.ReadNPY(logits); err != nil || shape[0] != 2 || shape[1] != 14 {
		t.Errorf("logits file: shape %v, %v", shape, err)
	}
}

// TestBadInputFailsCleanly: each mistake exits non-zero with a message that names the
// problem, and leaves no output behind.
func TestBadInputFailsCleanly(t *testing.T) {
	dir := t.TempDir()
	bb := tinyBackbone(t, dir, 1)
	other := tinyBackbone(t, t.TempDir(), 2)
	notCkpt := filepath.Join(dir, "junk.pth")
	os.WriteFile(notCkpt, []byte("this is not a checkpoint"), 0o644)

	out := filepath.Join(dir, "never")
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"missing data", append([]string{"finetune", "--backbone", bb, "--out", out, "--data", filepath.Join(dir, "nope")}, tinyTrain[2:]...), "nope"},
		{"not a checkpoint", append([]string{"finetune", "--backbone", notCkpt, "--out", out}, tinyTrain...), "junk.pth"},
		{"unknown method", append([]string{"finetune", "--backbone", bb, "--out", out, "--method", "magic"}, tinyTrain...), "magic"},
		{"backbone without head", []string{"predict", "--checkpoint", bb, "--logits", filepath.Join(dir, "l.npy"), notCkpt}, "pre-trained backbone"},
	}
	for _, c := range cases {
		code, _, errOut := runCLI(c.args...)
		if code == 0 {
			t.Errorf("%s: exit 0", c.name)
		}
		if !strings.Contains(errOut, c.want) {
			t.Errorf("%s: message %q does not mention %q", c.name, errOut, c.want)
		}
	}
	if _, err := os.Stat(out); err == nil {
		entries, _ := os.ReadDir(out)
		for _, e := range entries {
			if strings.HasSuffix(e.Name(), ".safetensors") {
				t.Errorf("a failed run left %s", e.Name())
			}
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "l.npy")); err == nil {
		t.Error("a failed predict wrote its logits file")
	}

	// An adapter trained on one backbone is refused on another, naming both.
	run := filepath.Join(dir, "run")
	args := append([]string{"finetune", "--backbone", bb, "--out", run, "--method", "bitfit"}, tinyTrain...)
	if code, _, errOut := runCLI(args...); code != 0 {
		t.Fatalf("finetune: %s", errOut)
	}
	code, _, errOut := runCLI("predict", "--checkpoint", filepath.Join(run, "best.safetensors"), "--logits", filepath.Join(dir, "l.npy"),
		filepath.Join(dir, "missing.ply"))
	if code == 0 || !strings.Contains(errOut, "missing.ply") {
		t.Errorf("unreadable predict input: exit %d, %q", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "l.npy")); err == nil {
		t.Error("a failed predict wrote its logits file")
	}
	code, _, errOut = runCLI("eval", "--checkpoint", filepath.Join(run, "adapter.safetensors"), "--backbone", other, "--data", "shapes:64:28", "--points", "256")
	if code == 0 || !strings.Contains(errOut, "trained on backbone") {
		t.Errorf("adapter on another backbone: exit %d, %q", code, errOut)
	}
}

// TestDemoReachesTable runs the main job on a small slice of its data with the shipped
// backbone.
func TestDemoReachesTable(t *testing.T) {
	out := t.TempDir()
	code, stdout, stderr := runCLI("demo", "--out", out, "--data", "shapes:64:32", "--points", "256", "--epochs", "1")
	if code != 0 {
		t.Fatalf("demo exited %d: %s", code, stderr)
	}
	for _, want := range []string{"method", "point-peft", "linear", "test acc", "trainable params"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("demo output lacks %q:\n%s", want, stdout)
		}
	}
	for _, f := range []string{"test_shapes.png", "point-peft/train_curves.png", "linear/confusion.png", "point-peft/adapter.safetensors"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
}

// TestPeerMethodsEndToEnd: each registered peer method fine-tunes, saves an adapter,
// evaluates from it with its backbone and predicts; its adapter on another backbone is
// refused with both backbones named.
func TestPeerMethodsEndToEnd(t *testing.T) {
	dir := t.TempDir()
	bb := tinyBackbone(t, dir, 1)
	other := tinyBackbone(t, t.TempDir(), 2)
	cloud := filepath.Join(dir, "cloud.npy")
	pts := make([]float32, 256*3)
	rng := rand.New(rand.NewPCG(3, 3))
	for i := range pts {
		pts[i] = float32(rng.NormFloat64())
	}
	if err := pcio.WriteNPY(cloud, pts, []int{256, 3}); err != nil {
		t.Fatal(err)
	}
	for _, method := range []string{"pointlora", "pointgst", "idpt", "dapt"} {
		t.Run(method, func(t *testing.T) {
			run := filepath.Join(dir, method)
			// PointGST's local graphs take 32 tokens: 32 groups of 16.
			args := []string{"finetune", "--backbone", bb, "--out", run, "--method", method, "--data", "shapes:64:28", "--points", "256",
				"--groups", "32", "--group-size", "16", "--epochs", "1", "--warmup", "0", "--batch", "16", "-v=false"}
			if code, out, errOut := runCLI(args...); code != 0 || !strings.Contains(out, "best test accuracy") {
				t.Fatalf("finetune exited %d: %s %s", code, out, errOut)
			}
			adapter := filepath.Join(run, "adapter.safetensors")
			code, out, errOut := runCLI("eval", "--checkpoint", adapter, "--backbone", bb, "--data", "shapes:64:28", "--points", "256")
			if code != 0 || !strings.Contains(out, "overall accuracy") {
				t.Fatalf("eval of the adapter exited %d: %s %s", code, out, errOut)
			}
			if code, out, errOut = runCLI("predict", "--checkpoint", adapter, "--backbone", bb, "--points", "256", cloud); code != 0 {
				t.Fatalf("predict exited %d: %s %s", code, out, errOut)
			}
			code, _, errOut = runCLI("predict", "--checkpoint", adapter, "--backbone", other, "--points", "256", cloud)
			if code == 0 || !strings.Contains(errOut, "trained on backbone") || !strings.Contains(errOut, other) {
				t.Fatalf("adapter on another backbone: exit %d, %s", code, errOut)
			}
		})
	}
}

// TestAdapterEqualsFullCheckpoint: an adapter file with the backbone it was trained on is
// the same model as the run's full checkpoint, logit for logit — BatchNorm statistics
// that training changed (the head's, the frozen encoder's) and parameters a method adds
// without training them go into the adapter too.
func TestAdapterEqualsFullCheckpoint(t *testing.T) {
	dir := t.TempDir()
	bb := tinyBackbone(t, dir, 1)
	cloud := filepath.Join(dir, "cloud.npy")
	pts := make([]float32, 256*3)
	rng := rand.New(rand.NewPCG(4, 4))
	for i := range pts {
		pts[i] = float32(rng.NormFloat64())
	}
	if err := pcio.WriteNPY(cloud, pts, []int{256, 3}); err != nil {
		t.Fatal(err)
	}
	for _, method := range []string{"point-peft", "bitfit", "pointlora", "idpt", "dapt"} {
		run := filepath.Join(dir, method)
		args := []string{"finetune", "--backbone", bb, "--out", run, "--method", method, "--data", "shapes:64:28", "--points", "256",
			"--groups", "32", "--group-size", "16", "--epochs", "2", "--warmup", "0", "--batch", "16", "--prompts", "4", "-v=false"}
		if code, out, errOut := runCLI(args...); code != 0 {
			t.Fatalf("%s: finetune exited %d: %s %s", method, code, out, errOut)
		}
		logits := func(name string, extra ...string) []float32 {
			out := filepath.Join(dir, method+"-"+name+".npy")
			a := append([]string{"predict", "--checkpoint", filepath.Join(run, name), "--points", "256", "--logits", out}, extra...)
			if code, o, e := runCLI(append(a, cloud)...); code != 0 {
				t.Fatalf("%s: predict %s exited %d: %s %s", method, name, code, o, e)
			}
			v, _, err := pcio.ReadNPY(out)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
		full, ad := logits("best.safetensors"), logits("adapter.safetensors", "--backbone", bb)
		if !slices.Equal(full, ad) {
			t.Errorf("%s: adapter + backbone logits %v, full checkpoint %v", method, ad, full)
		}
	}
}
