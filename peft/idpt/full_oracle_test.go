package idpt

import (
	"math/rand/v2"
	"testing"

	"github.com/pointpeft/pointpeft/checkpoint"
	"github.com/pointpeft/pointpeft/internal/oracletest"
	"github.com/pointpeft/pointpeft/model"
	"github.com/pointpeft/pointpeft/nn"
	"github.com/pointpeft/pointpeft/tensor"
)

// illConditioned is the gradient that TestOracleFullSize compares at 3e-3.
const illConditioned = "blocks.cls.conv2.0.weight"

// TestOracleFullSize compares the full PB_T50_RS model (12×384, 2048 points, 128×32
// groups, prompt before block 11, k=20; the authors' initialisation) with the oracle's
// outputs, written by
//
//	/usr/bin/python3 tools/oracle/idpt.py --full DIR
//
// and found through POINTPEFT_IDPT_ORACLE_FULL=DIR (about 100 MB, so not committed;
// skipped without it). Logits agree within 1e-4 and 23 of the 24 trainable gradients
// within 1e-3. The exception is illConditioned: the oracle's own float32 and float64
// runs of the same model differ there by 2.4e-3 (all its other gradients by at most
// 3e-4), and ours differs from its float32 run by as much, so it gets 3e-3.
func TestOracleFullSize(t *testing.T) {
	dir := oracletest.FullDir(t, "POINTPEFT_IDPT_ORACLE_FULL")
	fx, err := checkpoint.ReadSafetensors(dir + "idpt_full.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	sd, err := checkpoint.ReadPTH(dir+"/idpt_full.pth", "base_model")
	if err != nil {
		t.Fatal(err)
	}
	build := func(train bool) *Model { // LoadState copies: sd serves both models
		bc := model.PointMAE(15, 128, 32)
		if train {
			bc.DropPath, bc.HeadDropout = 0, 0
		}
		return loadIDPT(t, bc, ScanObjectNN(), sd)
	}
	pts := fx.Tensors["points"]
	b, n := pts.Shape[0], pts.Shape[1]

	m := build(false)
	var logits *tensor.Tensor
	tensor.NoGrad(func() { logits, err = m.Forward(&nn.Ctx{}, pts.F32, b, n) })
	if err != nil {
		t.Fatal(err)
	}
	oracletest.RelClose(t, "eval logits", logits.Data, fx.Tensors["eval.logits"].F32, 1e-4)

	m = build(true)
	logits, err = m.Forward(&nn.Ctx{Train: true, RNG: rand.New(rand.NewPCG(1, 1))}, pts.F32, b, n)
	if err != nil {
		t.Fatal(err)
	}
	oracletest.RelClose(t, "train logits", logits.Data, fx.Tensors["train.logits"].F32, 1e-4)
	loss := tensor.CrossEntropy(logits, oracletest.Labels(fx), 0)
	tensor.Backward(loss)
	var strict, loose []*tensor.Tensor
	for _, p := range m.Params() {
		if p.Name() == illConditioned {
			loose = append(loose, p)
		} else {
			strict = append(strict, p)
		}
	}
	got := oracletest.CompareGrads(t, strict, fx, nil, 1e-3) + oracletest.CompareGrads(t, loose, fx, nil, 3e-3)
	if got != 24 {
		t.Fatalf("%d gradients compared, want 24", got)
	}
}
