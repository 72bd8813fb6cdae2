package optim

import (
	"encoding/json"
	"math"
	"os"
	"slices"
	"testing"

	"github.com/pointpeft/pointpeft/tensor"
)

type torchFixture struct {
	MaxNorm     float64 `json:"max_norm"`
	WeightDecay float64 `json:"weight_decay"`
	Params      []struct {
		Name      string    `json:"name"`
		Shape     []int     `json:"shape"`
		Trainable bool      `json:"trainable"`
		Init      []float32 `json:"init"`
	} `json:"params"`
	NoDecay []string `json:"no_decay"`
	Decay   []string `json:"decay"`
	Steps   []struct {
		LR           float64              `json:"lr"`
		Grads        map[string][]float32 `json:"grads"`
		TotalNorm    float64              `json:"total_norm"`
		ClippedGrads map[string][]float32 `json:"clipped_grads"`
		Params       map[string][]float32 `json:"params"`
	} `json:"steps"`
	FinalState map[string]struct {
		Step     int64     `json:"step"`
		ExpAvg   []float32 `json:"exp_avg"`
		ExpAvgSq []float32 `json:"exp_avg_sq"`
	} `json:"final_state"`
}

func names(ps []*tensor.Tensor) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Name()
	}
	return out
}

// closeTo compares within float32 rounding noise: PyTorch's vectorised kernels may
// fuse multiply-adds where Go rounds twice. Values below floor are compared at the
// absolute precision of floor, since moments that nearly cancel keep only the
// rounding error of the larger terms they came from.
func closeTo(t *testing.T, what string, got, want []float32, rel, floor float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range want {
		d := math.Abs(float64(got[i]) - float64(want[i]))
		if d > rel*math.Max(floor, math.Abs(float64(want[i]))) {
			t.Errorf("%s[%d] = %.9g, want %.9g", what, i, got[i], want[i])
		}
	}
}

// TestAdamWMatchesTorch replays the torch 1.13 fixture written by
// tools/fixtures/optim_adamw.py: grouping, clipping and five AdamW steps, including a
// frozen parameter and one whose grad is None for the first two steps.
func TestAdamWMatchesTorch(t *testing.T) {
	raw, err := os.ReadFile("testdata/adamw_torch.json")
	if err != nil {
		t.Fatal(err)
	}
	var fx torchFixture
	if err := json.Unmarshal(raw, &fx); err != nil {
		t.Fatal(err)
	}
	var params []*tensor.Tensor
	for _, p := range fx.Params {
		tp := tensor.NewParam(p.Name, slices.Clone(p.Init), p.Shape...)
		tp.SetTrainable(p.Trainable)
		params = append(params, tp)
	}
	groups := ParamGroups(params, fx.WeightDecay)
	if len(groups) != 2 || groups[0].WeightDecay != 0 || groups[1].WeightDecay != fx.WeightDecay {
		t.Fatalf("groups: %+v", groups)
	}
	if got := names(groups[0].Params); !slices.Equal(got, fx.NoDecay) {
		t.Errorf("no-decay group %v, want %v", got, fx.NoDecay)
	}
	if got := names(groups[1].Params); !slices.Equal(got, fx.Decay) {
		t.Errorf("decay group %v, want %v", got, fx.Decay)
	}
	opt, err := NewAdamW(groups)
	if err != nil {
		t.Fatal(err)
	}
	for s, st := range fx.Steps {
		for _, p := range params {
			p.Grad = nil
			if g, ok := st.Grads[p.Name()]; ok {
				p.Grad = slices.Clone(g)
			}
		}
		total := ClipGradNorm(params, fx.MaxNorm)
		if math.Abs(total-st.TotalNorm) > 1e-6*st.TotalNorm {
			t.Errorf("step %d: total norm %.9g, want %.9g", s, total, st.TotalNorm)
		}
		for _, p := range params {
			if want, ok := st.ClippedGrads[p.Name()]; ok {
				closeTo(t, "clipped grad "+p.Name(), p.Grad, want, 1e-6, 1e-3)
			}
		}
		if err := opt.Step(st.LR); err != nil {
			t.Fatal(err)
		}
		for _, p := range params {
			closeTo(t, p.Name(), p.Data, st.Params[p.Name()], 1e-6, 1e-3)
		}
	}
	state := opt.State()
	if len(state) != len(fx.FinalState) {
		t.Errorf("state for %d parameters, want %d", len(state), len(fx.FinalState))
	}
	for name, want := range fx.FinalState {
		got, ok := state[name]
		if !ok {
			t.Errorf("no state for %s", name)
			continue
		}
		if got.Step != want.Step {
			t.Errorf("%s: step %d, want %d", name, got.Step, want.Step)
		}
		closeTo(t, name+" exp_avg", got.M, want.ExpAvg, 1e-6, 1e-2)
		closeTo(t, name+" exp_avg_sq", got.V, want.ExpAvgSq, 1e-6, 1e-3)
	}
}

