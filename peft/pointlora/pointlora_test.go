package pointlora

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/pointpeft/pointpeft/model"
	"github.com/pointpeft/pointpeft/nn"
	"github.com/pointpeft/pointpeft/tensor"
)

// TestAuthorsParameterCounts builds the full-size models (ViT-S 12×384) of the authors'
// configurations and checks the trainable count under their filter, per module too.
// The paper's Table 1 gives 0.77 M for PointLoRA: PB_T50_RS has 772,752. ModelNet40's
// head has 40 outputs instead of 15 (+6,425), hence 779,177 (0.78 M); the paper quotes
// one figure for both.
func TestAuthorsParameterCounts(t *testing.T) {
	for _, tc := range []struct {
		name             string
		recipe           Recipe
		cfg              Config
		trainable, total int
	}{
		{"PB_T50_RS", RecipeScanObjectNN(), ScanObjectNN(), 772_752, 22_513_960},
		{"ModelNet40", RecipeModelNet40(), ModelNet40(), 779_177, 22_520_385},
	} {
		bb, err := model.New(tc.recipe.Backbone, rand.New(rand.NewPCG(1, 1)))
		if err != nil {
			t.Fatal(err)
		}
		m, err := New(bb, tc.cfg, rand.New(rand.NewPCG(2, 2)))
		if err != nil {
			t.Fatal(err)
		}
		m.SetTrainable()
		groups := map[string]int{}
		tr, total := 0, 0
		for _, p := range m.Params() {
			total += p.Numel()
			if p.RequiresGrad() {
				tr += p.Numel()
				groups[group(p.Name())] += p.Numel()
			}
		}
		if tr != tc.trainable || total != tc.total {
			t.Errorf("%s: %d trainable of %d, want %d of %d", tc.name, tr, total, tc.trainable, tc.total)
		}
		head := 267_535
		if tc.name == "ModelNet40" {
			head += 25 * 257
		}
		for g, want := range map[string]int{
			"lora":           12 * (8*384 + 3*384*8 + 8*384 + 384*8), // qkv and proj, 12 blocks
			"prompt mlps":    3*(384*32+32+32*384+384) + 384*32 + 32 + 32*3*384 + 3*384,
			"mask predictor": 384*192 + 192 + 192 + 1,
			"first_conv":     3*128 + 128 + 2*128 + 128*256 + 256,
			"pos_embed":      3*128 + 128 + 128*384 + 384,
			"cls":            2*384 + head,
		} {
			if groups[g] != want {
				t.Errorf("%s: %s has %d trainable, want %d", tc.name, g, groups[g], want)
			}
		}
		if len(groups) != 6 {
			t.Errorf("%s: trainable groups %v", tc.name, groups)
		}
	}
}

func group(name string) string {
	switch {
	case strings.Contains(name, "lora_A") || strings.Contains(name, "lora_B"):
		return "lora"
	case strings.Contains(name, "prompt"):
		return "prompt mlps"
	case strings.HasPrefix(name, "lora_mask_predictor"):
		return "mask predictor"
	case strings.Contains(name, "first_conv"):
		return "first_conv"
	case strings.HasPrefix(name, "pos_embed"):
		return "pos_embed"
	case strings.HasPrefix(name, "cls"):
		return "cls"
	}
	return name
}

func TestTrainsIsTheAuthorsFilter(t *testing.T) {
	for name, want := range map[string]bool{
		"cls_token": true, "cls_pos": true, "cls_head_finetune.8.bias": true,
		"blocks.prompt_qkv_mlp.2.weight": true, "encoder.first_conv.1.weight": true,
		"pos_embed.2.bias": true, "blocks.blocks.3.attn.qkv.lora_A": true,
		"lora_mask_predictor.fc1.weight":        true,
		"blocks.blocks.3.attn.qkv.weight":       false, // the gate, frozen at 1
		"blocks.blocks.3.attn.proj.linear.bias": false,
		"blocks.blocks.3.mlp.fc1.weight":        false,
		"blocks.blocks.3.norm1.bias":            false,
		"encoder.second_conv.0.weight":          false,
		"norm.weight":                           false,
	} {
		if Trains(name) != want {
			t.Errorf("Trains(%q) = %v, want %v", name, !want, want)
		}
	}
}

// small is a reduced Point-MAE with PointLoRA, every LoRA B non-zero.
func small(t *testing.T, cfg Config) (*Model, []float32, int, int) {
	t.Helper()
	bcfg := model.Config{Arch: "point-mae", TransDim: 24, Depth: 2, Heads: 4, MLPRatio: 2, EncoderDims: 24,
		NumGroup: 8, GroupSize: 8, Classes: 5, EncoderHidden: [3]int{8, 16, 32}, PosHidden: 16, HeadHidden: 16}
	rng := rand.New(rand.NewPCG(3, 3))
	bb, err := model.New(bcfg, rng)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Rank, cfg.Alpha, cfg.PromptHidden = 4, 6, 8
	cfg.Scales = [2]Scale{{Groups: 8, GroupSize: 8, Keep: 3}, {Groups: 4, GroupSize: 16, Keep: 2}}
	m, err := New(bb, cfg, rng)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range m.Blocks {
		for _, l := range []*LoRALinear{b.QKV, b.Proj} {
			for i := range l.B.Data {
				l.B.Data[i] = float32(rng.NormFloat64()) * 0.3
			}
		}
	}
	const b, n = 2, 64
	pts := make([]float32, b*n*3)
	for i := range pts {
		pts[i] = float32(rng.NormFloat64())
	}
	return m, pts, b, n
}

