package serve

import (
	"encoding/json"
	"net/http"
	"testing"
)

// FuzzPredict feeds the predict handler arbitrary bodies in every format: it must
// answer 200, 400 or 413 with a JSON body, and never panic (a recovered panic would
// be a 500).
func FuzzPredict(f *testing.F) {
	formats := []string{"npy", "ply", "off", "pcd", "txt", "xyz", "json"}
	f.Add(uint8(0), testCloud(f, 256, 1))
	f.Add(uint8(1), []byte("ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\nproperty float y\nproperty float z\nelement face 1\nproperty list uchar int vertex_indices\nend_header\n0 0 0\n1 0 0\n0 1 0\n3 0 1 2\n"))
	f.Add(uint8(1), []byte("ply\nformat binary_little_endian 1.0\nelement vertex 2\nproperty float x\nproperty float y\nproperty float z\nend_header\n"))
	f.Add(uint8(2), []byte("OFF\n4 2 0\n0 0 0\n1 0 0\n0 1 0\n0 0 1\n3 0 1 2\n3 0 2 9\n"))
	f.Add(uint8(3), []byte("VERSION .7\nFIELDS x y z\nSIZE 4 4 4\nTYPE F F F\nCOUNT 1 1 1\nWIDTH 2\nHEIGHT 1\nPOINTS 2\nDATA ascii\n0 0 0\n1 1 nan\n"))
	f.Add(uint8(4), []byte("0 0 0\n1 2 3\n4 5 6\n"))
	f.Add(uint8(5), []byte("1e39 0 0\n"))
	f.Add(uint8(6), []byte(`{"points":[[0,0,0],[1,1,1]]}`))
	f.Add(uint8(6), []byte(`{"points":[[0,0,1e39]]}`))
	root := f.TempDir()
	bb := writeBackbone(f, root)
	writeAdapter(f, bb, root+"/m.safetensors", "pointlora", "", classNames("c", 3), 1)
	s, err := New(Options{Backbone: bb, Adapters: root, MaxBody: 1 << 16, MaxPoints: 4096})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(s.Close)
	f.Fuzz(func(t *testing.T, format uint8, body []byte) {
		rec, _ := post(t, s, "/v1/models/m/predict?format="+formats[int(format)%len(formats)], "", body)
		switch rec.Code {
		case http.StatusOK, http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		default:
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("not JSON: %q", rec.Body)
		}
	})
}
