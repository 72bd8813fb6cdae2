package pickle

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// scan runs Scan over b, with size len(b) unless size >= 0.
func scan(b []byte, size int64) error {
	if size < 0 {
		size = int64(len(b))
	}
	return Scan(bytes.NewReader(b), size)
}

// TestScanPythonPickles: what Python's own pickler writes (every protocol,
// tools/oracle/pickle_fixtures.py) is accepted, with or without bytes after
// STOP, and every proper prefix of it is refused.
func TestScanPythonPickles(t *testing.T) {
	files, err := filepath.Glob("testdata/*.pkl")
	if err != nil || len(files) < 7 {
		t.Fatalf("fixtures: %v %v", files, err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := scan(b, -1); err != nil {
			t.Errorf("%s: %v", f, err)
		}
		if err := scan(append(bytes.Clone(b), 0xff, 'X', 0xff), -1); err != nil {
			t.Errorf("%s with trailing bytes: %v", f, err)
		}
		for k := range len(b) {
			if scan(b[:k], -1) == nil {
				t.Fatalf("%s cut to %d of %d bytes accepted", f, k, len(b))
			}
		}
	}
}

// TestScanRules gives each rule a pickle that breaks it. The first four rules
// are those the two scanners this package replaces lacked: pcio's refused
// EMPTY_SET and let empty LONG1/LONG4 through (gopickle then indexes their
// missing sign byte), checkpoint's read LONG4 and BINSTRING lengths as
// unsigned.
func TestScanRules(t *testing.T) {
	cases := []struct {
		name string
		in   string
		size int64 // -1: len(in)
		want string
	}{
		{"EMPTY_SET is known", "\x80\x04\x8f.", -1, ""},
		{"empty LONG1", "\x80\x02\x8a\x00.", -1, "pickle offset 2: LONG1 is empty"},
		{"empty LONG4", "\x80\x02\x8b\x00\x00\x00\x00.", -1, "pickle offset 2: LONG4 is empty"},
		{"negative LONG4", "\x8b\xff\xff\xff\xff", 1 << 40, "pickle offset 0: LONG4 has negative length -1"},
		{"negative BINSTRING", "T\x00\x00\x00\x80", 1 << 40, "BINSTRING has negative length -2147483648"},
		{"BINUNICODE length is unsigned", "X\x00\x00\x00\x80", -1, "BINUNICODE of 2147483648 bytes runs past the end (0 bytes left)"},
		{"LONG1 past the end", "\x8a\x05\x01.", -1, "LONG1 of 5 bytes runs past the end (2 bytes left)"},
		{"BINBYTES8 of 2^62", "\x80\x04\x8e\x00\x00\x00\x00\x00\x00\x00\x40.", -1, "pickle offset 2: BINBYTES8 of 4611686018427387904 bytes runs past the end"},
		{"length cut short", "\x8d\x01\x02", -1, "BINUNICODE8 length: runs past the end"},
		{"FRAME past the end", "\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00N.", -1, "pickle offset 2: FRAME of 16 bytes runs past the end (2 bytes left)"},
		{"FRAME within the pickle", "\x80\x04\x95\x02\x00\x00\x00\x00\x00\x00\x00N.", -1, ""},
		{"fixed argument cut short", "J\x01\x02", -1, "pickle offset 0: BININT argument: runs past the end"},
		{"unterminated line", "cos\nsys", -1, "pickle offset 0: GLOBAL argument: unterminated line"},
		{"unknown opcode", "\x80\x02N\xff.", -1, "pickle offset 3: unknown opcode 0xff"},
		{"opcode past protocol 5", "\x99.", -1, "unknown opcode 0x99"},
		{"no STOP", "\x80\x02N", -1, "pickle ends without STOP opcode"},
		{"empty", "", -1, "pickle ends without STOP opcode"},
		{"bytes after STOP are not read", "N.\xff\xff", -1, ""},
	}
	for _, c := range cases {
		err := scan([]byte(c.in), c.size)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: got %v, want %q", c.name, err, c.want)
		}
	}
}

// TestScanStreams: a line longer than the reader's buffer is one argument,
// and a *bufio.Reader is read as it is (nothing beyond STOP is consumed).
func TestScanStreams(t *testing.T) {
	in := "V" + strings.Repeat("a", 100) + "\n.rest"
	r := bufio.NewReaderSize(strings.NewReader(in), 16)
	if err := Scan(r, int64(len(in))); err != nil {
		t.Fatal(err)
	}
	if rest, _ := r.ReadString(0); rest != "rest" {
		t.Fatalf("after STOP the reader holds %q, want %q", rest, "rest")
	}
}
