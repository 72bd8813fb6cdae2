package checkpoint

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestReadSafetensorsReference(t *testing.T) {
	sd, err := ReadSafetensors("testdata/reference.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	order, want := loadExpected(t, "testdata/reference_expected.json")
	if !reflect.DeepEqual(sd.Keys, order) {
		t.Errorf("keys = %v, want %v", sd.Keys, order)
	}
	for _, k := range order {
		checkTensor(t, k, sd.Tensors[k], want[k])
	}
	if !reflect.DeepEqual(sd.Meta, map[string]string{"format": "pt", "note": "hand-written writer"}) {
		t.Errorf("meta = %v", sd.Meta)
	}
	// Our writer reproduces the Python-written file byte for byte (same
	// order, compact JSON, space padding, F16/BF16 re-encoded exactly).
	var buf bytes.Buffer
	if err := EncodeSafetensors(&buf, sd); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), readFile(t, "testdata/reference.safetensors")) {
		t.Errorf("re-encoded file differs from the reference:\n%q\n%q", buf.Bytes()[:200], readFile(t, "testdata/reference.safetensors")[:200])
	}
}

func sampleStateDict() *StateDict {
	sd := NewStateDict()
	sd.Set("blocks.0.weight", NewF32([]int{2, 3}, []float32{1, -2, 3.5, float32(math.Inf(1)), 0, 1e-30}))
	sd.Set("steps", NewI64([]int{2}, []int64{math.MaxInt64, math.MinInt64}))
	sd.Set("scalar", NewF32(nil, []float32{0.125}))
	sd.Set("empty", NewF32([]int{0, 4}, []float32{}))
	sd.Set("half", &Tensor{DType: "F16", Shape: []int{3}, F32: []float32{0.5, -65504, 1.0 / 1024}})
	sd.Set("bf", &Tensor{DType: "BF16", Shape: []int{2}, F32: []float32{1.5, -3}})
	sd.Set("dbl", &Tensor{DType: "F64", Shape: []int{1}, F32: []float32{0.1}})
	sd.Set("i32", &Tensor{DType: "I32", Shape: []int{2}, I64: []int64{-7, math.MaxInt32}})
	sd.Set("u8", &Tensor{DType: "U8", Shape: []int{2}, I64: []int64{0, 255}})
	sd.Set("mask", &Tensor{DType: "BOOL", Shape: []int{2}, I64: []int64{1, 0}})
	sd.Meta[MetaFormatKey] = MetaFormatValue
	sd.Meta["step"] = "12"
	return sd
}

func TestSafetensorsRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.safetensors")
	sd := sampleStateDict()
	if err := os.WriteFile(path, []byte("old contents"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteSafetensors(path, sd); err != nil {
		t.Fatal(err)
	}
	got, err := ReadSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	assertSameStateDict(t, got, sd)
	if DetectFormat(got) != LayoutPointPEFT {
		t.Errorf("layout %q", DetectFormat(got))
	}
	// No temp file left behind.
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("directory holds %d entries, want 1", len(ents))
	}
	// Deterministic and 8-byte aligned.
	b1 := readFile(t, path)
	var b2 bytes.Buffer
	if err := EncodeSafetensors(&b2, sd); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b1, b2.Bytes()) {
		t.Error("encoding not deterministic")
	}
	n := binary.LittleEndian.Uint64(b1)
	if n%8 != 0 || b1[8+n-1] != ' ' && b1[8+n-1] != '}' {
		t.Errorf("header length %d not padded", n)
	}
	infos, meta, err := ReadSafetensorsHeader(path)
	if err != nil || len(infos) != len(sd.Keys) || meta["step"] != "12" {
		t.Errorf("header = %v %v %v", infos, meta, err)
	}
}

