package pointgst

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/pointpeft/pointpeft/checkpoint"
	"github.com/pointpeft/pointpeft/internal/oracletest"
	"github.com/pointpeft/pointpeft/model"
	"github.com/pointpeft/pointpeft/nn"
)

// The fixtures are written by tools/oracle/make_pointgst_fixtures.py: a reduced model
// (width 36, 2 blocks, 16 groups of 8, rank 6, local graphs of 8) whose every weight is
// seeded, saved as the authors' fine-tuned checkpoint (DataParallel keys under
// "base_model"), and its outputs in both modes on three clouds of 256 points.

// dir is the fixture folder as seen from this package, one level deeper than
// oracletest.Dir's.
const dir = "../" + oracletest.Dir

func fixture(t *testing.T, name string) *checkpoint.StateDict {
	t.Helper()
	fx, err := checkpoint.ReadSafetensors(dir + name)
	if err != nil {
		t.Fatal(err)
	}
	return fx
}

// oracleModel loads the oracle's checkpoint into our model, as a user loads the
// authors' ckpt-best.pth.
func oracleModel(t *testing.T, mode Mode, train bool) (*Model, *checkpoint.StateDict) {
	t.Helper()
	fx := fixture(t, "pointgst_"+string(mode)+".safetensors")
	bcfg := oracletest.BackboneConfig(t, fx.Meta["config"])
	if train { // the oracle's train-mode pass has every dropout and drop path at 0
		bcfg.DropPath, bcfg.HeadDropout = 0, 0
	}
	rank, err1 := strconv.Atoi(fx.Meta["rank"])
	local, err2 := strconv.Atoi(fx.Meta["local"])
	if err1 != nil || err2 != nil || Mode(fx.Meta["mode"]) != mode {
		t.Fatalf("fixture metadata %v", fx.Meta)
	}
	rng := rand.New(rand.NewPCG(3, 3))
	bb, err := model.New(bcfg, rng)
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(bb, Config{Mode: mode, Rank: rank, Local: local}, rng)
	if err != nil {
		t.Fatal(err)
	}
	sd, err := checkpoint.ReadPTH(dir+"pointgst.pth", "base_model")
	if err != nil {
		t.Fatal(err)
	}
	loadAuthors(t, m, sd)
	return m, fx
}

// loadAuthors loads a checkpoint in the authors' layout into m, every key used, and
// applies their trainable filter.
func loadAuthors(t *testing.T, m *Model, sd *checkpoint.StateDict) {
	t.Helper()
	rep, err := nn.LoadState(m, checkpoint.MapPointMAEKeys(sd))
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Missing)+len(rep.Unexpected) > 0 {
		t.Fatalf("missing %v unexpected %v", rep.Missing, rep.Unexpected)
	}
	m.SetTrainable()
}

func TestOracleSpectra(t *testing.T) {
	common := fixture(t, "pointgst_common.safetensors")
	center := common.Tensors["center"]
	b, g := center.Shape[0], center.Shape[1]
	for _, mode := range []Mode{Faithful, Fixed} {
		t.Run(string(mode), func(t *testing.T) {
			fx := fixture(t, "pointgst_"+string(mode)+".safetensors")
			sp, err := NewSpectra(center.F32, b, g, 8, mode)
			if err != nil {
				t.Fatal(err)
			}
			for i, want := range common.Tensors["z_order"].I64 {
				if got := int64(sp.Order[i]) - int64(i/g*g); got != want {
					t.Fatalf("z-order position %d: token %d, oracle %d", i, got, want)
				}
			}
			oracletest.RelClose(t, "U", sp.U, fx.Tensors["eval.U"].F32, 1e-5)
			oracletest.RelClose(t, "sub_U", sp.SubU, fx.Tensors["eval.sub_U"].F32, 1e-5)
		})
	}
}

func TestOracleEval(t *testing.T) {
	for _, mode := range []Mode{Faithful, Fixed} {
		t.Run(string(mode), func(t *testing.T) {
			m, fx := oracleModel(t, mode, false)
			pts := fixture(t, "pointgst_common.safetensors").Tensors["points"]
			oracletest.EvalLogits(t, m, pts, fx.Tensors["eval.logits"].F32, 1e-4)
		})
	}
}

// TestOracleTrainGradients compares one training step (train-mode BatchNorm, no
// dropout) with the oracle's, with the Transformer's activations kept and recomputed.
func TestOracleTrainGradients(t *testing.T) {
	for _, mode := range []Mode{Faithful, Fixed} {
		for _, recompute := range []nn.Recompute{nn.RecomputeNone, nn.RecomputeMLP, nn.RecomputeAll} {
			t.Run(fmt.Sprintf("%s/recompute=%v", mode, recompute), func(t *testing.T) {
				m, fx := oracleModel(t, mode, true)
				common := fixture(t, "pointgst_common.safetensors")
				n := oracletest.TrainStep(t, m, common.Tensors["points"], oracletest.Labels(common), fx, recompute, 1e-4, nil)
				// 2 blocks × 10 adapter tensors, cls token and position, 10 head tensors.
				if n != 32 {
					t.Fatalf("%d gradients compared, want 32", n)
				}
			})
		}
	}
}
