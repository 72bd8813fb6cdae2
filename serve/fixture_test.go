package serve

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pointpeft/pointpeft/checkpoint"
	"github.com/pointpeft/pointpeft/model"
	"github.com/pointpeft/pointpeft/nn"
	"github.com/pointpeft/pointpeft/pcio"
	"github.com/pointpeft/pointpeft/peft"
	_ "github.com/pointpeft/pointpeft/peft/pointlora"
	"github.com/pointpeft/pointpeft/train"
)

// tinyCfg is a 2-block, 24-wide Point-MAE fed 16 groups of 16 points (256 points).
var tinyCfg = model.Config{Arch: "point-mae", TransDim: 24, Depth: 2, Heads: 6, MLPRatio: 2, EncoderDims: 24,
	NumGroup: 16, GroupSize: 16, EncoderHidden: [3]int{16, 32, 48}, PosHidden: 16, HeadHidden: 32}

// writeBackbone writes a random tiny pre-trained backbone (no head) to dir.
func writeBackbone(t testing.TB, dir string) string {
	t.Helper()
	return writeBackboneSeed(t, dir, 5)
}

// writeBackboneSeed is writeBackbone with other random weights.
func writeBackboneSeed(t testing.TB, dir string, seed uint64) string {
	t.Helper()
	cfg := tinyCfg
	cfg.Classes = 2
	m, err := model.New(cfg, rand.New(rand.NewPCG(seed, 5)))
	if err != nil {
		t.Fatal(err)
	}
	sd := nn.StateDict(m, false)
	for _, k := range append([]string(nil), sd.Keys...) {
		if strings.HasPrefix(k, "cls_head_finetune.") {
			sd.Delete(k)
		}
	}
	js, _ := json.Marshal(cfg)
	sd.Meta[checkpoint.MetaFormatKey] = checkpoint.MetaFormatValue
	sd.Meta[train.MetaModelConfig] = string(js)
	path := filepath.Join(dir, "backbone.safetensors")
	if err := checkpoint.WriteSafetensors(path, sd); err != nil {
		t.Fatal(err)
	}
	return path
}

// classNames are n class names starting with prefix.
func classNames(prefix string, n int) []string {
	c := make([]string, n)
	for i := range c {
		c[i] = fmt.Sprintf("%s%d", prefix, i)
	}
	return c
}

// writeAdapter fine-tunes nothing but gives method's trainable tensors random values
// (seeded), and writes the adapter file path, as a run would.
func writeAdapter(t testing.TB, backbone, path string, method peft.Method, mode peft.Mode, classes []string, seed uint64) {
	t.Helper()
	writeModel(t, backbone, path, method, mode, classes, seed, true)
}

// writeModel is writeAdapter, or with adapterOnly false a full checkpoint.
func writeModel(t testing.TB, backbone, path string, method peft.Method, mode peft.Mode, classes []string, seed uint64, adapterOnly bool) {
	t.Helper()
	bb, _, err := train.LoadBackbone(backbone, len(classes), tinyCfg.NumGroup, tinyCfg.GroupSize)
	if err != nil {
		t.Fatal(err)
	}
	pcfg := peft.ScanObjectNN(mode)
	pcfg.NumTokens, pcfg.PromptLayers, pcfg.AdapterDim, pcfg.CPReduction = 4, []int{0}, 8, 4
	pcfg.PriorGroups, pcfg.PriorGroupSize = 8, 16
	m, err := train.NewModel(bb, method, pcfg, classes, nil, seed)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, 11))
	for _, p := range m.Net.Params() {
		if p.RequiresGrad() {
			for i := range p.Data {
				p.Data[i] += float32(rng.NormFloat64()) * 0.3
			}
		}
	}
	sd, err := m.StateDict(adapterOnly)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkpoint.WriteSafetensors(path, sd); err != nil {
		t.Fatal(err)
	}
}

// testCloud is a seeded random cloud of n points as an .npy body.
func testCloud(t testing.TB, n int, seed uint64) []byte {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 3))
	pts := make([]float32, 3*n)
	for i := range pts {
		pts[i] = float32(rng.NormFloat64())
	}
	var b strings.Builder
	if err := pcio.EncodeNPY(&b, pts, []int{n, 3}); err != nil {
		t.Fatal(err)
	}
	return []byte(b.String())
}
