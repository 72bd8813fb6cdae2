package pointlora

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/pointpeft/pointpeft/checkpoint"
	"github.com/pointpeft/pointpeft/geom"
	"github.com/pointpeft/pointpeft/internal/oracletest"
	"github.com/pointpeft/pointpeft/model"
	"github.com/pointpeft/pointpeft/nn"
	"github.com/pointpeft/pointpeft/tensor"
)

// fixtures is testdata/oracle seen from this package (oracletest.Dir is one level up).
const fixtures = "../" + oracletest.Dir

// oracleModel builds the oracle's reduced PointLoRA (tools/oracle/pointlora.py) in mode
// and loads the authors'-layout state dict it saved (pointlora.pth, strict: nothing
// missing, nothing unexpected).
func oracleModel(t *testing.T, mode Mode, train bool) (*Model, *checkpoint.StateDict) {
	t.Helper()
	fx, err := checkpoint.ReadSafetensors(fixtures + "pointlora_" + string(mode) + ".safetensors")
	if err != nil {
		t.Fatal(err)
	}
	var raw struct {
		Base             json.RawMessage `json:"base"`
		Rank             int             `json:"rank"`
		Alpha            float32         `json:"alpha"`
		PromptHidden     int             `json:"prompt_hidden"`
		Scales           [2][3]int       `json:"scales"`
		ScaleLossWeights [2]float32      `json:"scale_loss_weights"`
		MaskLossWeight   float32         `json:"mask_loss_weight"`
		PromptTokens     int             `json:"prompt_tokens"`
		Mode             Mode            `json:"mode"`
	}
	if err := json.Unmarshal([]byte(fx.Meta["config"]), &raw); err != nil {
		t.Fatal(err)
	}
	if raw.Mode != mode {
		t.Fatalf("fixture mode %q, want %q", raw.Mode, mode)
	}
	bcfg := oracletest.BackboneConfig(t, string(raw.Base))
	if train { // the oracle's train-mode pass has every dropout and drop path at 0
		bcfg.DropPath, bcfg.HeadDropout = 0, 0
	}
	cfg := Config{Mode: mode, Rank: raw.Rank, Alpha: raw.Alpha, PromptHidden: raw.PromptHidden,
		ScaleLossWeights: raw.ScaleLossWeights, MaskLossWeight: raw.MaskLossWeight, PromptTokens: raw.PromptTokens}
	for i, s := range raw.Scales {
		cfg.Scales[i] = Scale{Groups: s[0], GroupSize: s[1], Keep: s[2]}
	}
	return loadModel(t, bcfg, cfg, fixtures+"pointlora.pth"), fx
}

// loadModel builds a PointLoRA of cfg on a backbone of bcfg and loads the authors'-
// layout state dict of the .pth file into it (nothing missing, nothing unexpected),
// with the authors' trainable set.
func loadModel(t *testing.T, bcfg model.Config, cfg Config, pth string) *Model {
	t.Helper()
	rng := rand.New(rand.NewPCG(5, 5))
	bb, err := model.New(bcfg, rng)
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(bb, cfg, rng)
	if err != nil {
		t.Fatal(err)
	}
	sd, err := checkpoint.ReadPTH(pth, "base_model")
	if err != nil {
		t.Fatal(err)
	}
	loadStrict(t, m, sd)
	m.SetTrainable()
	return m
}

func loadStrict(t *testing.T, m *Model, sd *checkpoint.StateDict) {
	t.Helper()
	rep, err := nn.LoadState(m, sd)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Missing)+len(rep.Unexpected) > 0 {
		t.Fatalf("missing %v unexpected %v", rep.Missing, rep.Unexpected)
	}
}

func TestOracleEval(t *testing.T) {
	for _, mode := range []Mode{Faithful, Fixed} {
		t.Run(string(mode), func(t *testing.T) {
			m, fx := oracleModel(t, mode, false)
			pts := fx.Tensors["points"]
			oracletest.EvalLogits(t, m, pts, fx.Tensors["eval.logits"].F32, 1e-4)
		})
	}
}

// TestOracleSelection checks the mask probabilities and the selected tokens of both
// scales.
func TestOracleSelection(t *testing.T) {
	m, fx := oracleModel(t, Faithful, false)
	pts := fx.Tensors["points"]
	b, n := pts.Shape[0], pts.Shape[1]
	tensor.NoGrad(func() {
		for i, s := range m.Cfg.Scales {
			g, err := geom.Group(pts.F32, b, n, s.Groups, s.GroupSize)
			if err != nil {
				t.Fatal(err)
			}
			tok, _ := m.Backbone.Embed(&nn.Ctx{}, g)
			prob := m.MaskPredictor.Forward(tok)
			key := []string{"1", "2"}[i]
			oracletest.RelClose(t, "mask probabilities "+key, prob.Data, fx.Tensors["eval.mask_prob"+key].F32, 1e-5)
			idx := selectTop(prob, s.Keep)
			for j, want := range fx.Tensors["eval.selected"+key].I64 {
				if got := int64(idx[j]) - int64(j/s.Keep*s.Groups); got != want {
					t.Fatalf("scale %s: selected %v, oracle %v", key, idx, fx.Tensors["eval.selected"+key].I64)
				}
			}
		}
	})
}

