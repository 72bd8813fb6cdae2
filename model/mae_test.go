package model_test

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/pointpeft/pointpeft/checkpoint"
	"github.com/pointpeft/pointpeft/internal/oracletest"
	"github.com/pointpeft/pointpeft/model"
	"github.com/pointpeft/pointpeft/nn"
	"github.com/pointpeft/pointpeft/tensor"
)

// loadOraclePretrain builds the oracle's reduced pre-training model (4×36 encoder,
// one decoder block, 8 groups of 8) and loads pointmae_pretrain.pth, whose keys after
// removing "module." must match the model's exactly.
func loadOraclePretrain(t *testing.T) (*model.PointMAEPretrain, *checkpoint.StateDict) {
	t.Helper()
	fx := oracletest.Fixture(t, "pointmae_pretrain.safetensors")
	cfg := oracletest.BackboneConfig(t, fx.Meta["config"])
	var raw struct {
		DecoderDepth int     `json:"decoder_depth"`
		DecoderHeads int     `json:"decoder_num_heads"`
		MaskRatio    float64 `json:"mask_ratio"`
	}
	if err := json.Unmarshal([]byte(fx.Meta["config"]), &raw); err != nil {
		t.Fatal(err)
	}
	mae := model.DefaultMAEConfig()
	mae.DecoderDepth, mae.DecoderHeads, mae.MaskRatio, mae.DecoderDropPath = raw.DecoderDepth, raw.DecoderHeads, raw.MaskRatio, cfg.DropPath
	m, err := model.NewPointMAEPretrain(cfg, mae, rand.New(rand.NewPCG(5, 5)))
	if err != nil {
		t.Fatal(err)
	}
	pth, err := checkpoint.ReadPTH(oracletest.Dir+"pointmae_pretrain.pth", "base_model")
	if err != nil {
		t.Fatal(err)
	}
	sd := checkpoint.NewStateDict()
	for _, k := range pth.Keys {
		sd.Set(checkpoint.StripModule(k), pth.Tensors[k])
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

// maxRel is max|got−want| / max|want|, RelClose's measure, for the log.
func maxRel(got, want []float32) float64 {
	var md, mr float64
	for i := range want {
		md = math.Max(md, math.Abs(float64(got[i])-float64(want[i])))
		mr = math.Max(mr, math.Abs(float64(want[i])))
	}
	return md / math.Max(mr, 1e-30)
}

func oracleMask(fx *checkpoint.StateDict) []bool {
	var mask []bool
	for _, v := range fx.Tensors["mask"].I64 {
		mask = append(mask, v != 0)
	}
	return mask
}

// TestOraclePretrainEval runs the pre-training model in eval mode with the oracle's
// mask and compares every stage with torch (≤ 1e-4 relative).
func TestOraclePretrainEval(t *testing.T) {
	m, fx := loadOraclePretrain(t)
	oracletest.InArena(func() {
		pts := fx.Tensors["points"]
		b, n := pts.Shape[0], pts.Shape[1]
		var out *model.MAEOutput
		tensor.NoGrad(func() {
			var err error
			out, err = m.Forward(&nn.Ctx{}, pts.F32, b, n, oracleMask(fx))
			if err != nil {
				t.Fatal(err)
			}
			// With nothing masked the encoder is the cp model's path up to its final norm.
			all := make([]int32, b*m.Cfg.NumGroup)
			for i := range all {
				all[i] = int32(i)
			}
			g, err := m.Group(pts.F32, b, n)
			if err != nil {
				t.Fatal(err)
			}
			oracletest.RelClose(t, "cp.norm", m.EncodeVisible(&nn.Ctx{}, g, all).Data, fx.Tensors["cp.norm"].F32, 1e-4)
		})
		for _, k := range []string{"x_vis", "x_rec", "rebuild", "gt", "loss"} {
			got := map[string]*tensor.Tensor{"x_vis": out.XVis, "x_rec": out.XRec, "rebuild": out.Rebuild, "gt": out.GT, "loss": out.Loss}[k]
			want := fx.Tensors["mae_eval."+k]
			if k != "loss" && !reflect.DeepEqual(got.Shape(), want.Shape) {
				t.Errorf("%s: shape %v, oracle %v", k, got.Shape(), want.Shape)
				continue
			}
			oracletest.RelClose(t, k, got.Data, want.F32, 1e-4)
			t.Logf("%s: relative difference %.2g", k, maxRel(got.Data, want.F32))
		}
	})
}

// TestOraclePretrainTrain checks the train-mode loss (BatchNorm batch statistics,
// drop path off) and that the loss reaches every parameter.
func TestOraclePretrainTrain(t *testing.T) {
	m, fx := loadOraclePretrain(t)
	oracletest.InArena(func() {
		for _, blk := range append(m.Blocks, m.DecoderBlocks...) {
			blk.DropPath = 0
		}
		pts := fx.Tensors["points"]
		ctx := &nn.Ctx{Train: true, RNG: rand.New(rand.NewPCG(1, 1))}
		out, err := m.Forward(ctx, pts.F32, pts.Shape[0], pts.Shape[1], oracleMask(fx))
		if err != nil {
			t.Fatal(err)
		}
		oracletest.RelClose(t, "train loss", out.Loss.Data, fx.Tensors["mae_train.loss"].F32, 1e-4)
		t.Logf("train loss %.7g, oracle %.7g: relative difference %.2g", out.Loss.Item(), fx.Tensors["mae_train.loss"].F32[0],
			maxRel(out.Loss.Data, fx.Tensors["mae_train.loss"].F32))
		tensor.Backward(out.Loss)
		for _, p := range m.Params() {
			if p.Grad == nil {
				t.Errorf("%s got no gradient", p.Name())
			}
		}
	})
}

// tinyPretrain is a small random pre-training model for the fast tests.
// It groups numGroup centres of 8 points.
func tinyPretrain(t *testing.T, seed uint64, mae model.MAEConfig, numGroup int) *model.PointMAEPretrain {
	t.Helper()
	cfg := model.Config{Arch: "point-mae", TransDim: 24, Depth: 2, Heads: 4, MLPRatio: 2, EncoderDims: 24,
		NumGroup: numGroup, GroupSize: 8, DropPath: 0.1, EncoderHidden: [3]int{8, 16, 32}, PosHidden: 16}
	m, err := model.NewPointMAEPretrain(cfg, mae, rand.New(rand.NewPCG(seed, 1)))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestMAEMasking(t *testing.T) {
	for _, tc := range []struct {
		ratio float64
		g     int
		want  int
	}{{0.6, 8, 4}, {0.6, 64, 38}, {0.6, 128, 76}, {0.75, 10, 7}} {
		if got := (model.MAEConfig{MaskRatio: tc.ratio}).NumMasked(tc.g); got != tc.want {
			t.Errorf("NumMasked(%g, %d) = %d, want %d (upstream's int())", tc.ratio, tc.g, got, tc.want)
		}
	}
	for _, typ := range []string{"rand", "block"} {
		mae := model.DefaultMAEConfig()
		mae.MaskType = typ
		m := tinyPretrain(t, 1, mae, 16)
		rng := rand.New(rand.NewPCG(2, 3))
		b, n := 6, 96
		g, err := m.Group(nn.Uniform(rng, b*n*3, 1), b, n)
		if err != nil {
			t.Fatal(err)
		}
		mask := m.RandomMask(g, rand.New(rand.NewPCG(7, 7)))
		rows := map[string]bool{}
		for bi := 0; bi < b; bi++ {
			cnt, key := 0, ""
			for _, v := range mask[bi*g.G : (bi+1)*g.G] {
				if v {
					cnt++
					key += "1"
				} else {
					key += "0"
				}
			}
			if cnt != 9 { // int(0.6·16)
				t.Errorf("%s: cloud %d masks %d groups, want 9", typ, bi, cnt)
			}
			rows[key] = true
		}
		if len(rows) < 2 {
			t.Errorf("%s: every cloud got the same mask", typ)
		}
		if !reflect.DeepEqual(mask, m.RandomMask(g, rand.New(rand.NewPCG(7, 7)))) {
			t.Errorf("%s: same seed, different mask", typ)
		}
		if reflect.DeepEqual(mask, m.RandomMask(g, rand.New(rand.NewPCG(8, 7)))) {
			t.Errorf("%s: different seeds, same mask", typ)
		}
	}
}

func TestMAEShapesAndBadInput(t *testing.T) {
	mae := model.DefaultMAEConfig()
	mae.DecoderDepth, mae.DecoderHeads = 2, 3
	m := tinyPretrain(t, 1, mae, 8)
	rng := rand.New(rand.NewPCG(4, 4))
	b, n := 3, 64
	pts := nn.Uniform(rng, b*n*3, 1)
	out, err := m.Forward(&nn.Ctx{Train: true, RNG: rng}, pts, b, n, nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		got  *tensor.Tensor
		want []int
	}{
		"x_vis":   {out.XVis, []int{3, 4, 24}},
		"x_rec":   {out.XRec, []int{3, 4, 24}},
		"rebuild": {out.Rebuild, []int{12, 8, 3}},
		"gt":      {out.GT, []int{12, 8, 3}},
		"loss":    {out.Loss, []int{}},
	} {
		if !slices.Equal(c.got.Shape(), c.want) {
			t.Errorf("%s shape %v, want %v", name, c.got.Shape(), c.want)
		}
	}
	if len(out.Mask) != b*8 {
		t.Errorf("mask of %d entries", len(out.Mask))
	}
	// Parameter names and shapes of the official layout.
	names := map[string][]int{}
	for _, p := range m.Params() {
		names[p.Name()] = p.Shape()
	}
	for k, want := range map[string][]int{
		"mask_token":                               {1, 1, 24},
		"increase_dim.0.weight":                    {24, 24, 1},
		"increase_dim.0.bias":                      {24},
		"MAE_decoder.blocks.1.attn.qkv.weight":     {72, 24},
		"MAE_decoder.norm.weight":                  {24},
		"decoder_pos_embed.2.weight":               {24, 16},
		"MAE_encoder.blocks.blocks.1.mlp.fc2.bias": {24},
		"MAE_encoder.encoder.second_conv.3.weight": {24, 32, 1},
		"MAE_encoder.pos_embed.0.weight":           {16, 3},
		"MAE_encoder.norm.bias":                    {24},
	} {
		if got, ok := names[k]; !ok || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: shape %v (present %v), want %v", k, got, ok, want)
		}
	}

	bad := func(what string, mask []bool, ctx *nn.Ctx) {
		t.Helper()
		if _, err := m.Forward(ctx, pts, b, n, mask); err == nil {
			t.Errorf("%s accepted", what)
		}
	}
	uneven := make([]bool, b*8)
	uneven[0], uneven[8], uneven[9] = true, true, true
	bad("a mask of the wrong length", make([]bool, 5), &nn.Ctx{})
	bad("an all-visible mask", make([]bool, b*8), &nn.Ctx{})
	bad("uneven masks", uneven, &nn.Ctx{})
	bad("no mask and no RNG", nil, &nn.Ctx{})
	if _, err := m.Forward(&nn.Ctx{}, pts[:b*5*3], b, 5, out.Mask); err == nil {
		t.Error("5 points for 8 groups accepted")
	}
	for _, c := range []model.MAEConfig{
		{MaskRatio: 0.6, MaskType: "grid", DecoderDepth: 1, DecoderHeads: 4},
		{MaskRatio: 0.05, MaskType: "rand", DecoderDepth: 1, DecoderHeads: 4}, // masks 0 of 8
		{MaskRatio: 0.6, MaskType: "rand", DecoderDepth: 1, DecoderHeads: 5},
	} {
		if _, err := model.NewPointMAEPretrain(m.Cfg, c, rng); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}

// TestMAESGDReducesLoss takes a few plain SGD steps on a tiny batch with a fixed mask
// and checks that the reconstruction loss goes down.
func TestMAESGDReducesLoss(t *testing.T) {
	mae := model.DefaultMAEConfig()
	mae.DecoderDepth, mae.DecoderHeads, mae.DecoderDropPath = 1, 4, 0
	m := tinyPretrain(t, 3, mae, 8)
	for _, blk := range m.Blocks {
		blk.DropPath = 0
	}
	rng := rand.New(rand.NewPCG(5, 6))
	b, n := 4, 64
	pts := nn.Uniform(rng, b*n*3, 1)
	ctx := &nn.Ctx{Train: true, RNG: rng}
	g, err := m.Group(pts, b, n)
	if err != nil {
		t.Fatal(err)
	}
	mask := m.RandomMask(g, rng)
	var first, last float32
	for step := 0; step < 15; step++ {
		out, err := m.Forward(ctx, pts, b, n, mask)
		if err != nil {
			t.Fatal(err)
		}
		last = out.Loss.Item()
		if step == 0 {
			first = last
		}
		for _, p := range m.Params() {
			p.ZeroGrad()
		}
		tensor.Backward(out.Loss)
		for _, p := range m.Params() {
			for i, gr := range p.Grad {
				p.Data[i] -= 0.05 * gr
			}
		}
	}
	t.Logf("loss %.4g → %.4g", first, last)
	if !(last < 0.8*first) {
		t.Fatalf("loss %.4g → %.4g after 15 SGD steps", first, last)
	}
}

// TestPretrainStateLoadsIntoClassifier saves the pre-training state dict as
// safetensors and initialises a fine-tuning classifier from it the way the
// classifier loads the official file: only cls_* keys stay missing.
func TestPretrainStateLoadsIntoClassifier(t *testing.T) {
	pre := tinyPretrain(t, 4, model.DefaultMAEConfig(), 8)
	path := filepath.Join(t.TempDir(), "pretrain.safetensors")
	if err := checkpoint.WriteSafetensors(path, nn.StateDict(pre, false)); err != nil {
		t.Fatal(err)
	}
	sd, err := checkpoint.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	layout := checkpoint.DetectFormat(sd)
	if layout != checkpoint.LayoutPointMAEPretrain {
		t.Fatalf("layout %q", layout)
	}
	cfg := pre.Cfg
	cfg.Classes = 7
	cls, err := model.New(cfg, rand.New(rand.NewPCG(9, 9)))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := nn.LoadState(cls, checkpoint.MapKeys(sd, layout))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range rep.Missing {
		if !strings.HasPrefix(k, "cls_") {
			t.Errorf("missing %s", k)
		}
	}
	for _, k := range rep.Unexpected {
		if !strings.HasPrefix(k, "MAE_decoder.") && !strings.HasPrefix(k, "decoder_pos_embed.") && k != "mask_token" && !strings.HasPrefix(k, "increase_dim.") {
			t.Errorf("unexpected %s", k)
		}
	}
	// Every encoder tensor arrived with its value.
	want := map[string][]float32{}
	for _, p := range pre.Params() {
		want[strings.TrimPrefix(p.Name(), "MAE_encoder.")] = p.Data
	}
	for _, bn := range pre.Buffers() {
		if bn.Data != nil {
			want[strings.TrimPrefix(bn.Name, "MAE_encoder.")] = bn.Data
		}
	}
	checked := 0
	for _, p := range cls.Params() {
		if w, ok := want[p.Name()]; ok {
			checked++
			if !reflect.DeepEqual(p.Data, w) {
				t.Errorf("%s differs after loading", p.Name())
			}
		}
	}
	for _, bn := range cls.Buffers() {
		if w, ok := want[bn.Name]; ok && bn.Data != nil {
			checked++
			if !reflect.DeepEqual(bn.Data, w) {
				t.Errorf("%s differs after loading", bn.Name)
			}
		}
	}
	if checked != len(rep.Loaded)-2 { // the num_batches_tracked counters are not compared
		t.Errorf("compared %d tensors, loaded %d", checked, len(rep.Loaded))
	}
	// And the file restores the pre-training model itself completely.
	again := tinyPretrain(t, 5, model.DefaultMAEConfig(), 8)
	rep, err = nn.LoadState(again, sd)
	if err != nil || len(rep.Missing) > 0 || len(rep.Unexpected) > 0 {
		t.Fatalf("reload: %v, missing %v, unexpected %v", err, rep.Missing, rep.Unexpected)
	}
}
