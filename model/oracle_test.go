package model

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/pointpeft/pointpeft/checkpoint"
	"github.com/pointpeft/pointpeft/nn"
	"github.com/pointpeft/pointpeft/tensor"
)

const oracleDir = "../testdata/oracle/"

// oracleConfig reads the reduced configuration the oracle stored in the fixture's metadata.
func oracleConfig(t *testing.T, fx *checkpoint.StateDict) Config {
	t.Helper()
	var raw map[string]any
	if err := json.Unmarshal([]byte(fx.Meta["config"]), &raw); err != nil {
		t.Fatalf("fixture config: %v", err)
	}
	num := func(k string) int {
		v, ok := raw[k].(float64)
		if !ok {
			t.Fatalf("fixture config lacks %q: %v", k, raw)
		}
		return int(v)
	}
	cfg := Config{Arch: "point-mae", TransDim: num("trans_dim"), Depth: num("depth"), Heads: num("num_heads"),
		MLPRatio: 4, EncoderDims: num("trans_dim"), NumGroup: num("num_group"), GroupSize: num("group_size"),
		Classes: num("cls_dim"), DropPath: 0.1, HeadDropout: 0.5, PosHidden: num("pos_hidden"), HeadHidden: num("head_hidden")}
	if eh, ok := raw["enc_widths"].([]any); ok && len(eh) == 3 {
		cfg.EncoderHidden = [3]int{int(eh[0].(float64)), int(eh[1].(float64)), int(eh[2].(float64))}
	} else {
		t.Fatalf("fixture config lacks enc_widths: %v", raw)
	}
	return cfg
}

// relClose asserts max|got-want| ≤ tol·max|want| (with an absolute floor for all-zero refs).
func relClose(t *testing.T, what string, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	var md, mr float64
	for i := range got {
		md = math.Max(md, math.Abs(float64(got[i])-float64(want[i])))
		mr = math.Max(mr, math.Abs(float64(want[i])))
	}
	if md > tol*math.Max(mr, 1e-6) {
		t.Errorf("%s: max |diff| %.3g, max |ref| %.3g: relative %.3g > %.1g", what, md, mr, md/math.Max(mr, 1e-6), tol)
	}
}

func loadOracleBackbone(t *testing.T) (*PointTransformer, *checkpoint.StateDict) {
	t.Helper()
	fx, err := checkpoint.ReadSafetensors(oracleDir + "pointmae_finetune.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(oracleConfig(t, fx), rand.New(rand.NewPCG(9, 9)))
	if err != nil {
		t.Fatal(err)
	}
	sd, err := checkpoint.ReadPTH(oracleDir+"pointmae_finetune.pth", "base_model")
	if err != nil {
		t.Fatal(err)
	}
	rep, err := nn.LoadState(m, sd)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Missing) > 0 || len(rep.Unexpected) > 0 {
		t.Fatalf("missing %v, unexpected %v", rep.Missing, rep.Unexpected)
	}
	return m, fx
}

// TestOracleBackboneEval runs the Point-MAE classifier on the oracle's weights and
// inputs in eval mode and compares every stage with torch 1.13 (≤ 1e-4 relative).
func TestOracleBackboneEval(t *testing.T) {
	m, fx := loadOracleBackbone(t)
	pts := fx.Tensors["points"]
	b, n := pts.Shape[0], pts.Shape[1]
	ctx := &nn.Ctx{}
	g, err := m.Group(pts.F32, b, n)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range fx.Tensors["eval.center_idx"].I64 {
		if got := int64(g.CenterIdx[i]) - int64(i/g.G*n); got != want {
			t.Fatalf("FPS pick %d = %d, oracle %d", i, got, want)
		}
	}
	// kNN: the same index sets per group (order within equal distances aside).
	want := fx.Tensors["eval.knn_idx"].I64
	for r := 0; r < b*g.G; r++ {
		set := map[int64]bool{}
		for j := 0; j < g.M; j++ {
			set[want[r*g.M+j]] = true
		}
		for j := 0; j < g.M; j++ {
			if local := int64(g.Idx[r*g.M+j]) - int64(r/g.G*n); !set[local] {
				t.Fatalf("group %d: neighbour %d not in the oracle's set", r, local)
			}
		}
	}
	relClose(t, "center", g.Center, fx.Tensors["eval.center"].F32, 1e-6)
	var logits *tensor.Tensor
	tensor.NoGrad(func() {
		tok, pos := m.Embed(ctx, g)
		relClose(t, "tokens", tok.Data, fx.Tensors["eval.tokens"].F32, 1e-4)
		relClose(t, "pos", pos.Data, fx.Tensors["eval.pos"].F32, 1e-4)
		x, p := m.WithCls(tok, pos)
		for i, blk := range m.Blocks {
			x = blk.Forward(ctx, tensor.Add(x, p))
			relClose(t, "block "+string(rune('0'+i)), x.Data, fx.Tensors["eval.block."+string(rune('0'+i))].F32, 1e-4)
		}
		x = m.Norm.Forward(x)
		f := Pool(x)
		relClose(t, "features", f.Data, fx.Tensors["eval.features"].F32, 1e-4)
		logits = m.Head.Forward(ctx, f)
	})
	relClose(t, "logits", logits.Data, fx.Tensors["eval.logits"].F32, 1e-4)
	full, err := m.Forward(ctx, pts.F32, b, n)
	if err != nil {
		t.Fatal(err)
	}
	relClose(t, "Forward logits", full.Data, fx.Tensors["eval.logits"].F32, 1e-4)
}