// TestOracleTrainGradients compares a training step (cross-entropy plus 0.004 × the
// mask loss) with the oracle's: logits, loss, the gradient of every trainable
// parameter, and the BatchNorm statistics after the encoder's three passes.
func TestOracleTrainGradients(t *testing.T) {
	for _, tc := range []struct {
		mode   Mode
		step   bool // inside a training loop's tensor.Arena step
		recomp nn.Recompute
	}{{Faithful, false, nn.RecomputeNone}, {Fixed, false, nn.RecomputeMLP}, {Faithful, true, nn.RecomputeAll}} {
		t.Run(fmt.Sprintf("%s/arena=%v/recompute=%v", tc.mode, tc.step, tc.recomp), func(t *testing.T) {
			m, fx := oracleModel(t, tc.mode, true)
			pts := fx.Tensors["points"]
			ctx := &nn.Ctx{Train: true, RNG: rand.New(rand.NewPCG(1, 1)), Recompute: tc.recomp}
			step := func() {
				logits, err := m.Forward(ctx, pts.F32, pts.Shape[0], pts.Shape[1])
				if err != nil {
					t.Fatal(err)
				}
				oracletest.RelClose(t, "train logits", logits.Data, fx.Tensors["train.logits"].F32, 1e-4)
				loss := tensor.CrossEntropy(logits, oracletest.Labels(fx), 0)
				oracletest.RelClose(t, "train loss", loss.Data, fx.Tensors["train.loss"].F32, 1e-4)
				tensor.Backward(loss)
			}
			if tc.step {
				arena := tensor.NewArena()
				defer arena.Close()
				arena.Step(step)
			} else {
				step()
			}
			// A bias right before a train-mode BatchNorm has a gradient of exactly zero
			// in theory; both sides hold rounding noise there, so those are checked
			// against the largest gradient of all.
			var params []*tensor.Tensor
			var gmax float64
			for _, p := range m.Params() {
				if p.RequiresGrad() {
					gmax = max(gmax, maxAbs(p.Grad))
				}
			}
			for _, p := range m.Params() {
				switch p.Name() {
				case "encoder.first_conv.0.bias", "encoder.first_conv.3.bias", "cls_head_finetune.0.bias", "cls_head_finetune.4.bias":
					if g, r := maxAbs(p.Grad), maxAbs(fx.Tensors["grad."+p.Name()].F32); max(g, r) > 1e-4*gmax {
						t.Errorf("%s: gradient %.3g, oracle %.3g, want both ≈ 0 (largest gradient %.3g)", p.Name(), g, r, gmax)
					}
				default:
					params = append(params, p)
				}
			}
			if n := oracletest.CompareGrads(t, params, fx, nil, 1e-3); n != 46 {
				t.Errorf("compared %d gradients, want 46", n)
			}
			oracletest.CompareBuffers(t, m.Buffers(), fx, 1e-4)
		})
	}
}

// TestAuthorsCheckpointLoads loads the oracle's state dict as the authors' runner saves
// it (DataParallel's "module." prefix) through the repository's key mapping into a
// fresh model: every key lands, and the logits are the oracle's.
func TestAuthorsCheckpointLoads(t *testing.T) {
	m, fx := oracleModel(t, Faithful, false)
	sd, err := checkpoint.ReadPTH(fixtures+"pointlora.pth", "base_model")
	if err != nil {
		t.Fatal(err)
	}
	saved := checkpoint.NewStateDict()
	for _, k := range sd.Keys {
		saved.Set("module."+k, sd.Tensors[k])
	}
	fresh, err := New(m.Backbone, m.Cfg, rand.New(rand.NewPCG(9, 9)))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range fresh.Params() { // forget the loaded values
		clear(p.Data)
	}
	loadStrict(t, fresh, checkpoint.MapKeys(saved, checkpoint.DetectFormat(saved)))
	pts := fx.Tensors["points"]
	var logits *tensor.Tensor
	tensor.NoGrad(func() { logits, err = fresh.Forward(&nn.Ctx{}, pts.F32, pts.Shape[0], pts.Shape[1]) })
	if err != nil {
		t.Fatal(err)
	}
	oracletest.RelClose(t, "eval logits", logits.Data, fx.Tensors["eval.logits"].F32, 1e-4)
}