// TestAdamWHandComputed checks the update against the textbook formulas evaluated in
// float64, with weight decay, over several steps with varying lr.
func TestAdamWHandComputed(t *testing.T) {
	w0 := []float32{0.5, -1.25, 2}
	p := tensor.NewParam("w", slices.Clone(w0), 3)
	opt, err := NewAdamW([]Group{{Params: []*tensor.Tensor{p}, WeightDecay: 0.1}})
	if err != nil {
		t.Fatal(err)
	}
	grads := [][]float32{{0.1, -0.2, 0.3}, {-0.5, 0.05, 0.0}, {1, 2, -3}, {0.01, -0.01, 0.02}}
	lrs := []float64{1e-2, 5e-3, 2e-2, 1e-3}
	w := []float64{0.5, -1.25, 2}
	m, v := make([]float64, 3), make([]float64, 3)
	for s := range grads {
		p.Grad = slices.Clone(grads[s])
		if err := opt.Step(lrs[s]); err != nil {
			t.Fatal(err)
		}
		k := float64(s + 1)
		for i := range w {
			g := float64(grads[s][i])
			w[i] *= 1 - lrs[s]*0.1
			m[i] = 0.9*m[i] + 0.1*g
			v[i] = 0.999*v[i] + 0.001*g*g
			mHat := m[i] / (1 - math.Pow(0.9, k))
			vHat := v[i] / (1 - math.Pow(0.999, k))
			w[i] -= lrs[s] * mHat / (math.Sqrt(vHat) + 1e-8)
		}
		for i := range w {
			if d := math.Abs(float64(p.Data[i]) - w[i]); d > 1e-6 {
				t.Errorf("step %d: w[%d] = %.9g, want %.9g", s, i, p.Data[i], w[i])
			}
		}
	}
	// The first step's update is lr·sign(g) (m̂ = g, sqrt(v̂) = |g|) on top of the decay,
	// which pins down the bias correction exactly.
	q := tensor.NewParam("q", []float32{1}, 1)
	q.Grad = []float32{-0.25}
	o2, _ := NewAdamW([]Group{{Params: []*tensor.Tensor{q}, WeightDecay: 0.5}})
	if err := o2.Step(0.1); err != nil {
		t.Fatal(err)
	}
	if want := 1*(1-0.1*0.5) + 0.1; math.Abs(float64(q.Data[0])-want) > 1e-6 {
		t.Errorf("first step: %.9g, want %.9g", q.Data[0], want)
	}
}

// TestAdamWSkips checks that frozen parameters and trainable ones without a gradient
// are left alone, get no state, and that decay is not applied to them either.
func TestAdamWSkips(t *testing.T) {
	frozen := tensor.NewParam("frozen", []float32{1, 2}, 2)
	frozen.SetTrainable(false)
	idle := tensor.NewParam("idle", []float32{3, 4}, 2)
	live := tensor.NewParam("live", []float32{5, 6}, 2)
	live.Grad = []float32{1, 1}
	opt, err := NewAdamW([]Group{{Params: []*tensor.Tensor{frozen, idle, live}, WeightDecay: 0.05}})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := opt.Step(1e-2); err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Equal(frozen.Data, []float32{1, 2}) || !slices.Equal(idle.Data, []float32{3, 4}) {
		t.Errorf("skipped parameters changed: frozen %v, idle %v", frozen.Data, idle.Data)
	}
	if slices.Equal(live.Data, []float32{5, 6}) {
		t.Error("trainable parameter with a gradient was not updated")
	}
	st := opt.State()
	if _, ok := st["frozen"]; ok {
		t.Error("frozen parameter has state")
	}
	if _, ok := st["idle"]; ok {
		t.Error("parameter without gradient has state")
	}
	if st["live"].Step != 3 {
		t.Errorf("live step %d, want 3", st["live"].Step)
	}
}

