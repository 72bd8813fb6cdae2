package pcio

import (
	"math"
	"os"
	"path/filepath"
	"testing"
)

// addSeeds adds every fixture with one of the given extensions to the corpus.
func addSeeds(f *testing.F, exts ...string) {
	for _, ext := range exts {
		files, _ := filepath.Glob(filepath.Join("testdata", "*"+ext))
		for _, p := range files {
			b, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
}

// checkCloud asserts the invariants every successful decode must hold.
func checkCloud(t *testing.T, c Cloud) {
	if len(c.Points) == 0 || len(c.Points)%3 != 0 {
		t.Fatalf("bad point slice length %d", len(c.Points))
	}
	if len(c.Extra) != c.Len()*len(c.ExtraNames) {
		t.Fatalf("extra has %d values for %d points and %d channels", len(c.Extra), c.Len(), len(c.ExtraNames))
	}
	for _, v := range c.Points {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			t.Fatalf("non-finite coordinate %v accepted", v)
		}
	}
	if len(c.Faces)%3 != 0 {
		t.Fatalf("face slice length %d", len(c.Faces))
	}
	for _, i := range c.Faces {
		if i < 0 || int(i) >= c.Len() {
			t.Fatalf("face index %d out of range", i)
		}
	}
}

func FuzzReadNPY(f *testing.F) {
	addSeeds(f, ".npy")
	f.Fuzz(func(t *testing.T, b []byte) {
		data, shape, err := DecodeNPY(b)
		if err != nil {
			return
		}
		n := 1
		for _, d := range shape {
			n *= d
		}
		if n != len(data) {
			t.Fatalf("shape %v but %d values", shape, len(data))
		}
		if c, err := decodeNPYCloud(b); err == nil {
			checkCloud(t, c)
		}
	})
}

func FuzzReadPLY(f *testing.F) {
	addSeeds(f, ".ply")
	f.Fuzz(func(t *testing.T, b []byte) {
		if c, err := DecodePLY(b); err == nil {
			checkCloud(t, c)
		}
	})
}

func FuzzReadOFF(f *testing.F) {
	addSeeds(f, ".off")
	f.Fuzz(func(t *testing.T, b []byte) {
		if c, err := DecodeOFF(b); err == nil {
			checkCloud(t, c)
		}
	})
}

func FuzzReadPCD(f *testing.F) {
	addSeeds(f, ".pcd")
	f.Fuzz(func(t *testing.T, b []byte) {
		if c, err := DecodePCD(b); err == nil {
			checkCloud(t, c)
		}
	})
}

func FuzzReadTXT(f *testing.F) {
	addSeeds(f, ".txt", ".xyz")
	f.Fuzz(func(t *testing.T, b []byte) {
		if c, err := DecodeTXT(b); err == nil {
			checkCloud(t, c)
		}
	})
}

func FuzzReadDat(f *testing.F) {
	addSeeds(f, ".dat")
	f.Fuzz(func(t *testing.T, b []byte) {
		arrays, labels, err := DecodeDat(b)
		if err != nil {
			return
		}
		if len(arrays) != len(labels) {
			t.Fatalf("%d arrays, %d labels", len(arrays), len(labels))
		}
		for _, a := range arrays {
			if len(a.Shape) != 2 || a.Shape[0]*a.Shape[1] != len(a.Data) {
				t.Fatalf("shape %v with %d values", a.Shape, len(a.Data))
			}
		}
	})
}