func TestWriteSafetensorsErrors(t *testing.T) {
	dir := t.TempDir()
	bad := []*StateDict{
		{Keys: []string{"a"}, Tensors: map[string]*Tensor{"a": NewF32([]int{2}, []float32{1})}},
		{Keys: []string{"a"}, Tensors: map[string]*Tensor{"a": {DType: "C64", Shape: []int{1}, F32: []float32{1}}}},
		{Keys: []string{"a"}, Tensors: map[string]*Tensor{"a": {DType: "U8", Shape: []int{1}, I64: []int64{256}}}},
		{Keys: []string{"a"}, Tensors: map[string]*Tensor{}},
		{Keys: []string{"a", "a"}, Tensors: map[string]*Tensor{"a": NewF32(nil, []float32{1})}},
		{Keys: []string{"__metadata__"}, Tensors: map[string]*Tensor{"__metadata__": NewF32(nil, []float32{1})}},
	}
	for i, sd := range bad {
		path := filepath.Join(dir, "x.safetensors")
		if err := WriteSafetensors(path, sd); err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("case %d: error = %v", i, err)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("failed writes left %d files", len(ents))
	}
	if err := WriteSafetensors(filepath.Join(dir, "no/such/dir/x"), sampleStateDict()); err == nil {
		t.Error("write into a missing directory succeeded")
	}
}

// stFile builds a safetensors file from a raw header and data.
func stFile(header string, data []byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	b = append(b, header...)
	return append(b, data...)
}