// makeRun builds a small model whose gradients depend on its weights and the step
// index, so that a resumed run diverges from the uninterrupted one on any state error.
func makeRun(t *testing.T) ([]*tensor.Tensor, *AdamW) {
	t.Helper()
	a := tensor.NewParam("layer.weight", []float32{0.3, -0.7, 1.1, 0.2, -0.4, 0.9}, 2, 3)
	b := tensor.NewParam("layer.bias", []float32{0.05, -0.02}, 2)
	c := tensor.NewParam("cls_token", []float32{0.1, 0.2, 0.3}, 1, 1, 3)
	params := []*tensor.Tensor{a, b, c}
	opt, err := NewAdamW(ParamGroups(params, DefaultWeightDecay))
	if err != nil {
		t.Fatal(err)
	}
	return params, opt
}

func fakeBackward(params []*tensor.Tensor, step int) {
	for pi, p := range params {
		// cls_token gets no gradient on odd steps, so per-parameter step counts differ.
		if p.Name() == "cls_token" && step%2 == 1 {
			p.Grad = nil
			continue
		}
		p.Grad = make([]float32, len(p.Data))
		for i, w := range p.Data {
			p.Grad[i] = float32(math.Sin(float64(w)*float64(step+1)+float64(pi+i))) * 0.7
		}
	}
}

func TestAdamWResumeIsBitIdentical(t *testing.T) {
	sched := StepCosine{BaseLR: 5e-3, MinLR: 1e-5, WarmupLRInit: 1e-4, WarmupSteps: 2, TotalSteps: 8}
	whole, opt := makeRun(t)
	for s := range 8 {
		fakeBackward(whole, s)
		ClipGradNorm(whole, 1)
		if err := opt.Step(sched.LR(s)); err != nil {
			t.Fatal(err)
		}
	}

	first, opt1 := makeRun(t)
	for s := range 3 {
		fakeBackward(first, s)
		ClipGradNorm(first, 1)
		if err := opt1.Step(sched.LR(s)); err != nil {
			t.Fatal(err)
		}
	}
	saved := opt1.State()
	resumed, opt2 := makeRun(t)
	for i, p := range resumed {
		copy(p.Data, first[i].Data)
	}
	if err := opt2.LoadState(saved); err != nil {
		t.Fatal(err)
	}
	for s := 3; s < 8; s++ {
		fakeBackward(resumed, s)
		ClipGradNorm(resumed, 1)
		if err := opt2.Step(sched.LR(s)); err != nil {
			t.Fatal(err)
		}
	}
	for i, p := range whole {
		if !slices.Equal(p.Data, resumed[i].Data) {
			t.Errorf("%s: resumed %v, uninterrupted %v", p.Name(), resumed[i].Data, p.Data)
		}
	}
	a, b := opt.State(), opt2.State()
	for name, sa := range a {
		sb := b[name]
		if sa.Step != sb.Step || !slices.Equal(sa.M, sb.M) || !slices.Equal(sa.V, sb.V) {
			t.Errorf("%s: state differs after resume", name)
		}
	}
	if a["cls_token"].Step != 4 || a["layer.weight"].Step != 8 {
		t.Errorf("steps: cls_token %d (want 4), layer.weight %d (want 8)", a["cls_token"].Step, a["layer.weight"].Step)
	}
}

func TestStateIsACopy(t *testing.T) {
	params, opt := makeRun(t)
	fakeBackward(params, 0)
	if err := opt.Step(1e-3); err != nil {
		t.Fatal(err)
	}
	s := opt.State()
	s["layer.bias"].M[0] = 42
	if opt.State()["layer.bias"].M[0] == 42 {
		t.Error("State shares memory with the optimizer")
	}
	if err := opt.LoadState(s); err != nil {
		t.Fatal(err)
	}
	s["layer.bias"].M[0] = 7
	if opt.State()["layer.bias"].M[0] != 42 {
		t.Error("LoadState keeps a reference to its argument")
	}
}

