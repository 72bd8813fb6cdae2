package dataset

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/pointpeft/pointpeft/pcio"
)

// Folder is a dataset laid out as <root>/<class>/<split>/<files>, with files
// in any format pcio.ReadCloud reads (.npy .txt .xyz .ply .off .pcd). This is
// the layout of the 1024-point ModelNet40 .npy release. Classes are the
// sub-folder names in sorted order. Meshes are sampled to
// Options.NumPoints points on their surface, seeded by (Options.Seed, index).
// Files are read on every Get; wrap with Preload to keep them in memory.
type Folder struct {
	files   []string
	labels  []int
	classes []string
	opts    Options
}

// OpenFolder lists the files of one split ("train", "test", ...). A class
// folder without files for the split is an error, since it would silently
// shift every later label.
func OpenFolder(root, split string, opts Options) (*Folder, error) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("open dataset: %w", err)
	}
	f := &Folder{opts: opts}
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		dir := filepath.Join(root, e.Name(), split)
		files, err := os.ReadDir(dir)
		if err != nil && !os.IsNotExist(err) {
			return nil, fmt.Errorf("open dataset: %w", err)
		}
		label, n := len(f.classes), 0
		for _, fe := range files {
			if fe.IsDir() || !pcio.SupportedExt(filepath.Ext(fe.Name())) {
				continue
			}
			f.files = append(f.files, filepath.Join(dir, fe.Name()))
			f.labels = append(f.labels, label)
			n++
		}
		if n == 0 {
			return nil, fmt.Errorf("open dataset: class folder %s has no point-cloud files for split %q (looked in %s)",
				filepath.Join(root, e.Name()), split, dir)
		}
		f.classes = append(f.classes, e.Name())
	}
	if len(f.classes) == 0 {
		return nil, fmt.Errorf("open dataset: %s has no class folders", root)
	}
	return f, nil
}

// Len returns the number of files.
func (f *Folder) Len() int { return len(f.files) }

// Classes returns the class folder names.
func (f *Folder) Classes() []string { return f.classes }

// Path returns the file of sample i.
func (f *Folder) Path(i int) string { return f.files[i] }

// Get reads sample i.
func (f *Folder) Get(i int) (Sample, error) {
	if err := checkIndex(f, i); err != nil {
		return Sample{}, err
	}
	path := f.files[i]
	c, err := pcio.ReadCloud(path)
	if err != nil {
		return Sample{}, err
	}
	var p []float32
	if c.IsMesh() {
		if f.opts.NumPoints <= 0 {
			return Sample{}, fmt.Errorf("read %s: a mesh needs Options.NumPoints to be sampled", path)
		}
		p, err = SampleSurface(c.Points, c.Faces, f.opts.NumPoints, sampleRNG(f.opts.Seed, i))
		if err != nil {
			err = fmt.Errorf("read %s: %w", path, err)
		}
	} else {
		p, err = f.opts.fit(c.Points, i, "read "+path)
	}
	if err != nil {
		return Sample{}, err
	}
	return Sample{Points: p, Label: f.labels[i]}, nil
}
