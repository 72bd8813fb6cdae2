package checkpoint

import (
	"bytes"
	"strings"
	"testing"
)

func FuzzReadSafetensors(f *testing.F) {
	f.Add(readFile(f, "testdata/reference.safetensors"))
	f.Add(encodeSample(f))
	f.Add(stFile(`{"a":{"dtype":"BF16","shape":[1,2],"data_offsets":[0,4]}}`, make([]byte, 4)))
	f.Fuzz(func(t *testing.T, data []byte) {
		sd, err := ParseSafetensors(data)
		if err != nil {
			return
		}
		// Anything we can read we can write, and read back identically.
		var b bytes.Buffer
		if err := EncodeSafetensors(&b, sd); err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		back, err := ParseSafetensors(b.Bytes())
		if err != nil {
			t.Fatalf("re-read: %v", err)
		}
		if len(back.Keys) != len(sd.Keys) {
			t.Fatalf("re-read %d keys, want %d", len(back.Keys), len(sd.Keys))
		}
	})
}

func FuzzReadPTH(f *testing.F) {
	for _, name := range []string{"nested.pth", "point_bert.pth", "bare.pt", "legacy.pth"} {
		f.Add(readFile(f, "testdata/"+name))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		readAllPTH(data)
	})
}

// FuzzReadPTHPickle mutates only data.pkl of the nested fixture and rebuilds
// a valid zip around it, so the fuzzer explores the unpickler and the tensor
// reconstruction instead of fighting zip CRCs.
func FuzzReadPTHPickle(f *testing.F) {
	base := readFile(f, "testdata/nested.pth")
	var pkl []byte
	rewriteZip(f, base, func(n string, b []byte) []byte {
		if strings.HasSuffix(n, "data.pkl") {
			pkl = b
		}
		return b
	})
	f.Add(pkl)
	f.Fuzz(func(t *testing.T, p []byte) {
		readAllPTH(rewriteZip(t, base, func(n string, b []byte) []byte {
			if strings.HasSuffix(n, "data.pkl") {
				return p
			}
			return b
		}))
	})
}