// TestOracleBackboneTrain checks one training-mode step (BN batch statistics, dropout
// and drop path off): loss, the gradient of every parameter (≤ 1e-3 relative) and the
// BN running statistics after the step.
func TestOracleBackboneTrain(t *testing.T) {
	m, fx := loadOracleBackbone(t)
	m.Head.Dropout = 0
	for _, blk := range m.Blocks {
		blk.DropPath = 0
	}
	pts := fx.Tensors["points"]
	labels := make([]int, len(fx.Tensors["labels"].I64))
	for i, v := range fx.Tensors["labels"].I64 {
		labels[i] = int(v)
	}
	ctx := &nn.Ctx{Train: true, RNG: rand.New(rand.NewPCG(1, 1))}
	logits, err := m.Forward(ctx, pts.F32, pts.Shape[0], pts.Shape[1])
	if err != nil {
		t.Fatal(err)
	}
	relClose(t, "train logits", logits.Data, fx.Tensors["train.logits"].F32, 1e-4)
	loss := tensor.CrossEntropy(logits, labels, 0)
	relClose(t, "train loss", loss.Data, fx.Tensors["train.loss"].F32, 1e-5)
	tensor.Backward(loss)
	// Parameters whose exact gradient is zero (they only shift a train-mode BatchNorm's
	// input) hold rounding noise in the oracle: compare them against the largest
	// gradient of all instead of their own.
	var gmax float64
	for _, p := range m.Params() {
		for _, v := range fx.Tensors["grad."+p.Name()].F32 {
			gmax = math.Max(gmax, math.Abs(float64(v)))
		}
	}
	checked := 0
	for _, p := range m.Params() {
		ref, ok := fx.Tensors["grad."+p.Name()]
		if !ok {
			t.Fatalf("oracle has no gradient for %s", p.Name())
		}
		if p.Grad == nil {
			t.Fatalf("%s got no gradient", p.Name())
		}
		var rmax float64
		for _, v := range ref.F32 {
			rmax = math.Max(rmax, math.Abs(float64(v)))
		}
		if rmax < 1e-5*gmax {
			relClose(t, "grad "+p.Name()+" (structurally zero)", p.Grad, ref.F32, 1e-4*gmax/math.Max(rmax, 1e-30))
		} else {
			relClose(t, "grad "+p.Name(), p.Grad, ref.F32, 1e-3)
		}
		checked++
	}
	if checked < 50 {
		t.Fatalf("only %d gradients compared", checked)
	}
	for _, buf := range m.Buffers() {
		ref, ok := fx.Tensors["bn_after."+buf.Name]
		if !ok {
			t.Fatalf("oracle has no %s", buf.Name)
		}
		if buf.Count != nil {
			if *buf.Count != ref.I64[0] {
				t.Errorf("%s = %d, oracle %d", buf.Name, *buf.Count, ref.I64[0])
			}
			continue
		}
		relClose(t, buf.Name, buf.Data, ref.F32, 1e-4)
	}
}

// TestLoadOfficialPretrainLayout maps the official pre-training layout (module. and
// MAE_encoder. prefixes, decoder keys) onto the classifier, as the authors' loader does.
func TestLoadOfficialPretrainLayout(t *testing.T) {
	fx, err := checkpoint.ReadSafetensors(oracleDir + "pointmae_finetune.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	cfg := oracleConfig(t, fx)
	cfg.Depth = 4
	m, err := New(cfg, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	sd, err := checkpoint.Load(oracleDir + "pointmae_pretrain.pth")
	if err != nil {
		t.Fatal(err)
	}
	if f := checkpoint.DetectFormat(sd); f != "point-mae-pretrain" {
		t.Fatalf("format %q", f)
	}
	rep, err := nn.LoadState(m, checkpoint.MapKeys(sd, "point-mae-pretrain"))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range rep.Missing {
		if !strings.HasPrefix(k, "cls_") {
			t.Errorf("missing %s", k)
		}
	}
	for _, k := range rep.Unexpected {
		if !strings.Contains(k, "decoder") && k != "mask_token" && !strings.HasPrefix(k, "increase_dim") {
			t.Errorf("unexpected %s", k)
		}
	}
	if len(rep.Loaded) < 40 {
		t.Fatalf("only %d tensors loaded", len(rep.Loaded))
	}
	// A model of another width must be refused with the key named.
	cfg.TransDim, cfg.EncoderDims = 48, 48
	other, _ := New(cfg, rand.New(rand.NewPCG(1, 1)))
	if _, err := nn.LoadState(other, checkpoint.MapKeys(sd, "point-mae-pretrain")); err == nil || !strings.Contains(err.Error(), "norm.weight") {
		t.Fatalf("wrong-width load: %v", err)
	}
}
