package peft

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/pointpeft/pointpeft/checkpoint"
	"github.com/pointpeft/pointpeft/internal/oracletest"
	"github.com/pointpeft/pointpeft/model"
	"github.com/pointpeft/pointpeft/nn"
)

// oraclePEFT builds the oracle's reduced Point-PEFT model: the backbone from the
// official pre-training layout (which the prior encoder snapshots), then the authors'
// full state dict, the memory bank from the authors' raw [C, N] tensor file.
func oraclePEFT(t *testing.T, mode Mode, train bool) (*PointPEFT, *checkpoint.StateDict) {
	t.Helper()
	common := oracletest.Fixture(t, "pointpeft_common.safetensors")
	var raw struct {
		Base         json.RawMessage `json:"base"`
		NumTokens    int             `json:"num_tokens"`
		PromptLayers []int           `json:"prompt_layers"`
		AdapterDim   int             `json:"adapter_dim"`
		CPReduction  int             `json:"cp_reduction"`
		Attn1Dim     int             `json:"attn1_dim"`
	}
	if err := json.Unmarshal([]byte(common.Meta["config"]), &raw); err != nil {
		t.Fatal(err)
	}
	bcfg := oracletest.BackboneConfig(t, string(raw.Base))
	pcfg := oracletest.BackboneConfig(t, common.Meta["cp_config"])
	cfg := ScanObjectNN(mode)
	cfg.NumTokens, cfg.PromptLayers, cfg.AdapterDim, cfg.CPReduction, cfg.Attn1Dim =
		raw.NumTokens, raw.PromptLayers, raw.AdapterDim, raw.CPReduction, raw.Attn1Dim
	cfg.PriorGroups, cfg.PriorGroupSize = pcfg.NumGroup, pcfg.GroupSize
	if train { // the oracle's train-mode pass has every dropout and drop path at 0
		cfg.AdapterDropout, cfg.PromptDropout = 0, 0
		bcfg.DropPath, bcfg.HeadDropout = 0, 0
	}
	rng := rand.New(rand.NewPCG(5, 5))
	bb, err := model.New(bcfg, rng)
	if err != nil {
		t.Fatal(err)
	}
	pre, err := checkpoint.Load(oracletest.Dir + "pointmae_pretrain.pth")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nn.LoadState(bb, checkpoint.MapKeys(pre, checkpoint.DetectFormat(pre))); err != nil {
		t.Fatal(err)
	}
	m, err := New(bb, cfg, rng)
	if err != nil {
		t.Fatal(err)
	}
	sd, err := checkpoint.ReadPTH(oracletest.Dir+"pointpeft.pth", "base_model")
	if err != nil {
		t.Fatal(err)
	}
	rep, err := nn.LoadState(m, sd)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Missing)+len(rep.Unexpected) > 0 {
		t.Fatalf("missing %v unexpected %v", rep.Missing, rep.Unexpected)
	}
	if m.Bank, err = LoadBank(oracletest.Dir+"bank.pt", bcfg.TransDim, ""); err != nil {
		t.Fatal(err)
	}
	if err := SetTrainable(m.Params(), MethodPointPEFT); err != nil {
		t.Fatal(err)
	}
	return m, common
}

func TestOracleMemoryBankAndCachePrompt(t *testing.T) {
	m, common := oraclePEFT(t, Faithful, false)
	// The bank file is [C, N]; ours is [N, C].
	want := common.Tensors["bank"]
	c, n := want.Shape[0], want.Shape[1]
	for i := 0; i < c; i++ {
		for j := 0; j < n; j++ {
			if m.Bank.Features[j*c+i] != want.F32[i*n+j] {
				t.Fatalf("bank[%d,%d] differs", i, j)
			}
		}
	}
	pts := common.Tensors["points"]
	b, np := pts.Shape[0], pts.Shape[1]
	q, err := m.Prior.Feature(pts.F32, b, np)
	if err != nil {
		t.Fatal(err)
	}
	oracletest.RelClose(t, "prior feature", q, common.Tensors["cp_feat"].F32, 1e-4)
	cache, err := CachePrompt(common.Tensors["cp_feat"].F32, b, m.Bank, m.Cfg.K())
	if err != nil {
		t.Fatal(err)
	}
	oracletest.RelClose(t, "cache prompt", cache.Data, common.Tensors["cache_prompt"].F32, 1e-5)
}

func TestOracleEval(t *testing.T) {
	for _, mode := range []Mode{Faithful, Fixed} {
		t.Run(string(mode), func(t *testing.T) {
			m, common := oraclePEFT(t, mode, false)
			oracletest.InArena(func() {
				fx := oracletest.Fixture(t, "pointpeft_"+string(mode)+".safetensors")
				oracletest.EvalLogits(t, m, common.Tensors["points"], fx.Tensors["eval.logits"].F32, 1e-4)
			})
		})
	}
}

// TestOracleTrainGradients compares a training step with the oracle's, with the
// Transformer's activations kept and recomputed (each nn.Ctx.Recompute mode).
func TestOracleTrainGradients(t *testing.T) {
	for _, tc := range []struct {
		mode      Mode
		recompute nn.Recompute
	}{{Faithful, nn.RecomputeNone}, {Fixed, nn.RecomputeNone}, {Faithful, nn.RecomputeMLP}, {Fixed, nn.RecomputeAll}} {
		mode := tc.mode
		t.Run(fmt.Sprintf("%s/recompute=%v", mode, tc.recompute), func(t *testing.T) {
			m, common := oraclePEFT(t, mode, true)
			oracletest.InArena(func() {
				fx := oracletest.Fixture(t, "pointpeft_"+string(mode)+".safetensors")
				var none []string
				if err := json.Unmarshal([]byte(fx.Meta["grad_none"]), &none); err != nil {
					t.Fatal(err)
				}
				noneSet := map[string]bool{}
				for _, k := range none {
					noneSet[k] = true
				}
				// The oracle's own float32 train logits differ from its float64 ones by up to
				// 5.6e-5 (fixed mode: inverse-distance weights of near-coincident tokens amplify
				// rounding), so a tolerance of 1e-4 would test BLAS blocking, not the model.
				if n := oracletest.TrainStep(t, m, common.Tensors["points"], oracletest.Labels(common), fx, tc.recompute, 3e-4, noneSet); n < 80 {
					t.Fatalf("only %d gradients compared", n)
				}
				for _, p := range m.Params() {
					if strings.Contains(p.Name(), "qkv.weight") && p.RequiresGrad() && !strings.Contains(p.Name(), "attn1") {
						t.Errorf("%s is trainable", p.Name())
					}
				}
			})
		})
	}
}
