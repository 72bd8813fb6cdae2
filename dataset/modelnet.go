package dataset

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/pointpeft/pointpeft/pcio"
)

// ModelNet40Classes are the ModelNet40 class names in label order (the order
// of modelnet40_shape_names.txt).
var ModelNet40Classes = []string{
	"airplane", "bathtub", "bed", "bench", "bookshelf", "bottle", "bowl", "car", "chair", "cone",
	"cup", "curtain", "desk", "door", "dresser", "flower_pot", "glass_box", "guitar", "keyboard", "lamp",
	"laptop", "mantel", "monitor", "night_stand", "person", "piano", "plant", "radio", "range_hood", "sink",
	"sofa", "stairs", "stool", "table", "tent", "toilet", "tv_stand", "vase", "wardrobe", "xbox",
}

// OpenModelNet40 opens ModelNet40 in whichever layout root holds:
// Point-BERT's .dat cache (modelnet40_<split>_8192pts_fps.dat) if present,
// else its modelnet40_normal_resampled text files (if
// modelnet40_shape_names.txt is present), else a <class>/<split>/ folder
// tree such as the 1024-point .npy release.
func OpenModelNet40(root, split string, opts Options) (Dataset, error) {
	if dat := filepath.Join(root, "modelnet40_"+split+"_8192pts_fps.dat"); exists(dat) {
		return OpenModelNetDat(dat, opts)
	}
	if exists(filepath.Join(root, "modelnet40_shape_names.txt")) {
		return OpenModelNetResampled(root, split, opts)
	}
	return OpenFolder(root, split, opts)
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// ModelNetResampled is Point-BERT's modelnet40_normal_resampled layout:
// modelnet40_shape_names.txt lists the classes, modelnet40_<split>.txt the
// shape ids (airplane_0001, ...), and <shape>/<id>.txt holds comma-separated
// x,y,z,nx,ny,nz rows. Normals are dropped; each cloud is resized by Options
// and then normalised to the unit sphere (centroid subtracted, divided by
// the largest norm), as Point-BERT does.
type ModelNetResampled struct {
	files   []string
	labels  []int
	classes []string
	opts    Options
}

// OpenModelNetResampled reads the class and split lists of one split.
func OpenModelNetResampled(root, split string, opts Options) (*ModelNetResampled, error) {
	namesPath := filepath.Join(root, "modelnet40_shape_names.txt")
	classes, err := readLines(namesPath)
	if err != nil {
		return nil, err
	}
	if len(classes) == 0 {
		return nil, fmt.Errorf("read %s: no class names", namesPath)
	}
	index := map[string]int{}
	for i, c := range classes {
		index[c] = i
	}
	splitPath := filepath.Join(root, "modelnet40_"+split+".txt")
	ids, err := readLines(splitPath)
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("read %s: no shape ids", splitPath)
	}
	m := &ModelNetResampled{classes: classes, opts: opts}
	for k, id := range ids {
		cut := strings.LastIndexByte(id, '_')
		label, ok := index[id[:max(cut, 0)]]
		if cut <= 0 || !ok {
			return nil, fmt.Errorf("read %s: line %d: shape id %q names no class listed in %s", splitPath, k+1, id, namesPath)
		}
		m.files = append(m.files, filepath.Join(root, id[:cut], id+".txt"))
		m.labels = append(m.labels, label)
	}
	return m, nil
}

// readLines returns the non-blank lines of a small text file, trimmed.
func readLines(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			out = append(out, l)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return out, nil
}

// Len returns the number of shapes in the split.
func (m *ModelNetResampled) Len() int { return len(m.files) }

// Classes returns the class names.
func (m *ModelNetResampled) Classes() []string { return m.classes }

// Get reads shape i.
func (m *ModelNetResampled) Get(i int) (Sample, error) {
	if err := checkIndex(m, i); err != nil {
		return Sample{}, err
	}
	c, err := pcio.ReadTXT(m.files[i])
	if err != nil {
		return Sample{}, err
	}
	p, err := m.opts.fit(c.Points, i, "read "+m.files[i])
	if err != nil {
		return Sample{}, err
	}
	Normalize(p)
	return Sample{Points: p, Label: m.labels[i]}, nil
}

// OpenModelNetDat loads one of Point-BERT's modelnet40_<split>_8192pts_fps.dat
// caches into memory. Class names come from modelnet40_shape_names.txt next
// to the file if there is one, else ModelNet40Classes. Only xyz is kept; Get
// resizes by Options and then normalises to the unit sphere, as Point-BERT
// does.
func OpenModelNetDat(path string, opts Options) (*InMemory, error) {
	arrays, labels, err := pcio.ReadDat(path)
	if err != nil {
		return nil, err
	}
	classes := ModelNet40Classes
	if names := filepath.Join(filepath.Dir(path), "modelnet40_shape_names.txt"); exists(names) {
		if classes, err = readLines(names); err != nil {
			return nil, err
		}
	}
	clouds := make([][]float32, len(arrays))
	for i, a := range arrays {
		n, c := a.Shape[0], a.Shape[1]
		p := make([]float32, n*3)
		for j := 0; j < n; j++ {
			copy(p[j*3:j*3+3], a.Data[j*c:j*c+3])
		}
		clouds[i] = p
	}
	return newInMemory(path, clouds, labels, classes, opts, true)
}
