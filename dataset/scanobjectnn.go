package dataset

import (
	"fmt"
	"path/filepath"

	"github.com/pointpeft/pointpeft/pcio"
)

// ScanVariant selects a ScanObjectNN benchmark variant.
type ScanVariant string

// The three ScanObjectNN variants of the Point-MAE family of papers.
const (
	ScanObjBG   ScanVariant = "OBJ_BG"    // objects with background
	ScanObjOnly ScanVariant = "OBJ_ONLY"  // objects without background
	ScanPBT50RS ScanVariant = "PB_T50_RS" // perturbed, rotated and scaled: the hardest
)

// ScanObjectNNClasses are the 15 ScanObjectNN classes in label order.
var ScanObjectNNClasses = []string{
	"bag", "bin", "box", "cabinet", "chair", "desk", "display", "door",
	"shelf", "table", "bed", "pillow", "sink", "sofa", "toilet",
}

// ScanObjectNNFile returns the HDF5 file of a variant and split ("train" or
// "test") under root (the folder holding main_split and main_split_nobg), as
// named by the reference configs.
func ScanObjectNNFile(root string, v ScanVariant, split string) (string, error) {
	var prefix string
	switch split {
	case "train":
		prefix = "training"
	case "test":
		prefix = "test"
	default:
		return "", fmt.Errorf("scanobjectnn: unknown split %q (want train or test)", split)
	}
	switch v {
	case ScanObjBG:
		return filepath.Join(root, "main_split", prefix+"_objectdataset.h5"), nil
	case ScanObjOnly:
		return filepath.Join(root, "main_split_nobg", prefix+"_objectdataset.h5"), nil
	case ScanPBT50RS:
		return filepath.Join(root, "main_split", prefix+"_objectdataset_augmentedrot_scale75.h5"), nil
	}
	return "", fmt.Errorf("scanobjectnn: unknown variant %q", v)
}

// OpenScanObjectNN loads a ScanObjectNN split into memory from its HDF5 file
// (datasets "data" [N,P,3] float32 and "label" [N]). Coordinates are used as
// stored, without normalisation, as in the reference code. It needs a build
// with HDF5 support (see pcio.ErrNoHDF5).
func OpenScanObjectNN(root string, v ScanVariant, split string, opts Options) (*InMemory, error) {
	path, err := ScanObjectNNFile(root, v, split)
	if err != nil {
		return nil, err
	}
	return OpenH5(path, ScanObjectNNClasses, opts)
}

// OpenH5 loads an HDF5 classification file with datasets "data" [N,P,C>=3]
// and integer "label" [N] (or [N,1]) into memory; only the first three
// channels are kept.
func OpenH5(path string, classes []string, opts Options) (*InMemory, error) {
	data, shape, err := pcio.ReadH5Float32(path, "data")
	if err != nil {
		return nil, err
	}
	if len(shape) != 3 || shape[2] < 3 {
		return nil, fmt.Errorf("read %s: dataset \"data\" has shape %v, want [N, P, C>=3]", path, shape)
	}
	labels, err := pcio.ReadH5Labels(path, "label")
	if err != nil {
		return nil, err
	}
	if len(labels) != shape[0] {
		return nil, fmt.Errorf("read %s: %d clouds in \"data\" but %d entries in \"label\"", path, shape[0], len(labels))
	}
	n, p, c := shape[0], shape[1], shape[2]
	clouds := make([][]float32, n)
	for i := range clouds {
		cl := make([]float32, p*3)
		for j := 0; j < p; j++ {
			copy(cl[j*3:j*3+3], data[(i*p+j)*c:(i*p+j)*c+3])
		}
		clouds[i] = cl
	}
	return newInMemory(path, clouds, labels, classes, opts, false)
}
