package pcio

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func td(name string) string { return filepath.Join("testdata", name) }

func mustNPY(t *testing.T, name string) ([]float32, []int) {
	t.Helper()
	d, s, err := ReadNPY(td(name))
	if err != nil {
		t.Fatal(err)
	}
	return d, s
}

func near(a, b []float32, tol float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(float64(a[i]-b[i])) > tol {
			return false
		}
	}
	return true
}

func TestNPYVersionsAndTypes(t *testing.T) {
	want, shape := mustNPY(t, "cloud_f4.expect.npy")
	if len(shape) != 2 || shape[0] != 5 || shape[1] != 3 {
		t.Fatalf("shape %v", shape)
	}
	for _, f := range []string{"cloud_f4.npy", "cloud_v2.npy", "cloud_v3.npy"} {
		got, s := mustNPY(t, f)
		if !near(got, want, 0) || len(s) != 2 {
			t.Errorf("%s: got %v %v", f, got, s)
		}
	}
	be, s := mustNPY(t, "cloud_f8_be.npy")
	if len(s) != 2 || s[0] != 4 || s[1] != 6 || len(be) != 24 {
		t.Fatalf("big-endian f8: shape %v", s)
	}
	for _, v := range be {
		if v < -1 || v > 1 {
			t.Fatalf("big-endian f8 decoded to %v", v)
		}
	}
	_, s = mustNPY(t, "scalar3d.npy")
	if len(s) != 3 || s[0] != 2 || s[1] != 4 || s[2] != 9 {
		t.Fatalf("3-d shape %v", s)
	}
	_, _, err := ReadNPY(td("fortran.npy"))
	if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "fortran.npy") {
		t.Fatalf("fortran order: %v", err)
	}
}

func TestNPYRoundTrip(t *testing.T) {
	p := filepath.Join(t.TempDir(), "a.npy")
	data := []float32{1, 2, 3, 4, 5, 6.5}
	for _, shape := range [][]int{{2, 3}, {6}, {1, 2, 3}} {
		if err := WriteNPY(p, data, shape); err != nil {
			t.Fatal(err)
		}
		got, s, err := ReadNPY(p)
		if err != nil || !near(got, data, 0) || len(s) != len(shape) {
			t.Fatalf("round trip %v: %v %v %v", shape, got, s, err)
		}
		raw, _ := os.ReadFile(p)
		if (len(raw)-len(data)*4)%64 != 0 {
			t.Errorf("data not 64-byte aligned: file %d bytes", len(raw))
		}
	}
	if err := WriteNPY(p, data, []int{4}); err == nil {
		t.Fatal("shape mismatch accepted")
	}
}

