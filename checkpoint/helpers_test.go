package checkpoint

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"io"
	"math"
	"os"
	"testing"
)

// expectedTensor is one entry of testdata/*_expected.json, written by
// tools/fixtures/checkpoint_pth.py from the tensors torch itself held.
type expectedTensor struct {
	DType  string        `json:"dtype"`
	Shape  []int         `json:"shape"`
	Values []json.Number `json:"values"`
}

// loadExpected returns the expected tensors and their order in the file.
func loadExpected(t *testing.T, path string) ([]string, map[string]expectedTensor) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if _, err := dec.Token(); err != nil {
		t.Fatal(err)
	}
	var order []string
	m := map[string]expectedTensor{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		var e expectedTensor
		if err := dec.Decode(&e); err != nil {
			t.Fatal(err)
		}
		order = append(order, tok.(string))
		m[tok.(string)] = e
	}
	return order, m
}

// checkTensor compares a tensor with the values torch reported, exactly:
// float dtypes as float32 bit patterns (torch converted to float32 before
// printing, so the decimal strings round-trip), integers as int64.
func checkTensor(t *testing.T, name string, got *Tensor, want expectedTensor) {
	t.Helper()
	if got.DType != want.DType {
		t.Errorf("%s: dtype %s, want %s", name, got.DType, want.DType)
	}
	if len(got.Shape) != len(want.Shape) {
		t.Errorf("%s: shape %v, want %v", name, got.Shape, want.Shape)
		return
	}
	for i := range want.Shape {
		if got.Shape[i] != want.Shape[i] {
			t.Errorf("%s: shape %v, want %v", name, got.Shape, want.Shape)
			return
		}
	}
	if got.IsFloat() {
		if len(got.F32) != len(want.Values) || got.I64 != nil {
			t.Errorf("%s: %d float values (I64 %v), want %d", name, len(got.F32), got.I64, len(want.Values))
			return
		}
		for i, v := range want.Values {
			f, err := v.Float64()
			if err != nil {
				t.Fatal(err)
			}
			if math.Float32bits(got.F32[i]) != math.Float32bits(float32(f)) {
				t.Errorf("%s[%d] = %v, want %v", name, i, got.F32[i], float32(f))
			}
		}
		return
	}
	if len(got.I64) != len(want.Values) || got.F32 != nil {
		t.Errorf("%s: %d int values, want %d", name, len(got.I64), len(want.Values))
		return
	}
	for i, v := range want.Values {
		n, err := v.Int64()
		if err != nil {
			t.Fatal(err)
		}
		if got.I64[i] != n {
			t.Errorf("%s[%d] = %d, want %d", name, i, got.I64[i], n)
		}
	}
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// rewriteZip copies a zip archive, letting edit change (or drop, by
// returning nil) each entry's content. Used to build corrupted checkpoints
// whose zip structure is still valid.
func rewriteZip(t testing.TB, data []byte, edit func(name string, b []byte) []byte) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		b = edit(f.Name, b)
		if b == nil {
			continue
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.Name, Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(b)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// readAllPTH exercises every read path of a .pth held in memory: the top
// level, each top-level entry, and the model dict. It returns the first
// error of the model dict read (or of opening).
func readAllPTH(data []byte) error {
	c, err := ParsePTH(data)
	if err != nil {
		return err
	}
	defer c.Close()
	for _, k := range c.TopKeys() {
		c.Top(k)
		c.Describe(k)
		c.TensorInfos(k)
		c.StateDict(k)
	}
	c.TensorInfos("")
	c.StateDict("")
	_, err = c.StateDict(c.ModelKey())
	return err
}

func addZipEntry(t testing.TB, data []byte, name string, content []byte) []byte {
	t.Helper()
	var added bool
	out := rewriteZip(t, data, func(n string, b []byte) []byte { return b })
	// rewriteZip cannot add entries, so append one by re-writing again.
	zr, err := zip.NewReader(bytes.NewReader(out), int64(len(out)))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range zr.File {
		if err := zw.Copy(f); err != nil {
			t.Fatal(err)
		}
		if !added {
			w, _ := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store})
			w.Write(content)
			added = true
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
