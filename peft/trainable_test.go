package peft

import (
	"math/rand/v2"
	"testing"

	"github.com/pointpeft/pointpeft/model"
)

// TestAuthorsParameterCounts builds the full-size models and checks the spec's §5
// counts, per module group too.
func TestAuthorsParameterCounts(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, tc := range []struct {
		name             string
		bb               model.Config
		cfg              Config
		trainable, total int
		groups           map[string]int
	}{
		{"PB_T50_RS", model.PointMAE(15, 128, 32), ScanObjectNN(Fixed), 773_017, 22_560_409, map[string]int{
			"prompt tokens (Point-prior Prompt)":         46_080,
			"FFN adapters (GA-Adapter)":                  152_256,
			"residual adapters (GA-Adapter)":             152_256,
			"cache-prompt adapters (Point-prior Prompt)": 78_432,
			"local attention (GA-Adapter)":               28_032 + 768,
			"pooling BatchNorm (GA-Adapter)":             9_216,
			"backbone block biases":                      36_864,
			"cls token":                                  768,
			"prompt coordinates":                         30,
			"final norm":                                 768,
			"head":                                       267_535,
			"ad_gate (unused)":                           12,
		}},
		{"ModelNet40", model.PointMAE(40, 64, 32), ModelNet40(Faithful), 807_108, 22_594_500, nil},
	} {
		bb, err := model.New(tc.bb, rng)
		if err != nil {
			t.Fatal(err)
		}
		m, err := New(bb, tc.cfg, rng)
		if err != nil {
			t.Fatal(err)
		}
		for i, b := range m.Blocks {
			if b.GA.Local != m.Blocks[0].GA.Local {
				t.Fatalf("%s: block %d has its own local attention; the authors share one", tc.name, i)
			}
		}
		if err := SetTrainable(m.Params(), MethodPointPEFT); err != nil {
			t.Fatal(err)
		}
		s := Summarize(m.Params())
		if s.Trainable != tc.trainable || s.Total != tc.total {
			t.Errorf("%s: %d trainable of %d, want %d of %d", tc.name, s.Trainable, s.Total, tc.trainable, tc.total)
		}
		for _, g := range s.Groups {
			if want, ok := tc.groups[g.Group]; ok && g.Trainable != want {
				t.Errorf("%s: %s has %d trainable, want %d", tc.name, g.Group, g.Trainable, want)
			}
		}
	}
}