func TestNPYBadInput(t *testing.T) {
	good, _ := os.ReadFile(td("cloud_f4.npy"))
	cases := map[string][]byte{
		"empty":     {},
		"magic":     []byte("NOTNUMPY........"),
		"truncated": good[:len(good)-1],
		"header":    append(append([]byte{}, good[:8]...), 0xff, 0xff),
		"dtype":     bytes.Replace(good, []byte("<f4"), []byte("<i4"), 1),
		"shape":     bytes.Replace(good, []byte("(5, 3)"), []byte("(9, 3)"), 1),
		"huge":      bytes.Replace(good, []byte("(5, 3)"), []byte("(999999999999, 3)"), 1),
	}
	for name, b := range cases {
		if _, _, err := DecodeNPY(b); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestTXT(t *testing.T) {
	c, err := ReadTXT(td("airplane_0001.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Len() != 8 || len(c.ExtraNames) != 3 || c.ExtraNames[0] != "nx" {
		t.Fatalf("got %d points, channels %v", c.Len(), c.ExtraNames)
	}
	nz, ok := c.Channel("nz")
	if !ok || len(nz) != 8 {
		t.Fatal("no nz channel")
	}
	xyz, err := ReadCloud(td("cloud.xyz"))
	if err != nil || !near(xyz.Points, c.Points, 1e-6) || xyz.Extra != nil {
		t.Fatalf("xyz: %v", err)
	}
	p := filepath.Join(t.TempDir(), "w.txt")
	if err := WriteTXT(p, c); err != nil {
		t.Fatal(err)
	}
	c2, err := ReadTXT(p)
	if err != nil || !near(c2.Points, c.Points, 0) || !near(c2.Extra, c.Extra, 0) {
		t.Fatalf("round trip: %v", err)
	}
	bad := map[string]string{
		"empty":   "",
		"comment": "# nothing\n\n",
		"twocol":  "1 2\n",
		"ragged":  "1 2 3\n1 2 3 4\n",
		"word":    "1 2 x\n",
		"nan":     "1 2 3\nnan 0 0\n",
		"inf":     "1,2,+Inf\n",
	}
	for name, s := range bad {
		if _, err := DecodeTXT([]byte(s)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := DecodeTXT([]byte("1, 2 ,3\r\n4\t5 6\n")); err != nil {
		t.Errorf("mixed separators: %v", err)
	}
}

func TestPLY(t *testing.T) {
	want, _ := mustNPY(t, "ply.expect.npy")
	for _, f := range []string{"cloud_little.ply", "cloud_big.ply"} {
		c, err := ReadPLY(td(f))
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < c.Len(); i++ {
			if !near(c.Points[i*3:i*3+3], want[i*4:i*4+3], 0) {
				t.Fatalf("%s: point %d = %v", f, i, c.Points[i*3:i*3+3])
			}
		}
		in, _ := c.Channel("intensity")
		red, _ := c.Channel("red")
		if in[5] != want[5*4+3] || red[2] != 20 {
			t.Fatalf("%s: channels %v %v", f, in, red)
		}
		// A triangle and a quad give three triangles.
		wantF := []int32{0, 1, 2, 2, 3, 4, 2, 4, 5}
		if len(c.Faces) != len(wantF) {
			t.Fatalf("%s: faces %v", f, c.Faces)
		}
		for i := range wantF {
			if c.Faces[i] != wantF[i] {
				t.Fatalf("%s: faces %v", f, c.Faces)
			}
		}
	}
	// CGAL's file: double xyz, normals, colours, a face list with extra
	// properties and an extra "edge" element after the faces.
	c, err := ReadCloud(td("colored_tetra.ply"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Len() != 4 || len(c.Faces) != 12 || strings.Join(c.ExtraNames, ",") != "nx,ny,nz,red,green,blue,id" {
		t.Fatalf("tetra: %d points %d faces %v", c.Len(), len(c.Faces), c.ExtraNames)
	}
	for _, bin := range []bool{false, true} {
		p := filepath.Join(t.TempDir(), "w.ply")
		if err := WritePLY(p, c, bin); err != nil {
			t.Fatal(err)
		}
		c2, err := ReadPLY(p)
		if err != nil || !near(c2.Points, c.Points, 0) || !near(c2.Extra, c.Extra, 0) || len(c2.Faces) != 12 {
			t.Fatalf("round trip binary=%v: %v", bin, err)
		}
	}
}

func TestPLYBadInput(t *testing.T) {
	hdr := "ply\nformat ascii 1.0\nelement vertex %s\nproperty float x\nproperty float y\nproperty float z\nend_header\n"
	cases := map[string]string{
		"magic":      "plx\n",
		"noend":      "ply\nformat ascii 1.0\nelement vertex 1\n",
		"huge":       strings.Replace(hdr, "%s", "1000000000000", 1) + "0 0 0\n",
		"truncated":  strings.Replace(hdr, "%s", "2", 1) + "0 0 0\n",
		"nan":        strings.Replace(hdr, "%s", "1", 1) + "nan 0 0\n",
		"noxyz":      "ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nend_header\n1\n",
		"format":     "ply\nformat binary_middle_endian 1.0\nelement vertex 1\nproperty float x\nend_header\n",
		"badface":    "ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nproperty float y\nproperty float z\nelement face 1\nproperty list uchar int vertex_indices\nend_header\n0 0 0\n3 0 1 2\n",
		"hugelist":   "ply\nformat binary_little_endian 1.0\nelement vertex 0\nproperty float x\nproperty float y\nproperty float z\nelement face 1\nproperty list uint int vertex_indices\nend_header\n\xff\xff\xff\xff",
		"novertices": "ply\nformat ascii 1.0\nend_header\n",
	}
	for name, s := range cases {
		if _, err := DecodePLY([]byte(s)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestOFF(t *testing.T) {
	c, err := ReadOFF(td("cube_modelnet.off"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Len() != 8 || len(c.Faces) != 36 {
		t.Fatalf("cube: %d points %d face indices", c.Len(), len(c.Faces))
	}
	c, err = ReadCloud(td("torus_quad.off"))
	if err != nil || c.Len() != 25 || len(c.Faces) != 25*2*3 {
		t.Fatalf("torus: %v %d %d", err, c.Len(), len(c.Faces))
	}
	c, err = ReadCloud(td("sphere.off"))
	if err != nil || !c.IsMesh() {
		t.Fatalf("sphere: %v", err)
	}
	cases := map[string]string{
		"empty":     "",
		"magic":     "PFF\n3 1 0\n",
		"huge":      "OFF\n99999999999 1 0\n0 0 0\n",
		"truncated": "OFF\n3 1 0\n0 0 0\n1 0 0\n",
		"index":     "OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 3\n",
		"nan":       "OFF\n3 1 0\n0 0 0\n1 0 NaN\n0 1 0\n3 0 1 2\n",
		"facelen":   "OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n4 0 1 2\n",
	}
	for name, s := range cases {
		if _, err := DecodeOFF([]byte(s)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := DecodeOFF([]byte("OFF 3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 2 255 0 0\n")); err != nil {
		t.Errorf("counts on the OFF line: %v", err)
	}
}

func TestPCD(t *testing.T) {
	want, _ := mustNPY(t, "pcd.expect.npy")
	for _, f := range []string{"cloud_ascii.pcd", "cloud_binary.pcd"} {
		c, err := ReadPCD(td(f))
		if err != nil {
			t.Fatal(err)
		}
		in, ok := c.Channel("intensity")
		if !ok || c.Len() != 5 || in[4] != 4 {
			t.Fatalf("%s: %d points, intensity %v", f, c.Len(), in)
		}
		for i := 0; i < 5; i++ {
			if !near(c.Points[i*3:i*3+3], want[i*4:i*4+3], 0) {
				t.Fatalf("%s: point %d", f, i)
			}
		}
	}
	b, _ := os.ReadFile(td("cloud_binary.pcd"))
	comp := bytes.Replace(b, []byte("DATA binary"), []byte("DATA binary_compressed"), 1)
	if _, err := DecodePCD(comp); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("binary_compressed: %v", err)
	}
	cases := map[string][]byte{
		"huge":      bytes.Replace(b, []byte("POINTS 5"), []byte("POINTS 2000000000"), 1),
		"truncated": b[:len(b)-3],
		"nodata":    []byte("VERSION 0.7\nFIELDS x y z\n"),
		"fields":    bytes.Replace(b, []byte("SIZE 4 4 4 4"), []byte("SIZE 4 4 4"), 1),
		"nan":       []byte("FIELDS x y z\nSIZE 4 4 4\nTYPE F F F\nWIDTH 1\nDATA ascii\nnan nan nan\n"),
	}
	for name, in := range cases {
		if _, err := DecodePCD(in); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestDat(t *testing.T) {
	for f, exp := range map[string]string{"modelnet_p4.dat": "dat.expect.npy", "modelnet_p2.dat": "dat2.expect.npy"} {
		arrays, labels, err := ReadDat(td(f))
		if err != nil {
			t.Fatal(err)
		}
		want, shape := mustNPY(t, exp)
		if len(arrays) != 3 || len(labels) != 3 || shape[0] != 3 {
			t.Fatalf("%s: %d arrays %d labels", f, len(arrays), len(labels))
		}
		per := shape[1] * shape[2]
		for i, a := range arrays {
			if a.Shape[0] != 16 || a.Shape[1] != 6 || !near(a.Data, want[i*per:(i+1)*per], 0) {
				t.Fatalf("%s: array %d shape %v", f, i, a.Shape)
			}
			if labels[i] != i {
				t.Fatalf("%s: labels %v", f, labels)
			}
		}
	}
	b, _ := os.ReadFile(td("modelnet_p4.dat"))
	if _, _, err := DecodeDat(b[:len(b)/2]); err == nil {
		t.Fatal("truncated pickle accepted")
	}
	// A pickle that calls os.system must be refused, not run.
	evil := []byte("cos\nsystem\n(S'echo pwned'\ntR.")
	if _, _, err := DecodeDat(evil); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("evil pickle: %v", err)
	}
	// The opcode scan is internal/pickle's: EMPTY_SET is known, an empty LONG1
	// (no sign byte) is refused before gopickle indexes it.
	if _, _, err := DecodeDat([]byte("\x80\x04\x8f.")); err == nil || !strings.Contains(err.Error(), "expected [list_of_points") {
		t.Fatalf("EMPTY_SET: %v", err)
	}
	if _, _, err := DecodeDat([]byte("\x80\x02\x8a\x00.")); err == nil || !strings.Contains(err.Error(), "LONG1 is empty") {
		t.Fatalf("empty LONG1: %v", err)
	}
	// BINBYTES8 claiming 2^62 bytes.
	huge := []byte("\x80\x04\x8e\x00\x00\x00\x00\x00\x00\x00\x40.")
	if _, _, err := DecodeDat(huge); err == nil {
		t.Fatal("huge length accepted")
	}
}

func TestH5(t *testing.T) {
	data, shape, err := ReadH5Float32(td("scan.h5"), "data")
	if errors.Is(err, ErrNoHDF5) {
		if !strings.Contains(err.Error(), "built without HDF5 support") {
			t.Fatal(err)
		}
		t.Skip("built without HDF5 support:", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(shape) != 3 || shape[0] != 4 || shape[1] != 16 || shape[2] != 3 || len(data) != 4*16*3 {
		t.Fatalf("shape %v", shape)
	}
	labels, err := ReadH5Labels(td("scan.h5"), "label")
	if err != nil || len(labels) != 4 || labels[2] != 14 {
		t.Fatalf("labels %v %v", labels, err)
	}
	mask, _, err := ReadH5Float32(td("scan.h5"), "mask")
	if err != nil || mask[0] != 1 {
		t.Fatalf("int dataset as float: %v", err)
	}
	if _, _, err := ReadH5Float32(td("scan.h5"), "nope"); err == nil || !strings.Contains(err.Error(), "scan.h5") {
		t.Fatalf("missing dataset: %v", err)
	}
	if _, _, err := ReadH5Float32(td("cloud_f4.npy"), "data"); err == nil {
		t.Fatal("non-HDF5 file accepted")
	}
	if _, _, err := ReadH5Float32(td("missing.h5"), "data"); err == nil {
		t.Fatal("missing file accepted")
	}
}

func TestReadCloudDispatch(t *testing.T) {
	for _, f := range []string{"cloud_f4.npy", "airplane_0001.txt", "cloud.xyz", "cloud_little.ply", "cube_modelnet.off", "cloud_ascii.pcd"} {
		c, err := ReadCloud(td(f))
		if err != nil || c.Len() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	if _, err := ReadCloud(td("scan.h5")); !errors.Is(err, ErrUnsupported) {
		t.Errorf("h5 via ReadCloud: %v", err)
	}
	if _, err := ReadCloud(td("scalar3d.npy")); err == nil || !strings.Contains(err.Error(), "scalar3d.npy") {
		t.Errorf("3-d npy: %v", err)
	}
	if _, err := ReadCloud(td("nope.npy")); err == nil {
		t.Error("missing file accepted")
	}
}

// TestPLYMoreVerticesThanDeclared: data beyond the declared elements is an error, not
// silently dropped points.
func TestPLYMoreVerticesThanDeclared(t *testing.T) {
	ascii := "ply\nformat ascii 1.0\nelement vertex 2\nproperty float x\nproperty float y\nproperty float z\nend_header\n0 0 0\n1 0 0\n0 1 0\n"
	if _, err := DecodePLY([]byte(ascii)); err == nil || !strings.Contains(err.Error(), "declares 2 vertices") {
		t.Errorf("ascii: %v", err)
	}
	if _, err := DecodePLY([]byte(strings.Replace(ascii, "0 1 0\n", "\n", 1))); err != nil {
		t.Errorf("a trailing newline: %v", err)
	}
	bin := []byte("ply\nformat binary_little_endian 1.0\nelement vertex 1\nproperty float x\nproperty float y\nproperty float z\nend_header\n")
	bin = append(bin, make([]byte, 24)...)
	if _, err := DecodePLY(bin); err == nil {
		t.Error("binary: two vertices read as one")
	}
}