func TestSafetensorsInvalid(t *testing.T) {
	f32 := `{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`
	cases := map[string]struct {
		file []byte
		want string
	}{
		"header length lies": {append(binary.LittleEndian.AppendUint64(nil, 1<<40), "{}"...), "exceeds"},
		"header too short":   {stFile("{", nil), "too small"},
		"not json":           {stFile("[1,2,3] ", nil), "'{'"},
		"bad json":           {stFile(`{"a":`, nil), "header"},
		"unknown dtype":      {stFile(`{"a":{"dtype":"C64","shape":[1],"data_offsets":[0,8]}}`, make([]byte, 8)), "unsupported dtype"},
		"size mismatch":      {stFile(`{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, make([]byte, 8)), "needs 12 bytes"},
		"past end":           {stFile(f32, make([]byte, 4)), "past the end"},
		"trailing data":      {stFile(f32, make([]byte, 12)), "cover 8"},
		"overlap": {stFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`,
			make([]byte, 8)), "overlap"},
		"hole": {stFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, make([]byte, 8)), "hole"},
		"duplicate": {stFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`,
			make([]byte, 8)), "duplicate"},
		"negative dim":  {stFile(`{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}}`, nil), "invalid dimension"},
		"huge shape":    {stFile(`{"a":{"dtype":"F32","shape":[1099511627776,1099511627776],"data_offsets":[0,0]}}`, nil), "too many"},
		"bad offsets":   {stFile(`{"a":{"dtype":"F32","shape":[0],"data_offsets":[4,0]}}`, nil), "invalid data_offsets"},
		"three offsets": {stFile(`{"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0,0]}}`, nil), "want 2"},
		"missing field": {stFile(`{"a":{"dtype":"F32","shape":[0]}}`, nil), "needs dtype"},
		"meta not str":  {stFile(`{"__metadata__":{"x":1}}`, nil), "want a string"},
		"garbage after": {stFile(`{}x`, nil), "trailing garbage"},
		"float shape":   {stFile(`{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}`, make([]byte, 4)), "tensor \"a\""},
	}
	for name, tc := range cases {
		_, err := ParseSafetensors(tc.file)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error = %v, want mention of %q", name, err, tc.want)
		}
	}
	// Valid edge cases: empty header, zero-size tensors, padding.
	for _, ok := range [][]byte{stFile("{}", nil), stFile(`{}      `, nil),
		stFile(`{"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}`, nil)} {
		if _, err := ParseSafetensors(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
}

func TestSafetensorsTruncatedAndFlipped(t *testing.T) {
	for _, data := range [][]byte{readFile(t, "testdata/reference.safetensors"), encodeSample(t)} {
		for n := 0; n < len(data); n++ {
			if _, err := ParseSafetensors(data[:n]); err == nil {
				t.Fatalf("truncation at %d of %d: no error", n, len(data))
			}
		}
		for i := range data {
			for _, x := range []byte{0x01, 0x80, 0xff} {
				d := bytes.Clone(data)
				d[i] ^= x
				ParseSafetensors(d) // must not panic; data flips are undetectable
			}
		}
	}
}

func encodeSample(t testing.TB) []byte {
	var b bytes.Buffer
	if err := EncodeSafetensors(&b, sampleStateDict()); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestHalfConversions(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		f := F16ToF32(uint16(h))
		if f != f {
			if back := F32ToF16(f); back&0x7c00 != 0x7c00 || back&0x3ff == 0 {
				t.Fatalf("NaN %04x -> %04x", h, back)
			}
			continue
		}
		if back := F32ToF16(f); back != uint16(h) {
			t.Fatalf("f16 %04x -> %v -> %04x", h, f, back)
		}
		if back := F32ToBF16(BF16ToF32(uint16(h))); BF16ToF32(uint16(h)) == BF16ToF32(uint16(h)) && back != uint16(h) {
			t.Fatalf("bf16 %04x -> %04x", h, back)
		}
	}
	cases := []struct {
		f float32
		h uint16
	}{
		{1 + 1.0/2048, 0x3c00},            // tie, rounds to even
		{1 + 3.0/2048, 0x3c02},            // tie, rounds up to even
		{65519, 0x7bff},                   // below the overflow threshold
		{65520, 0x7c00},                   // rounds to infinity
		{1e-8, 0x0000},                    // underflow
		{-5.960464477539063e-08, 0x8001},  // smallest subnormal
		{2.98023223876953125e-08, 0x0000}, // half of it: tie to even (zero)
	}
	for _, c := range cases {
		if got := F32ToF16(c.f); got != c.h {
			t.Errorf("F32ToF16(%v) = %04x, want %04x", c.f, got, c.h)
		}
	}
	if got := F32ToBF16(1 + 1.0/256); got != 0x3f80 { // tie to even
		t.Errorf("F32ToBF16 tie = %04x", got)
	}
	if got := F32ToBF16(1 + 3.0/256); got != 0x3f82 {
		t.Errorf("F32ToBF16 tie up = %04x", got)
	}
}

// assertSameStateDict compares keys, metadata, dtypes, shapes (nil and empty
// alike) and values bit for bit.
func assertSameStateDict(t *testing.T, got, want *StateDict) {
	t.Helper()
	if !reflect.DeepEqual(got.Keys, want.Keys) || !reflect.DeepEqual(got.Meta, want.Meta) {
		t.Fatalf("keys/meta: got %v %v, want %v %v", got.Keys, got.Meta, want.Keys, want.Meta)
	}
	for _, k := range want.Keys {
		g, w := got.Tensors[k], want.Tensors[k]
		if g.DType != w.DType || len(g.Shape) != len(w.Shape) || g.Numel() != w.Numel() ||
			len(g.F32) != len(w.F32) || len(g.I64) != len(w.I64) {
			t.Errorf("%s: got %+v, want %+v", k, g, w)
			continue
		}
		for i := range g.Shape {
			if g.Shape[i] != w.Shape[i] {
				t.Errorf("%s: shape %v, want %v", k, g.Shape, w.Shape)
			}
		}
		for i := range w.F32 {
			wv := w.F32[i]
			if w.DType == "F64" {
				wv = float32(float64(wv))
			}
			if math.Float32bits(g.F32[i]) != math.Float32bits(wv) {
				t.Errorf("%s[%d] = %v, want %v", k, i, g.F32[i], wv)
			}
		}
		for i := range w.I64 {
			if g.I64[i] != w.I64[i] {
				t.Errorf("%s[%d] = %v, want %v", k, i, g.I64[i], w.I64[i])
			}
		}
	}
}
