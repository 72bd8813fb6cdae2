package peft

import (
	"math/rand/v2"
	"testing"

	"github.com/pointpeft/pointpeft/checkpoint"
	"github.com/pointpeft/pointpeft/internal/oracletest"
	"github.com/pointpeft/pointpeft/model"
	"github.com/pointpeft/pointpeft/nn"
	"github.com/pointpeft/pointpeft/tensor"
)

// TestOracleFullSize compares the full PB_T50_RS models (12×384, 2048 points, 128×32
// groups, a 384×11392 bank) with the PyTorch oracle's full-size outputs, written by
//
//	/usr/bin/python3 tools/oracle/make_fixtures.py --full --batch 2 --out DIR
//
// and found through POINTPEFT_ORACLE_FULL=DIR (300 MB, so not committed; skipped
// without it). Tolerances are the spec's for the full model (App. B.3): 1e-3 relative
// on logits. Gradients: 5e-3 in fixed mode; 1e-2 in faithful mode, whose prompt layers
// weight coinciding tokens by 1/(d²+1e-8) ≈ 1e8 and mix rows across samples, so float32
// rounding differences between two correct implementations grow there (measured: at
// most 6.5e-3, in three prompt-layer tensors; all others below 5e-3).
func TestOracleFullSize(t *testing.T) {
	dir := oracletest.FullDir(t, "POINTPEFT_ORACLE_FULL")
	load := func(name string) *checkpoint.StateDict {
		sd, err := checkpoint.Load(dir + name)
		if err != nil {
			t.Fatal(err)
		}
		return sd
	}
	fx := func(name string) *checkpoint.StateDict {
		sd, err := checkpoint.ReadSafetensors(dir + name)
		if err != nil {
			t.Fatal(err)
		}
		return sd
	}
	pre := load("pretrain.pth")
	back := fx("full_backbone.safetensors")
	pts := back.Tensors["points"]
	b, n := pts.Shape[0], pts.Shape[1]

	// The Point-MAE classifier.
	cls, err := model.New(model.PointMAE(15, 128, 32), rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nn.LoadState(cls, checkpoint.MapKeys(load("finetune.pth"), "point-mae-finetuned")); err != nil {
		t.Fatal(err)
	}
	var logits *tensor.Tensor
	tensor.NoGrad(func() { logits, err = cls.Forward(&nn.Ctx{}, pts.F32, b, n) })
	if err != nil {
		t.Fatal(err)
	}
	oracletest.RelClose(t, "classifier eval logits", logits.Data, back.Tensors["eval.logits"].F32, 1e-3)

	for _, mode := range []Mode{Faithful, Fixed} {
		t.Run(string(mode), func(t *testing.T) {
			f := fx("full_pointpeft_" + string(mode) + ".safetensors")
			bcfg := model.PointMAE(15, 128, 32)
			bcfg.DropPath, bcfg.HeadDropout = 0, 0
			bb, err := model.New(bcfg, rand.New(rand.NewPCG(1, 1)))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := nn.LoadState(bb, checkpoint.MapKeys(pre, checkpoint.DetectFormat(pre))); err != nil {
				t.Fatal(err)
			}
			cfg := ScanObjectNN(mode)
			cfg.AdapterDropout, cfg.PromptDropout = 0, 0
			m, err := New(bb, cfg, rand.New(rand.NewPCG(1, 1)))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := nn.LoadState(m, load("pointpeft.pth")); err != nil {
				t.Fatal(err)
			}
			if m.Bank, err = LoadBank(dir+"bank.pt", 384, ""); err != nil {
				t.Fatal(err)
			}
			q, err := m.Prior.Feature(pts.F32, b, n)
			if err != nil {
				t.Fatal(err)
			}
			oracletest.RelClose(t, "prior feature", q, back.Tensors["cp_feat"].F32, 1e-3)
			var logits *tensor.Tensor
			tensor.NoGrad(func() { logits, err = m.Forward(&nn.Ctx{}, pts.F32, b, n) })
			if err != nil {
				t.Fatal(err)
			}
			oracletest.RelClose(t, "eval logits", logits.Data, f.Tensors["eval.logits"].F32, 1e-3)
			if err := SetTrainable(m.Params(), MethodPointPEFT); err != nil {
				t.Fatal(err)
			}
			logits, err = m.Forward(&nn.Ctx{Train: true, RNG: rand.New(rand.NewPCG(1, 1))}, pts.F32, b, n)
			if err != nil {
				t.Fatal(err)
			}
			oracletest.RelClose(t, "train logits", logits.Data, f.Tensors["train.logits"].F32, 1e-3)
			loss := tensor.CrossEntropy(logits, oracletest.Labels(back), 0)
			tensor.Backward(loss)
			// The oracle writes zeros for trainable parameters that get no gradient.
			none := map[string]bool{}
			for _, p := range m.Params() {
				ref, ok := f.Tensors["grad."+p.Name()]
				if !ok {
					continue
				}
				zero := true
				for _, v := range ref.F32 {
					zero = zero && v == 0
				}
				none[p.Name()] = zero
			}
			tol := 5e-3
			if mode == Faithful {
				tol = 1e-2
			}
			n := oracletest.CompareGrads(t, m.Params(), f, none, tol)
			t.Logf("%s: compared %d gradients", mode, n)
		})
	}
}
