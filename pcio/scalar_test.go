package pcio

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/nlpodyssey/gopickle/types"
)

// scalarCase is one value of every type the binary readers decode, with its
// little-endian bytes.
type scalarCase struct {
	typ  scalarType
	le   []byte
	want float64
}

func le(v any) []byte {
	b, err := binary.Append(nil, binary.LittleEndian, v)
	if err != nil {
		panic(err)
	}
	return b
}

var scalarCases = []scalarCase{
	{scalarType{'i', 1}, le(int8(-128)), -128},
	{scalarType{'i', 1}, le(int8(127)), 127},
	{scalarType{'u', 1}, le(uint8(255)), 255},
	{scalarType{'b', 1}, []byte{1}, 1},
	{scalarType{'i', 2}, le(int16(-32768)), -32768},
	{scalarType{'i', 2}, le(int16(-2)), -2},
	{scalarType{'u', 2}, le(uint16(65535)), 65535},
	{scalarType{'i', 4}, le(int32(math.MinInt32)), math.MinInt32},
	{scalarType{'i', 4}, le(int32(-3)), -3},
	{scalarType{'u', 4}, le(uint32(math.MaxUint32)), math.MaxUint32},
	{scalarType{'i', 8}, le(int64(math.MinInt64)), math.MinInt64},
	{scalarType{'i', 8}, le(int64(-5)), -5},
	{scalarType{'i', 8}, le(int64(1<<53 + 1)), 1 << 53}, // rounds to float64
	{scalarType{'u', 8}, le(uint64(math.MaxUint64)), 1 << 64},
	{scalarType{'u', 8}, le(uint64(7)), 7},
	{scalarType{'f', 4}, le(float32(-1.5)), -1.5},
	{scalarType{'f', 4}, le(float32(math.Inf(1))), math.Inf(1)},
	{scalarType{'f', 8}, le(1.0 / 3), 1.0 / 3},
	{scalarType{'f', 8}, le(-1e300), -1e300},
}

func reversed(b []byte) []byte {
	r := slices.Clone(b)
	slices.Reverse(r)
	return r
}

func TestScalarDecode(t *testing.T) {
	for _, c := range scalarCases {
		if !c.typ.valid() {
			t.Fatalf("%c%d not valid", c.typ.kind, c.typ.size)
		}
		if got := c.typ.decode(c.le, binary.LittleEndian); got != c.want {
			t.Errorf("%c%d little-endian % x: got %v, want %v", c.typ.kind, c.typ.size, c.le, got, c.want)
		}
		if got := c.typ.decode(reversed(c.le), binary.BigEndian); got != c.want {
			t.Errorf("%c%d big-endian: got %v, want %v", c.typ.kind, c.typ.size, got, c.want)
		}
		// decode reads only its own bytes.
		if got := c.typ.decode(append(slices.Clone(c.le), 0xff, 0xff), binary.LittleEndian); got != c.want {
			t.Errorf("%c%d with bytes after it: got %v", c.typ.kind, c.typ.size, got)
		}
	}
	all := scalarType{'i', 2}.decodeAll(slices.Concat(le(int16(-1)), le(int16(300))), binary.LittleEndian)
	if !slices.Equal(all, []float32{-1, 300}) {
		t.Errorf("decodeAll: %v", all)
	}
	for _, bad := range []scalarType{{'f', 2}, {'f', 1}, {'i', 3}, {'u', 16}, {'b', 2}, {'c', 8}, {0, 4}} {
		if bad.valid() {
			t.Errorf("%c%d valid", bad.kind, bad.size)
		}
	}
}

