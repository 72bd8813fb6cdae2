package model_test

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/pointpeft/pointpeft/checkpoint"
	"github.com/pointpeft/pointpeft/internal/oracletest"
	. "github.com/pointpeft/pointpeft/model"
	"github.com/pointpeft/pointpeft/nn"
	"github.com/pointpeft/pointpeft/tensor"
)

var relClose = oracletest.RelClose

const oracleDir = oracletest.Dir

func oracleConfig(t *testing.T, fx *checkpoint.StateDict) Config {
	return oracletest.BackboneConfig(t, fx.Meta["config"])
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
	oracletest.InArena(func() {
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
	})
}

// TestOracleBackboneTrain checks one training-mode step (BN batch statistics, dropout
// and drop path off): loss, the gradient of every parameter (≤ 1e-3 relative) and the
// BN running statistics after the step.
// TestOracleBackboneTrain compares a full fine-tuning step with the oracle's, with the
// Transformer's activations kept and recomputed (each nn.Ctx.Recompute mode).
func TestOracleBackboneTrain(t *testing.T) {
	for _, recompute := range []nn.Recompute{nn.RecomputeNone, nn.RecomputeMLP, nn.RecomputeAll} {
		m, fx := loadOracleBackbone(t)
		oracletest.InArena(func() {
			m.Head.Dropout = 0
			for _, blk := range m.Blocks {
				blk.DropPath = 0
			}
			pts := fx.Tensors["points"]
			labels := oracletest.Labels(fx)
			ctx := &nn.Ctx{Train: true, RNG: rand.New(rand.NewPCG(1, 1)), Recompute: recompute}
			logits, err := m.Forward(ctx, pts.F32, pts.Shape[0], pts.Shape[1])
			if err != nil {
				t.Fatal(err)
			}
			relClose(t, "train logits", logits.Data, fx.Tensors["train.logits"].F32, 1e-4)
			loss := tensor.CrossEntropy(logits, labels, 0)
			relClose(t, "train loss", loss.Data, fx.Tensors["train.loss"].F32, 1e-5)
			tensor.Backward(loss)
			if n := oracletest.CompareGrads(t, m.Params(), fx, nil, 1e-3); n < 50 {
				t.Fatalf("recompute %v: only %d gradients compared", recompute, n)
			}
			oracletest.CompareBuffers(t, m.Buffers(), fx, 1e-4)
		})
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
