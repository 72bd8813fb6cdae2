package pcio

import (
	"errors"
	"fmt"
)

// ErrNoHDF5 is returned by the HDF5 readers in builds without the library
// (CGO_ENABLED=0 or the nohdf5 build tag).
var ErrNoHDF5 = errors.New("pcio: built without HDF5 support (rebuild with cgo and libhdf5-dev)")

// ReadH5Labels reads an integer HDF5 dataset (such as ScanObjectNN's
// "label") as ints; the values are checked to fit in an int32.
func ReadH5Labels(path, name string) ([]int, error) {
	v, shape, err := ReadH5Int(path, name)
	if err != nil {
		return nil, err
	}
	out := make([]int, len(v))
	for i, x := range v {
		if x != int64(int32(x)) {
			return nil, fmt.Errorf("read %s: dataset %q shape %v: value %d at %d is out of range", path, name, shape, x, i)
		}
		out[i] = int(x)
	}
	return out, nil
}
