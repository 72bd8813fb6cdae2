// Package oracletest loads the PyTorch oracle's fixtures (testdata/oracle, written by
// tools/oracle/make_fixtures.py) and compares Go results with them. Tests only.
package oracletest

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/pointpeft/pointpeft/checkpoint"
	"github.com/pointpeft/pointpeft/model"
	"github.com/pointpeft/pointpeft/nn"
	"github.com/pointpeft/pointpeft/tensor"
)

// Dir is the fixture folder as seen from a package directory of the repository.
const Dir = "../testdata/oracle/"

// Fixture reads one safetensors fixture.
func Fixture(t testing.TB, name string) *checkpoint.StateDict {
	t.Helper()
	fx, err := checkpoint.ReadSafetensors(Dir + name)
	if err != nil {
		t.Fatal(err)
	}
	return fx
}

// BackboneConfig turns the oracle's reduced configuration (a JSON object with the
// authors' field names) into a model.Config.
func BackboneConfig(t testing.TB, js string) model.Config {
	t.Helper()
	var raw struct {
		TransDim   int     `json:"trans_dim"`
		Depth      int     `json:"depth"`
		Heads      int     `json:"num_heads"`
		MLPRatio   float64 `json:"mlp_ratio"`
		DropPath   float32 `json:"drop_path_rate"`
		NumGroup   int     `json:"num_group"`
		GroupSize  int     `json:"group_size"`
		Classes    int     `json:"cls_dim"`
		EncWidths  [3]int  `json:"enc_widths"`
		PosHidden  int     `json:"pos_hidden"`
		HeadHidden int     `json:"head_hidden"`
		HeadDrop   float32 `json:"head_dropout"`
	}
	if err := json.Unmarshal([]byte(js), &raw); err != nil {
		t.Fatalf("oracle config %q: %v", js, err)
	}
	if raw.TransDim == 0 || raw.EncWidths[0] == 0 {
		t.Fatalf("oracle config lacks sizes: %s", js)
	}
	return model.Config{Arch: "point-mae", TransDim: raw.TransDim, Depth: raw.Depth, Heads: raw.Heads,
		MLPRatio: int(raw.MLPRatio), EncoderDims: raw.TransDim, NumGroup: raw.NumGroup, GroupSize: raw.GroupSize,
		Classes: raw.Classes, DropPath: raw.DropPath, HeadDropout: raw.HeadDrop, EncoderHidden: raw.EncWidths,
		PosHidden: raw.PosHidden, HeadHidden: raw.HeadHidden}
}

// Labels returns the fixture's int64 "labels" as ints.
func Labels(fx *checkpoint.StateDict) []int {
	var out []int
	for _, v := range fx.Tensors["labels"].I64 {
		out = append(out, int(v))
	}
	return out
}

// RelClose asserts max|got−want| ≤ tol·max|want|.
func RelClose(t testing.TB, what string, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	var md, mr float64
	for i := range got {
		md = math.Max(md, math.Abs(float64(got[i])-float64(want[i])))
		mr = math.Max(mr, math.Abs(float64(want[i])))
	}
	if md > tol*math.Max(mr, 1e-30) {
		t.Errorf("%s: max |diff| %.3g, max |ref| %.3g: relative %.3g > %.1g", what, md, mr, md/math.Max(mr, 1e-30), tol)
	}
}

// CompareGrads checks the gradient of every trainable parameter against the fixture's
// grad.<name> (≤ tol relative). Parameters listed in none must have no gradient (or a
// zero one). A gradient that is exactly zero in theory (the parameter only shifts a
// train-mode BatchNorm's input) is rounding noise in the oracle; those are compared
// against tol × the largest gradient of all instead. It returns how many it compared.
func CompareGrads(t testing.TB, params []*tensor.Tensor, fx *checkpoint.StateDict, none map[string]bool, tol float64) int {
	t.Helper()
	var gmax float64
	for _, k := range fx.Keys {
		if len(k) > 5 && k[:5] == "grad." {
			for _, v := range fx.Tensors[k].F32 {
				gmax = math.Max(gmax, math.Abs(float64(v)))
			}
		}
	}
	n := 0
	for _, p := range params {
		if !p.RequiresGrad() {
			continue
		}
		if none[p.Name()] {
			for _, v := range p.Grad {
				if v != 0 {
					t.Errorf("%s should get no gradient, got %g", p.Name(), v)
					break
				}
			}
			continue
		}
		ref, ok := fx.Tensors["grad."+p.Name()]
		if !ok {
			t.Errorf("oracle has no gradient for trainable %s", p.Name())
			continue
		}
		if p.Grad == nil {
			t.Errorf("%s got no gradient", p.Name())
			continue
		}
		var rmax float64
		for _, v := range ref.F32 {
			rmax = math.Max(rmax, math.Abs(float64(v)))
		}
		if rmax < 1e-5*gmax {
			RelClose(t, "grad "+p.Name()+" (structurally zero)", p.Grad, ref.F32, tol*gmax/math.Max(rmax, 1e-30))
		} else {
			RelClose(t, "grad "+p.Name(), p.Grad, ref.F32, tol)
		}
		n++
	}
	return n
}

