package pickle

import (
	"archive/zip"
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	gopickle "github.com/nlpodyssey/gopickle/pickle"
)

// addFixtures seeds the corpus with every pickle the repository's tests use:
// this package's Python-written pickles, pcio's ModelNet .dat caches and the
// data.pkl of checkpoint's .pth files (and the legacy file, itself a pickle).
func addFixtures(f *testing.F) {
	add := func(pattern string, each func(string, []byte)) {
		files, err := filepath.Glob(pattern)
		if err != nil || len(files) == 0 {
			f.Fatalf("no fixtures match %s", pattern)
		}
		for _, p := range files {
			b, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			each(p, b)
		}
	}
	seed := func(_ string, b []byte) { f.Add(b) }
	add("testdata/*.pkl", seed)
	add("../../pcio/testdata/*.dat", seed)
	add("../../checkpoint/testdata/legacy.pth", seed)
	add("../../checkpoint/testdata/*.pt*", func(p string, b []byte) {
		zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return // the legacy file, added whole above
		}
		for _, zf := range zr.File {
			if strings.HasSuffix(zf.Name, "data.pkl") {
				rc, err := zf.Open()
				if err != nil {
					f.Fatalf("%s: %v", p, err)
				}
				pkl, err := io.ReadAll(rc)
				rc.Close()
				if err != nil {
					f.Fatalf("%s: %v", p, err)
				}
				f.Add(pkl)
			}
		}
	})
}

// endReader is the input of the unpickler, noting whether it was asked for
// more than it holds.
type endReader struct {
	*bytes.Reader
	hitEnd bool
}

func (r *endReader) Read(p []byte) (int, error) {
	n, err := r.Reader.Read(p)
	if err == io.EOF {
		r.hitEnd = true
	}
	return n, err
}

func (r *endReader) ReadByte() (byte, error) {
	b, err := r.Reader.ReadByte()
	if err == io.EOF {
		r.hitEnd = true
	}
	return b, err
}

// FuzzScan: Scan never panics; its verdict does not depend on how the input
// is read (byte by byte through a 16-byte buffer or at once); and what it
// accepts never makes gopickle, which the callers run next, read or allocate
// past the end of the input, the thing the scan is there to prevent.
func FuzzScan(f *testing.F) {
	addFixtures(f)
	f.Fuzz(func(t *testing.T, p []byte) {
		err := Scan(bytes.NewReader(p), int64(len(p)))
		slow := Scan(bufio.NewReaderSize(iotest.OneByteReader(bytes.NewReader(p)), 16), int64(len(p)))
		if fmt.Sprint(err) != fmt.Sprint(slow) {
			t.Fatalf("read at once: %v; read byte by byte: %v", err, slow)
		}
		if err != nil {
			return
		}
		in := &endReader{Reader: bytes.NewReader(p)}
		u := gopickle.NewUnpickler(in)
		u.PersistentLoad = func(id any) (any, error) { return id, nil }
		func() {
			defer func() { _ = recover() }() // gopickle's own panics are the callers' to recover
			_, _ = u.Load()
		}()
		if in.hitEnd {
			t.Fatal("accepted, but gopickle ran past the end of the input")
		}
	})
}
