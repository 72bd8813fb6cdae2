package geom

import (
	"encoding/json"
	"os"
	"slices"
	"testing"
)

// TestTorchFixture checks FPS and KNN indices against the plain-torch
// reference in tools/fixtures/geom_fixture.py (committed output; torch is
// not needed to run this test).
func TestTorchFixture(t *testing.T) {
	raw, err := os.ReadFile("testdata/geom_fixture.json")
	if err != nil {
		t.Fatal(err)
	}
	var fx struct {
		Cases []struct {
			B, N, M, Q, K   int
			Points, Queries []float64
			FPS, KNN        []int32
		}
	}
	if err := json.Unmarshal(raw, &fx); err != nil {
		t.Fatal(err)
	}
	if len(fx.Cases) == 0 {
		t.Fatal("fixture has no cases")
	}
	f32 := func(v []float64) []float32 {
		out := make([]float32, len(v))
		for i, x := range v {
			out[i] = float32(x) // exact: the values are float32s
		}
		return out
	}
	for _, c := range fx.Cases {
		p, q := f32(c.Points), f32(c.Queries)
		fps, err := FPS(p, c.B, c.N, c.M)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(fps, c.FPS) {
			t.Errorf("b=%d n=%d m=%d: FPS differs from torch\n got %v\nwant %v", c.B, c.N, c.M, fps, c.FPS)
		}
		knn, err := KNN(p, c.B, c.N, q, c.Q, c.K)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(knn, c.KNN) {
			t.Errorf("b=%d n=%d q=%d k=%d: KNN differs from torch", c.B, c.N, c.Q, c.K)
		}
	}
}
