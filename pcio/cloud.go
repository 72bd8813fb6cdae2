package pcio

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ErrUnsupported marks valid files that use a feature this package does not
// read (PCD binary_compressed, Fortran-ordered .npy, ...).
var ErrUnsupported = errors.New("unsupported")

// Cloud is a point cloud, optionally with extra per-point channels and faces.
type Cloud struct {
	// Points holds N*3 coordinates, xyz interleaved.
	Points []float32
	// Extra holds N*len(ExtraNames) values, row-major [N, len(ExtraNames)].
	Extra []float32
	// ExtraNames names the extra channels in file order (e.g. nx, ny, nz).
	ExtraNames []string
	// Faces holds F*3 vertex indices of triangles; nil for plain clouds.
	// Polygons are triangulated as fans.
	Faces []int32
}

// Len returns the number of points (mesh vertices).
func (c Cloud) Len() int { return len(c.Points) / 3 }

// IsMesh reports whether the cloud has faces.
func (c Cloud) IsMesh() bool { return len(c.Faces) > 0 }

// Channel returns a copy of the extra channel with the given name, one value
// per point, or false when the cloud has no such channel.
func (c Cloud) Channel(name string) ([]float32, bool) {
	k := len(c.ExtraNames)
	for j, n := range c.ExtraNames {
		if n != name {
			continue
		}
		out := make([]float32, c.Len())
		for i := range out {
			out[i] = c.Extra[i*k+j]
		}
		return out, true
	}
	return nil, false
}

// ReadCloud reads a point cloud or mesh, choosing the format by the file
// extension: .npy, .txt, .xyz, .ply, .off or .pcd. Meshes (.off, and .ply with
// faces) keep their faces so callers can sample their surfaces.
func ReadCloud(path string) (Cloud, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Cloud{}, err
	}
	c, err := DecodeCloud(b, filepath.Ext(path))
	if err != nil {
		return Cloud{}, fmt.Errorf("read %s: %w", path, err)
	}
	return c, nil
}

// DecodeCloud decodes a point cloud or mesh held in memory; format is a file
// extension ReadCloud knows, with or without its dot (npy, txt, xyz, ply, off, pcd).
func DecodeCloud(b []byte, format string) (c Cloud, err error) {
	switch ext := "." + strings.TrimPrefix(strings.ToLower(format), "."); ext {
	case ".npy":
		c, err = decodeNPYCloud(b)
	case ".txt", ".xyz":
		c, err = DecodeTXT(b)
	case ".ply":
		c, err = DecodePLY(b)
	case ".off":
		c, err = DecodeOFF(b)
	case ".pcd":
		c, err = DecodePCD(b)
	default:
		err = fmt.Errorf("%w file extension %q", ErrUnsupported, ext)
	}
	return c, err
}

// SupportedExt reports whether ReadCloud can read files with this extension.
func SupportedExt(ext string) bool {
	switch strings.ToLower(ext) {
	case ".npy", ".txt", ".xyz", ".ply", ".off", ".pcd":
		return true
	}
	return false
}

func decodeNPYCloud(b []byte) (Cloud, error) {
	data, shape, err := DecodeNPY(b)
	if err != nil {
		return Cloud{}, err
	}
	if len(shape) != 2 || shape[1] < 3 {
		return Cloud{}, fmt.Errorf("npy: shape %v is not a point cloud [N, C>=3]", shape)
	}
	return splitColumns(data, shape[0], shape[1])
}

// splitColumns turns a row-major [n, cols] table into xyz plus extra channels
// and validates it.
func splitColumns(data []float32, n, cols int) (Cloud, error) {
	var c Cloud
	if cols == 3 {
		c.Points = data
	} else {
		k := cols - 3
		c.Points = make([]float32, n*3)
		c.Extra = make([]float32, n*k)
		for i := 0; i < n; i++ {
			copy(c.Points[i*3:i*3+3], data[i*cols:i*cols+3])
			copy(c.Extra[i*k:i*k+k], data[i*cols+3:(i+1)*cols])
		}
		c.ExtraNames = defaultExtraNames(k)
	}
	return c, checkPoints(c.Points)
}

// defaultExtraNames names unnamed extra columns; three of them are normals in
// every dataset this project reads (ModelNet's x,y,z,nx,ny,nz).
func defaultExtraNames(k int) []string {
	if k == 3 {
		return []string{"nx", "ny", "nz"}
	}
	names := make([]string, k)
	for i := range names {
		names[i] = "c" + strconv.Itoa(i+3)
	}
	return names
}

// checkPoints rejects empty clouds and non-finite coordinates.
func checkPoints(p []float32) error {
	if len(p) == 0 {
		return errors.New("no points")
	}
	if len(p)%3 != 0 {
		return fmt.Errorf("%d coordinates is not a multiple of 3", len(p))
	}
	for i, v := range p {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("point %d has non-finite coordinate %v", i/3, v)
		}
	}
	return nil
}

// checkFaces rejects faces that point outside the vertex list.
func checkFaces(faces []int32, nverts int) error {
	for i, f := range faces {
		if f < 0 || int(f) >= nverts {
			return fmt.Errorf("face %d: vertex index %d out of range [0,%d)", i/3, f, nverts)
		}
	}
	return nil
}

// fanTriangulate appends the triangles of polygon poly as a fan.
func fanTriangulate(faces []int32, poly []int32) []int32 {
	for k := 1; k+1 < len(poly); k++ {
		faces = append(faces, poly[0], poly[k], poly[k+1])
	}
	return faces
}

// countFits reports whether count elements of at least minSize bytes each fit
// in avail bytes; it bounds allocations sized from header values.
func countFits(count, minSize, avail int64) bool {
	if count < 0 || minSize <= 0 {
		return count == 0
	}
	return count <= avail/minSize
}
