package peft

import (
	"path/filepath"
	"testing"

	"github.com/pointpeft/pointpeft/internal/oracletest"
	"github.com/pointpeft/pointpeft/pcio"
)

// TestLoadBankNPY: a bank as .npy loads in our [N, Dim] layout and in the authors'
// [Dim, N], giving the same bank as their .pt.
func TestLoadBankNPY(t *testing.T) {
	want, err := LoadBank(oracletest.Dir+"bank.pt", 36, "")
	if err != nil {
		t.Fatal(err)
	}
	n, c := want.Len(), want.Dim
	theirs := make([]float32, n*c)
	for j := 0; j < n; j++ {
		for i := 0; i < c; i++ {
			theirs[i*n+j] = want.Features[j*c+i]
		}
	}
	dir := t.TempDir()
	for name, arr := range map[string]struct {
		data  []float32
		shape []int
	}{"ours.npy": {want.Features, []int{n, c}}, "theirs.npy": {theirs, []int{c, n}}} {
		path := filepath.Join(dir, name)
		if err := pcio.WriteNPY(path, arr.data, arr.shape); err != nil {
			t.Fatal(err)
		}
		got, err := LoadBank(path, 36, "")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for i := range want.Features {
			if got.Features[i] != want.Features[i] {
				t.Fatalf("%s: feature %d differs", name, i)
			}
		}
	}
	bad := filepath.Join(dir, "bad.npy")
	pcio.WriteNPY(bad, make([]float32, 10*7), []int{10, 7})
	if _, err := LoadBank(bad, 36, ""); err == nil {
		t.Error("a [10, 7] array loaded as a 36-wide bank")
	}
}