func evalLogits(t *testing.T, m *Model, pts []float32, b, n int) []float32 {
	t.Helper()
	var out *tensor.Tensor
	var err error
	tensor.NoGrad(func() { out, err = m.Forward(&nn.Ctx{}, pts, b, n) })
	if err != nil {
		t.Fatal(err)
	}
	return out.Data
}

// TestMergeKeepsLogits folds the LoRA updates into the frozen weights and checks that
// the logits stay, that B is then zero and that training resumes the low-rank path.
func TestMergeKeepsLogits(t *testing.T) {
	m, pts, b, n := small(t, ScanObjectNN())
	before := evalLogits(t, m, pts, b, n)
	w0 := append([]float32(nil), m.Blocks[0].QKV.Linear.Weight.Data...)
	m.Merge()
	after := evalLogits(t, m, pts, b, n)
	var md, mr float64
	for i := range before {
		md = max(md, abs(float64(after[i]-before[i])))
		mr = max(mr, abs(float64(before[i])))
	}
	if md > 1e-5*mr {
		t.Errorf("merged logits differ by %.3g (max |logit| %.3g)", md, mr)
	}
	changed := false
	for i, v := range m.Blocks[0].QKV.Linear.Weight.Data {
		changed = changed || v != w0[i]
	}
	if !changed {
		t.Error("Merge left W unchanged")
	}
	if &m.Blocks[0].QKV.Linear.Weight.Data[0] != &m.Backbone.Blocks[0].Attn.QKV.Weight.Data[0] {
		t.Error("the LoRA layer's W does not share the backbone's weight")
	}
	for _, blk := range m.Blocks {
		for _, v := range blk.Proj.B.Data {
			if v != 0 {
				t.Fatal("Merge left B non-zero")
			}
		}
	}
	m.SetTrainable()
	logits, err := m.Forward(&nn.Ctx{Train: true, RNG: rand.New(rand.NewPCG(1, 1))}, pts, b, n)
	if err != nil {
		t.Fatal(err)
	}
	tensor.Backward(tensor.CrossEntropy(logits, []int{1, 3}, 0))
	if g := m.Blocks[1].QKV.B.Grad; g == nil || maxAbs(g) == 0 {
		t.Error("after Merge, training gives lora_B no gradient")
	}
}

// TestMaskLossTrainsThePredictor checks that the mask predictor, which the selection
// does not differentiate, gets the gradient of 0.004 × the entropy term through the
// logits, and nothing in evaluation.
func TestMaskLossTrainsThePredictor(t *testing.T) {
	m, pts, b, n := small(t, ScanObjectNN())
	m.SetTrainable()
	ctx := &nn.Ctx{Train: true, RNG: rand.New(rand.NewPCG(1, 1))}
	logits, err := m.Forward(ctx, pts, b, n)
	if err != nil {
		t.Fatal(err)
	}
	tensor.Backward(tensor.CrossEntropy(logits, []int{0, 2}, 0))
	g1 := append([]float32(nil), m.MaskPredictor.FC2.Bias.Grad...)
	if g1[0] == 0 {
		t.Fatal("the mask predictor got no gradient")
	}
	// With the weight doubled the predictor's gradient doubles: it comes from that
	// term alone.
	for _, p := range m.Params() {
		p.ZeroGrad()
	}
	m.Cfg.MaskLossWeight *= 2
	logits, err = m.Forward(&nn.Ctx{Train: true, RNG: rand.New(rand.NewPCG(1, 1))}, pts, b, n)
	if err != nil {
		t.Fatal(err)
	}
	tensor.Backward(tensor.CrossEntropy(logits, []int{0, 2}, 0))
	if g2 := m.MaskPredictor.FC2.Bias.Grad[0]; abs(float64(g2-2*g1[0])) > 1e-5*abs(float64(g1[0])) {
		t.Errorf("predictor gradient %g with twice the weight, want %g", g2, 2*g1[0])
	}
}

func TestBadInput(t *testing.T) {
	m, pts, b, _ := small(t, ScanObjectNN())
	if _, err := m.Forward(&nn.Ctx{}, pts[:b*12*3], b, 12); err == nil || !strings.Contains(err.Error(), "points per cloud") {
		t.Errorf("12 points per cloud: err %v", err)
	}
	bad := ScanObjectNN()
	bad.Scales[1].Keep = 65
	if err := bad.Validate(128); err == nil || !strings.Contains(err.Error(), "scale 2") {
		t.Errorf("keep > groups: err %v", err)
	}
	bad = ScanObjectNN()
	bad.Mode = "exact"
	if err := bad.Validate(128); err == nil {
		t.Error("unknown mode accepted")
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

func maxAbs(xs []float32) float64 {
	var m float64
	for _, v := range xs {
		m = max(m, abs(float64(v)))
	}
	return m
}

// TestRecipesFit checks that each recipe's clouds hold the groupings of the backbone and
// of both selection scales.
func TestRecipesFit(t *testing.T) {
	for _, r := range []Recipe{RecipeScanObjectNN(), RecipeModelNet40()} {
		if err := r.Backbone.Validate(); err != nil {
			t.Fatal(err)
		}
		for _, s := range ScanObjectNN().Scales {
			if s.Groups > r.Points || s.GroupSize > r.Points || r.Backbone.NumGroup > r.Points {
				t.Errorf("%d points cannot hold %d×%d groups", r.Points, s.Groups, s.GroupSize)
			}
		}
	}
}
