package tensor

import (
	"encoding/json"
	"math"
	"os"
	"testing"
)

// goldenCase mirrors one entry of testdata/ops_golden.json (tools/oracle/ops_golden.py).
type goldenCase struct {
	Name   string `json:"name"`
	Inputs []struct {
		Shape []int     `json:"shape"`
		Data  []float32 `json:"data"`
	} `json:"inputs"`
	Out struct {
		Shape []int     `json:"shape"`
		Data  []float32 `json:"data"`
	} `json:"out"`
	R                 []float32 `json:"r"`
	Grads             [][]float32
	Labels            []int     `json:"labels"`
	Smoothing         float32   `json:"smoothing"`
	RunningMeanBefore []float32 `json:"running_mean_before"`
	RunningVarBefore  []float32 `json:"running_var_before"`
	RunningMeanAfter  []float32 `json:"running_mean_after"`
	RunningVarAfter   []float32 `json:"running_var_after"`
}

// nclToRows turns PyTorch's BatchNorm1d layout [N, C, L] into channels-last [N*L, C].
func nclToRows(x *Tensor) *Tensor {
	n, c, l := x.Dim(0), x.Dim(1), x.Dim(2)
	return Reshape(Permute(x, 0, 2, 1), n*l, c)
}

func rowsToNCL(x *Tensor, n, c, l int) *Tensor {
	return Permute(Reshape(x, n, l, c), 0, 2, 1)
}

// TestGoldenAgainstPyTorch compares outputs and gradients with torch 1.13 (max |diff| /
// max |ref| ≤ 1e-5: float32 ops of a few dozen terms agree to a few ulps).
func TestGoldenAgainstPyTorch(t *testing.T) {
	raw, err := os.ReadFile("testdata/ops_golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Torch string       `json:"torch"`
		Cases []goldenCase `json:"cases"`
	}
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	if len(file.Cases) < 8 {
		t.Fatalf("only %d golden cases", len(file.Cases))
	}
	for _, c := range file.Cases {
		ins := make([]*Tensor, len(c.Inputs))
		for i, in := range c.Inputs {
			ins[i] = NewParam("in", append([]float32(nil), in.Data...), in.Shape...)
		}
		var st *BatchNormState
		var out *Tensor
		switch c.Name {
		case "layernorm":
			out = LayerNorm(ins[0], ins[1], ins[2], 1e-5)
		case "batchnorm_train", "batchnorm_eval":
			st = &BatchNormState{Mean: append([]float32(nil), c.RunningMeanBefore...),
				Var: append([]float32(nil), c.RunningVarBefore...), Momentum: 0.1, Eps: 1e-5}
			x := ins[0]
			y := BatchNorm(nclToRows(x), ins[1], ins[2], st, c.Name == "batchnorm_train")
			out = rowsToNCL(y, x.Dim(0), x.Dim(1), x.Dim(2))
		case "gelu":
			out = GELU(ins[0])
		case "softmax":
			out = Softmax(ins[0])
		case "log_softmax":
			out = LogSoftmax(ins[0])
		case "cross_entropy_0", "cross_entropy_0.1":
			out = CrossEntropy(ins[0], c.Labels, c.Smoothing)
		default:
			t.Fatalf("unknown golden case %q", c.Name)
		}
		if !SameShape(out.shape, c.Out.Shape) {
			t.Fatalf("%s: shape %v, want %v", c.Name, out.shape, c.Out.Shape)
		}
		assertClose(t, c.Name+" output", out.Data, c.Out.Data, 1e-5)
		Backward(SumAll(Mul(out, FromData(c.R, c.Out.Shape...))))
		for i, g := range c.Grads {
			assertClose(t, c.Name+" gradient", ins[i].Grad, g, 1e-5)
		}
		if c.Name == "batchnorm_train" {
			assertClose(t, "running mean", st.Mean, c.RunningMeanAfter, 1e-6)
			assertClose(t, "running var", st.Var, c.RunningVarAfter, 1e-6)
		}
	}
}

func assertClose(t *testing.T, what string, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	var maxDiff, maxRef float64
	for i := range got {
		maxDiff = math.Max(maxDiff, math.Abs(float64(got[i])-float64(want[i])))
		maxRef = math.Max(maxRef, math.Abs(float64(want[i])))
	}
	if maxDiff > tol*math.Max(maxRef, 1e-12) {
		t.Errorf("%s: max |diff| %.3g = %.3g of max |ref| %.3g (tolerance %.1g)", what, maxDiff, maxDiff/maxRef, maxRef, tol)
	}
}
