package idpt

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/pointpeft/pointpeft/checkpoint"
	"github.com/pointpeft/pointpeft/internal/oracletest"
	"github.com/pointpeft/pointpeft/model"
	"github.com/pointpeft/pointpeft/nn"
)

// fixtures is testdata/oracle seen from this package (tools/oracle/idpt.py writes it).
const fixtures = "../../testdata/oracle/"

// oracleIDPT builds the oracle's reduced IDPT model (3 blocks of width 36, prompt
// before block 1, k=4) and loads the authors'-layout state dict, aliases included.
func oracleIDPT(t *testing.T, train bool) (*Model, *checkpoint.StateDict) {
	t.Helper()
	fx, err := checkpoint.ReadSafetensors(fixtures + "idpt.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	bcfg := oracletest.BackboneConfig(t, fx.Meta["config"])
	if train { // the oracle's train-mode pass has every dropout and drop path at 0
		bcfg.DropPath, bcfg.HeadDropout = 0, 0
	}
	var cfg Config
	if cfg.PromptLayer, err = strconv.Atoi(fx.Meta["prompt_layer"]); err != nil {
		t.Fatal(err)
	}
	if cfg.K, err = strconv.Atoi(fx.Meta["k"]); err != nil {
		t.Fatal(err)
	}
	sd, err := checkpoint.ReadPTH(fixtures+"idpt.pth", "base_model")
	if err != nil {
		t.Fatal(err)
	}
	return loadIDPT(t, bcfg, cfg, sd), fx
}

// loadIDPT builds IDPT on a backbone of bcfg, loads the authors'-layout state dict sd
// (every tensor, nothing more) and selects the authors' trainable set.
func loadIDPT(t *testing.T, bcfg model.Config, cfg Config, sd *checkpoint.StateDict) *Model {
	t.Helper()
	rng := rand.New(rand.NewPCG(3, 3))
	bb, err := model.New(bcfg, rng)
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(bb, cfg, rng)
	if err != nil {
		t.Fatal(err)
	}
	if err := FoldAliases(sd); err != nil {
		t.Fatal(err)
	}
	rep, err := nn.LoadState(m, sd)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Missing)+len(rep.Unexpected) > 0 {
		t.Fatalf("missing %v unexpected %v", rep.Missing, rep.Unexpected)
	}
	for _, p := range m.Params() {
		p.SetTrainable(Trains(p.Name()))
	}
	return m
}

func TestOracleEval(t *testing.T) {
	m, fx := oracleIDPT(t, false)
	pts := fx.Tensors["points"]
	oracletest.EvalLogits(t, m, pts, fx.Tensors["eval.logits"].F32, 1e-4)
}

// TestOracleTrainGradients compares one training step (batch statistics everywhere,
// the prompt module's dynamic graphs included) with the oracle's, with the blocks'
// activations kept and recomputed.
func TestOracleTrainGradients(t *testing.T) {
	for _, recompute := range []nn.Recompute{nn.RecomputeNone, nn.RecomputeMLP, nn.RecomputeAll} {
		t.Run("recompute="+recompute.String(), func(t *testing.T) {
			m, fx := oracleIDPT(t, true)
			n := oracletest.TrainStep(t, m, fx.Tensors["points"], oracletest.Labels(fx), fx, recompute, 1e-4, nil)
			// cls_token, cls_pos; 4 conv weights and 4 BatchNorms of the prompt module; the head.
			if n != 24 {
				t.Fatalf("%d gradients compared, want 24", n)
			}
		})
	}
}

func TestFoldAliases(t *testing.T) {
	sd, err := checkpoint.ReadPTH(fixtures+"idpt.pth", "base_model")
	if err != nil {
		t.Fatal(err)
	}
	n := len(sd.Keys)
	if err := FoldAliases(sd); err != nil {
		t.Fatal(err)
	}
	// 4 BatchNorms × (weight, bias, running_mean, running_var, num_batches_tracked).
	if len(sd.Keys) != n-20 {
		t.Fatalf("%d keys after folding, want %d", len(sd.Keys), n-20)
	}
	for _, k := range sd.Keys {
		if strings.Contains(k, ".conv1.1.") || strings.Contains(k, ".conv5.1.") {
			t.Fatalf("alias %s left", k)
		}
	}

	sd, _ = checkpoint.ReadPTH(fixtures+"idpt.pth", "base_model")
	sd.Tensors["blocks.cls.conv2.1.bias"].F32[0] += 1
	if err := FoldAliases(sd); err == nil || !strings.Contains(err.Error(), "blocks.cls.conv2.1.bias") {
		t.Fatalf("a disagreeing alias: err = %v", err)
	}
}

func TestNewRefusesBadConfigs(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	small := model.Config{Arch: "point-mae", TransDim: 12, Depth: 2, Heads: 2, MLPRatio: 2, EncoderDims: 12,
		NumGroup: 8, GroupSize: 4, Classes: 3, EncoderHidden: [3]int{4, 4, 4}, PosHidden: 4, HeadHidden: 4}
	bert := small
	bert.Arch, bert.EncoderDims = "point-bert", 8
	for _, tc := range []struct {
		bb   model.Config
		cfg  Config
		want string
	}{
		{small, Config{PromptLayer: 2, K: 4}, "prompt layer 2 outside the backbone's 2 blocks"},
		{small, Config{PromptLayer: -1, K: 4}, "prompt layer -1"},
		{small, Config{PromptLayer: 1, K: 9}, "k=9 neighbours, but the backbone has 8 groups"},
		{bert, Config{PromptLayer: 1, K: 4}, "not point-bert"},
	} {
		bb, err := model.New(tc.bb, rng)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := New(bb, tc.cfg, rng); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: err = %v, want %q", tc.cfg, err, tc.want)
		}
	}
	bb, _ := model.New(small, rng)
	m, err := New(bb, Config{PromptLayer: 1, K: 4}, rng)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Forward(&nn.Ctx{}, make([]float32, 2*6*3), 2, 6); err == nil {
		t.Error("6 points per cloud for 8 groups: no error")
	}
}