// TestPLYScalarTypes reads one vertex holding a property of each of PLY's 16
// type names, in both binary byte orders.
func TestPLYScalarTypes(t *testing.T) {
	names := []string{"char", "int8", "uchar", "uint8", "short", "int16", "ushort", "uint16",
		"int", "int32", "uint", "uint32", "float", "float32", "double", "float64"}
	values := map[scalarType][]byte{
		{'i', 1}: le(int8(-7)), {'u', 1}: le(uint8(250)), {'i', 2}: le(int16(-300)), {'u', 2}: le(uint16(60000)),
		{'i', 4}: le(int32(-70000)), {'u', 4}: le(uint32(4e9)), {'f', 4}: le(float32(0.25)), {'f', 8}: le(-2.5),
	}
	for _, order := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
		format := map[binary.ByteOrder]string{binary.LittleEndian: "binary_little_endian", binary.BigEndian: "binary_big_endian"}[order]
		var hdr bytes.Buffer
		fmt.Fprintf(&hdr, "ply\nformat %s 1.0\nelement vertex 1\nproperty float x\nproperty float y\nproperty float z\n", format)
		body := make([]byte, 12)
		var want []float32
		for i, n := range names {
			typ := plyTypes[n]
			fmt.Fprintf(&hdr, "property %s p%d\n", n, i)
			b := values[typ]
			if order == binary.BigEndian {
				b = reversed(b)
			}
			body = append(body, b...)
			want = append(want, float32(typ.decode(values[typ], binary.LittleEndian)))
		}
		hdr.WriteString("end_header\n")
		c, err := DecodePLY(append(hdr.Bytes(), body...))
		if err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		if !slices.Equal(c.Extra, want) || want[0] != -7 || want[len(want)-1] != -2.5 {
			t.Errorf("%s: got %v, want %v", format, c.Extra, want)
		}
	}
}

// TestPCDScalarTypes reads a binary PCD point with a field of every TYPE and
// SIZE PCD allows (its binary data is little-endian).
func TestPCDScalarTypes(t *testing.T) {
	fields := []struct {
		typ  string
		size int
		le   []byte
		want float32
	}{
		{"I", 1, le(int8(-7)), -7}, {"U", 1, le(uint8(250)), 250},
		{"I", 2, le(int16(-300)), -300}, {"U", 2, le(uint16(60000)), 60000},
		{"I", 4, le(int32(-70000)), -70000}, {"U", 4, le(uint32(4e9)), 4e9},
		{"I", 8, le(int64(-1 << 40)), -1 << 40}, {"U", 8, le(uint64(1 << 50)), 1 << 50},
		{"F", 4, le(float32(0.25)), 0.25}, {"F", 8, le(-2.5), -2.5},
	}
	names, sizes, typs := "x y z", "4 4 4", "F F F"
	body := make([]byte, 12)
	var want []float32
	for i, f := range fields {
		names += fmt.Sprintf(" f%d", i)
		sizes += fmt.Sprintf(" %d", f.size)
		typs += " " + f.typ
		body = append(body, f.le...)
		want = append(want, f.want)
	}
	in := fmt.Sprintf("FIELDS %s\nSIZE %s\nTYPE %s\nWIDTH 1\nPOINTS 1\nDATA binary\n", names, sizes, typs)
	c, err := DecodePCD(append([]byte(in), body...))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Extra, want) {
		t.Errorf("got %v, want %v", c.Extra, want)
	}
	for _, bad := range []string{"F 2", "I 3", "X 4"} {
		var typ string
		var size int
		fmt.Sscan(bad, &typ, &size)
		in := fmt.Sprintf("FIELDS x y z\nSIZE 4 4 %d\nTYPE F F %s\nWIDTH 1\nDATA binary\n", size, typ)
		if _, err := DecodePCD(append([]byte(in), make([]byte, 8+size)...)); err == nil {
			t.Errorf("TYPE/SIZE %s accepted", bad)
		}
	}
}

// TestNumpyScalarTypes fills a pickled NumPy array of every dtype the .dat
// reader accepts, in both byte orders (the dtype's pickled state names it).
func TestNumpyScalarTypes(t *testing.T) {
	for _, c := range scalarCases {
		for _, order := range []string{"<", ">"} {
			name := fmt.Sprintf("%c%d", c.typ.kind, c.typ.size)
			d, err := npNewDtype(name, false, true)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			dt := d.(*npDtype)
			if err := dt.PySetState(types.NewTupleFromSlice([]any{3, order, nil, nil, nil, -1, -1, 0})); err != nil {
				t.Fatal(err)
			}
			raw := c.le
			if order == ">" {
				raw = reversed(raw)
			}
			a := &npArray{}
			if err := a.fill(types.NewTupleFromSlice([]any{1}), dt, raw); err != nil {
				t.Fatalf("%s%s: %v", order, name, err)
			}
			if want := float32(c.want); a.data[0] != want {
				t.Errorf("%s%s: got %v, want %v", order, name, a.data[0], want)
			}
		}
	}
	for _, bad := range []string{"f2", "f1", "i3", "b2", "c8", "U4", "i", "i44"} {
		if _, err := npNewDtype(bad, false, true); err == nil {
			t.Errorf("numpy dtype %q accepted", bad)
		}
	}
}