func TestLoadStateRejects(t *testing.T) {
	params, opt := makeRun(t)
	fakeBackward(params, 0)
	if err := opt.Step(1e-3); err != nil {
		t.Fatal(err)
	}
	good := opt.State()
	cases := map[string]func(map[string]ParamState){
		"unknown name": func(s map[string]ParamState) { s["nope"] = s["layer.bias"] },
		"short M": func(s map[string]ParamState) {
			st := s["layer.weight"]
			st.M = st.M[:5]
			s["layer.weight"] = st
		},
		"long V": func(s map[string]ParamState) {
			st := s["layer.bias"]
			st.V = append(st.V, 1)
			s["layer.bias"] = st
		},
		"zero step": func(s map[string]ParamState) {
			st := s["layer.bias"]
			st.Step = 0
			s["layer.bias"] = st
		},
	}
	for name, edit := range cases {
		bad := opt.State()
		edit(bad)
		if err := opt.LoadState(bad); err == nil {
			t.Errorf("%s: no error", name)
		}
		// A rejected load leaves the state as it was.
		now := opt.State()
		for k, st := range good {
			if now[k].Step != st.Step || !slices.Equal(now[k].M, st.M) || !slices.Equal(now[k].V, st.V) {
				t.Errorf("%s: state of %s changed by a rejected load", name, k)
			}
		}
	}
}

func TestNewAdamWRejects(t *testing.T) {
	a := tensor.NewParam("a", []float32{1}, 1)
	a2 := tensor.NewParam("a", []float32{1}, 1)
	anon := tensor.New(2)
	cases := map[string][]Group{
		"duplicate name": {{Params: []*tensor.Tensor{a}}, {Params: []*tensor.Tensor{a2}}},
		"no name":        {{Params: []*tensor.Tensor{anon}}},
		"negative decay": {{Params: []*tensor.Tensor{a}, WeightDecay: -1}},
		"NaN decay":      {{Params: []*tensor.Tensor{a}, WeightDecay: math.NaN()}},
	}
	for name, groups := range cases {
		if _, err := NewAdamW(groups); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestStepRejects(t *testing.T) {
	p := tensor.NewParam("p", []float32{1, 2}, 2)
	opt, err := NewAdamW([]Group{{Params: []*tensor.Tensor{p}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, lr := range []float64{-1, math.NaN(), math.Inf(1)} {
		if err := opt.Step(lr); err == nil {
			t.Errorf("lr %v: no error", lr)
		}
	}
	q := tensor.NewParam("q", []float32{3}, 1)
	opt2, err := NewAdamW([]Group{{Params: []*tensor.Tensor{q, p}}})
	if err != nil {
		t.Fatal(err)
	}
	q.Grad, p.Grad = []float32{1}, []float32{1}
	if err := opt2.Step(1e-3); err == nil {
		t.Error("gradient of the wrong length: no error")
	}
	if q.Data[0] != 3 || len(opt2.State()) != 0 {
		t.Error("a rejected step updated a parameter")
	}
}

func TestParamGroupsRules(t *testing.T) {
	mk := func(name string, shape ...int) *tensor.Tensor {
		n := 1
		for _, d := range shape {
			n *= d
		}
		return tensor.NewParam(name, make([]float32, n), shape...)
	}
	frozen := mk("blocks.0.attn.qkv.weight", 6, 2)
	frozen.SetTrainable(false)
	params := []*tensor.Tensor{
		mk("cls_token", 1, 1, 4),                           // "token": no decay
		mk("cls_pos", 1, 1, 4),                             // 3-D, no "token": decay
		mk("blocks.0.norm1.bias", 4),                       // bias
		mk("blocks.0.ad_gate", 1),                          // 1-D
		mk("blocks.0.prompt_embeddings", 1, 10, 4),         // decay
		mk("blocks.0.adapter.down.weight", 2, 4),           // decay
		mk("blocks.0.out_transform.0.bias_like_weight", 4), // 1-D: no decay
		mk("prompt_cor", 30),                               // 1-D: no decay
		mk("scalar", 1, 1),                                 // 2-D: decay
		frozen,
	}
	g := ParamGroups(params, DefaultWeightDecay)
	wantNo := []string{"cls_token", "blocks.0.norm1.bias", "blocks.0.ad_gate", "blocks.0.out_transform.0.bias_like_weight", "prompt_cor"}
	wantDecay := []string{"cls_pos", "blocks.0.prompt_embeddings", "blocks.0.adapter.down.weight", "scalar"}
	if got := names(g[0].Params); !slices.Equal(got, wantNo) || g[0].WeightDecay != 0 {
		t.Errorf("no-decay group %v (wd %v), want %v", got, g[0].WeightDecay, wantNo)
	}
	if got := names(g[1].Params); !slices.Equal(got, wantDecay) || g[1].WeightDecay != 0.05 {
		t.Errorf("decay group %v (wd %v), want %v", got, g[1].WeightDecay, wantDecay)
	}
}
