package pickle

import (
	"errors"
	"math/big"
	"strings"
	"testing"

	"github.com/nlpodyssey/gopickle/types"
)

func load(p string, findClass func(module, name string) (any, error)) (any, error) {
	return Load(strings.NewReader(p), int64(len(p)), findClass, nil)
}

func TestLoad(t *testing.T) {
	v, err := load("\x80\x02}X\x05\x00\x00\x00floatG?\xf8\x00\x00\x00\x00\x00\x00s.", nil) // {"float": 1.5}
	if err != nil {
		t.Fatal(err)
	}
	d, ok := v.(*types.Dict)
	if !ok {
		t.Fatalf("got %T, want a dict", v)
	}
	if f, ok := d.Get("float"); !ok || f != 1.5 {
		t.Fatalf(`"float" = %v`, f)
	}

	// The scan runs first: a bad length never reaches gopickle or findClass.
	called := false
	never := func(module, name string) (any, error) { called = true; return nil, errors.New("called") }
	if _, err := load("cos\nsystem\nX\xff\xff\xff\x00.", never); err == nil || called || !strings.Contains(err.Error(), "BINUNICODE of 16777215 bytes") {
		t.Fatalf("bad length: %v (findClass called: %v)", err, called)
	}
	// gopickle's errors keep their cause.
	errNo := errors.New("refused")
	if _, err := load("cos\nsystem\n.", func(string, string) (any, error) { return nil, errNo }); !errors.Is(err, errNo) ||
		!strings.HasPrefix(err.Error(), "unpickle: ") {
		t.Fatalf("findClass error: %v", err)
	}
	// An odd item count makes gopickle's DICT index past its stack: a panic, returned as an error.
	if _, err := load("(N\x85d.", nil); err == nil || !strings.HasPrefix(err.Error(), "malformed pickle: ") {
		t.Fatalf("panicking pickle: %v", err)
	}
}

func TestInt(t *testing.T) {
	huge, _ := new(big.Int).SetString("123456789012345678901234567890", 10)
	for _, c := range []struct {
		in   any
		want int64
		ok   bool
	}{
		{3, 3, true}, {int64(-1 << 40), -1 << 40, true}, {true, 1, true}, {false, 0, true},
		{big.NewInt(-7), -7, true}, {huge, 0, false}, {1.0, 0, false}, {"1", 0, false}, {nil, 0, false},
	} {
		if got, ok := Int(c.in); got != c.want || ok != c.ok {
			t.Errorf("Int(%v) = %d, %v; want %d, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}