// CompareBuffers checks BN statistics against the fixture's bn_after.<name>.
func CompareBuffers(t testing.TB, bufs []nn.Buffer, fx *checkpoint.StateDict, tol float64) {
	t.Helper()
	for _, b := range bufs {
		ref, ok := fx.Tensors["bn_after."+b.Name]
		if !ok {
			t.Errorf("oracle has no %s", b.Name)
			continue
		}
		if b.Count != nil {
			if *b.Count != ref.I64[0] {
				t.Errorf("%s = %d, oracle %d", b.Name, *b.Count, ref.I64[0])
			}
			continue
		}
		RelClose(t, b.Name, b.Data, ref.F32, tol)
	}
}

// InArena runs f inside an arena step, as training, evaluation and prediction do, so
// that the memory machinery (Segment, Free, Scratch, recycling in Backward) runs under
// the comparison; in the tensordebug build every recycled buffer reads as NaN.
func InArena(f func()) {
	a := tensor.NewArena()
	defer a.Close()
	a.Step(f)
}

// Net is a classifier the oracle tests compare: a backbone alone or with a method.
type Net interface {
	nn.Stateful
	Forward(ctx *nn.Ctx, points []float32, b, n int) (*tensor.Tensor, error)
}

// EvalLogits runs net in inference mode on points ([B,N,3]) and compares its logits
// with want.
func EvalLogits(t testing.TB, net Net, points *checkpoint.Tensor, want []float32, tol float64) {
	t.Helper()
	var logits *tensor.Tensor
	var err error
	tensor.NoGrad(func() { logits, err = net.Forward(&nn.Ctx{}, points.F32, points.Shape[0], points.Shape[1]) })
	if err != nil {
		t.Fatal(err)
	}
	RelClose(t, "eval logits", logits.Data, want, tol)
}

// TrainStep runs one training-mode forward of net on points (the step RNG seeded (1, 1),
// Transformer activations recomputed in backward as recompute says), compares its logits with
// fx's train.logits (within logitTol) and its cross-entropy against labels with
// train.loss (1e-4), backpropagates, compares the BatchNorm statistics with bn_after.*
// (1e-4) and checks that no frozen parameter got a gradient buffer. It returns how many
// gradients CompareGrads compared (within 1e-3, none as CompareGrads takes it), for the
// caller to check against the trainable set.
func TrainStep(t testing.TB, net Net, points *checkpoint.Tensor, labels []int, fx *checkpoint.StateDict, recompute nn.Recompute,
	logitTol float64, none map[string]bool) int {
	t.Helper()
	ctx := &nn.Ctx{Train: true, RNG: rand.New(rand.NewPCG(1, 1)), Recompute: recompute}
	logits, err := net.Forward(ctx, points.F32, points.Shape[0], points.Shape[1])
	if err != nil {
		t.Fatal(err)
	}
	RelClose(t, "train logits", logits.Data, fx.Tensors["train.logits"].F32, logitTol)
	loss := tensor.CrossEntropy(logits, labels, 0)
	RelClose(t, "train loss", loss.Data, fx.Tensors["train.loss"].F32, 1e-4)
	tensor.Backward(loss)
	n := CompareGrads(t, net.Params(), fx, none, 1e-3)
	CompareBuffers(t, net.Buffers(), fx, 1e-4)
	for _, p := range net.Params() {
		if !p.RequiresGrad() && p.Grad != nil {
			t.Errorf("frozen %s has a gradient buffer", p.Name())
		}
	}
	return n
}

// FullDir is where a method's full-size oracle outputs are (hundreds of MB, written by
// hand with the oracle script's --full), named by the environment variable env; the test
// is skipped when env is not set.
func FullDir(t testing.TB, env string) string {
	t.Helper()
	dir := os.Getenv(env)
	if dir == "" {
		t.Skipf("%s not set: full-size oracle comparison skipped", env)
	}
	return dir + "/"
}
