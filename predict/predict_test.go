package predict

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pointpeft/pointpeft/internal/oracletest"
	"github.com/pointpeft/pointpeft/pcio"
	"github.com/pointpeft/pointpeft/peft"
)

var oracleClasses = []string{"a", "b", "c", "d", "e"}

// authorsOptions load the authors' exported Point-PEFT fixture (tools/oracle
// make_fixtures.py --authors) with the oracle's reduced sizes.
func authorsOptions(mode peft.Mode) Options {
	return Options{Checkpoint: oracletest.Dir + "pointpeft_authors.pth", Backbone: oracletest.Dir + "pointmae_pretrain.pth",
		Bank: oracletest.Dir + "bank.pt", Classes: oracleClasses, Mode: mode, Groups: 16, GroupSize: 8, PriorGroups: 8, PriorGroupSize: 8}
}

// TestAuthorsCheckpointMatchesOracle runs the authors' checkpoint (module.-wrapped,
// beside an optimizer state) in both modes and compares the logits with PyTorch's:
// each sample alone in faithful mode, the whole batch in fixed mode.
func TestAuthorsCheckpointMatchesOracle(t *testing.T) {
	common := oracletest.Fixture(t, "pointpeft_common.safetensors")
	want := oracletest.Fixture(t, "pointpeft_authors.safetensors")
	pts := common.Tensors["points"]
	for mode, key := range map[peft.Mode]string{peft.Faithful: "faithful.single", peft.Fixed: "fixed"} {
		p, err := Load(authorsOptions(mode))
		if err != nil {
			t.Fatal(err)
		}
		if p.Points != 256 || p.Mode != mode || !strings.Contains(p.Kind, "authors") {
			t.Fatalf("%s: points %d, mode %s, kind %q", mode, p.Points, p.Mode, p.Kind)
		}
		got, err := p.Logits(pts.F32, pts.Shape[0])
		if err != nil {
			t.Fatal(err)
		}
		oracletest.RelClose(t, string(mode)+" logits", got, want.Tensors[key].F32, 1e-4)
	}
}

// TestStrictLoading: the authors' checkpoint loaded as a plain classifier, or without
// its bank, is refused with the tensors named; allowed on purpose, what was skipped is
// listed.
func TestStrictLoading(t *testing.T) {
	opt := authorsOptions(peft.Faithful)
	opt.Bank = ""
	if _, err := Load(opt); err == nil || !strings.Contains(err.Error(), "memory bank") {
		t.Fatalf("no bank: %v", err)
	}
	opt.AllowPartial = true
	p, err := Load(opt)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Skipped) != 1 || !strings.Contains(p.Skipped[0], "memory bank") {
		t.Fatalf("skipped %v", p.Skipped)
	}
	// The fine-tuned Point-MAE classifier with a tensor added that it does not have.
	cls := Options{Checkpoint: oracletest.Dir + "pointmae_finetune.pth", Classes: oracleClasses, Groups: 16, GroupSize: 8}
	if _, err := Load(cls); err != nil {
		t.Fatalf("official classifier: %v", err)
	}
	cls.Classes = oracleClasses[:4]
	if _, err := Load(cls); err == nil || !strings.Contains(err.Error(), "predicts 5 classes") {
		t.Fatalf("wrong class count: %v", err)
	}
}

// TestReadCloudKeepsExactSize: a cloud that already has the model's point count is fed
// unchanged; a larger one goes through FPS.
func TestReadCloudKeepsExactSize(t *testing.T) {
	p := &Predictor{Points: 4}
	dir := t.TempDir()
	exact := []float32{0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1}
	path := filepath.Join(dir, "exact.npy")
	if err := pcio.WriteNPY(path, exact, []int{4, 3}); err != nil {
		t.Fatal(err)
	}
	got, sampler, err := p.ReadCloud(path)
	if err != nil {
		t.Fatal(err)
	}
	if sampler != "as stored" {
		t.Errorf("sampler %q", sampler)
	}
	for i := range exact {
		if got[i] != exact[i] {
			t.Fatalf("the cloud changed: %v", got)
		}
	}
	more := filepath.Join(dir, "more.npy")
	if err := pcio.WriteNPY(more, append(exact, 2, 2, 2), []int{5, 3}); err != nil {
		t.Fatal(err)
	}
	if got, sampler, err = p.ReadCloud(more); err != nil || sampler != "fps" || len(got) != 12 {
		t.Errorf("larger cloud: %d values, sampler %q, %v", len(got), sampler, err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
}
