package dapt

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	"github.com/pointpeft/pointpeft/checkpoint"
	"github.com/pointpeft/pointpeft/internal/oracletest"
	"github.com/pointpeft/pointpeft/model"
	"github.com/pointpeft/pointpeft/nn"
)

// fixtures is testdata/oracle seen from this package, one level below oracletest's.
const fixtures = "../" + oracletest.Dir

// oracleDAPT builds the reduced model of fixture dapt_<tag> (tools/oracle/dapt.py) and
// loads the oracle's state dict into it. With train set, every dropout and drop path is 0, as in the oracle's train pass.
func oracleDAPT(t *testing.T, tag string, train bool) (*Model, *checkpoint.StateDict) {
	t.Helper()
	fx, err := checkpoint.ReadSafetensors(fixtures + "dapt_" + tag + ".safetensors")
	if err != nil {
		t.Fatal(err)
	}
	bcfg := oracletest.BackboneConfig(t, fx.Meta["config"])
	rank, err := strconv.Atoi(fx.Meta["rank"])
	if err != nil {
		t.Fatal(err)
	}
	drop, err := strconv.ParseFloat(fx.Meta["drop_adapter_rate"], 32)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Rank: rank, AdapterDropout: float32(drop), DropPath: bcfg.DropPath, PromptToken: fx.Meta["prompt_token"]}
	if train {
		cfg.AdapterDropout, cfg.DropPath, bcfg.HeadDropout = 0, 0, 0
	}
	return loadAuthors(t, bcfg, cfg, fixtures+"dapt_"+tag+".pth"), fx
}

// loadAuthors builds a DAPT model on a new backbone and loads the authors' state dict
// from pth ({"base_model": ...}) into it: every tensor must fit, none be missing or left
// over.
func loadAuthors(t *testing.T, bcfg model.Config, cfg Config, pth string) *Model {
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
	sd, err := checkpoint.ReadPTH(pth, "base_model")
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
	return m
}

func TestOracleNamesAndTrainableSet(t *testing.T) {
	m, fx := oracleDAPT(t, "mean", false)
	var want []string
	if err := json.Unmarshal([]byte(fx.Meta["param_order"]), &want); err != nil {
		t.Fatal(err)
	}
	var got, trainable []string
	for _, p := range m.Params() {
		got = append(got, p.Name())
		if p.RequiresGrad() {
			trainable = append(trainable, p.Name())
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("parameter order differs from the authors' named_parameters:\n got %v\nwant %v", got, want)
	}
	var oracle []string // the oracle writes a gradient for every trainable parameter
	for _, k := range fx.Keys {
		if len(k) > 5 && k[:5] == "grad." {
			oracle = append(oracle, k[5:])
		}
	}
	if !slices.Equal(trainable, oracle) {
		t.Errorf("trainable set differs from the authors' filter:\n got %v\nwant %v", trainable, oracle)
	}
}

func TestOracleEval(t *testing.T) {
	for _, tag := range []string{"mean", "none"} {
		t.Run(tag, func(t *testing.T) {
			m, fx := oracleDAPT(t, tag, false)
			pts := fx.Tensors["points"]
			oracletest.EvalLogits(t, m, pts, fx.Tensors["eval.logits"].F32, 1e-4)
		})
	}
}

// TestOracleTrainGradients compares a training step (batch statistics in the encoder
// and head BatchNorms, no dropout) with the oracle's, activations kept and recomputed.
func TestOracleTrainGradients(t *testing.T) {
	for _, tag := range []string{"mean", "none"} {
		for _, recompute := range []nn.Recompute{nn.RecomputeNone, nn.RecomputeMLP, nn.RecomputeAll} {
			t.Run(fmt.Sprintf("%s/recompute=%v", tag, recompute), func(t *testing.T) {
				m, fx := oracleDAPT(t, tag, true)
				n := oracletest.TrainStep(t, m, fx.Tensors["points"], oracletest.Labels(fx), fx, recompute, 1e-4, nil)
				// 2 cls, 4 model TFTS, per block 14 TFTS and 8 adapter tensors, 10 head
				if n != 2+4+2*(14+8)+10 {
					t.Fatalf("%d gradients compared, want every trainable tensor's", n)
				}
			})
		}
	}
}

// TestAuthorsCheckpointLayout loads a state dict as the authors' runner saves it (a
// DataParallel model: every key under "module.") the way a released checkpoint such as
// scan_hardest.pth is loaded: detected as a fine-tuned Point-MAE, keys mapped, every
// tensor used.
func TestAuthorsCheckpointLayout(t *testing.T) {
	m, _ := oracleDAPT(t, "mean", false)
	sd, err := checkpoint.ReadPTH(fixtures+"dapt_mean.pth", "base_model")
	if err != nil {
		t.Fatal(err)
	}
	dp := checkpoint.NewStateDict()
	for _, k := range sd.Keys {
		dp.Set("module."+k, sd.Tensors[k])
	}
	if got := checkpoint.DetectFormat(dp); got != checkpoint.LayoutPointMAEFinetuned {
		t.Fatalf("layout %q, want %q", got, checkpoint.LayoutPointMAEFinetuned)
	}
	for _, p := range m.Params() {
		clear(p.Data)
	}
	rep, err := nn.LoadState(m, checkpoint.MapKeys(dp, checkpoint.LayoutPointMAEFinetuned))
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Missing)+len(rep.Unexpected) > 0 || len(rep.Loaded) != len(sd.Keys) {
		t.Fatalf("loaded %d of %d, missing %v unexpected %v", len(rep.Loaded), len(sd.Keys), rep.Missing, rep.Unexpected)
	}
	for _, p := range m.Params() {
		oracletest.RelClose(t, p.Name(), p.Data, sd.Tensors[p.Name()].F32, 0)
	}
}
