//go:build !cgo || nohdf5

package pcio

import "fmt"

// ReadH5Float32 reads an HDF5 dataset as float32; this build has no HDF5
// support and always returns ErrNoHDF5.
func ReadH5Float32(path, name string) ([]float32, []int, error) {
	return nil, nil, fmt.Errorf("read %s: %w", path, ErrNoHDF5)
}

// ReadH5Int reads an integer HDF5 dataset as int64; this build has no HDF5
// support and always returns ErrNoHDF5.
func ReadH5Int(path, name string) ([]int64, []int, error) {
	return nil, nil, fmt.Errorf("read %s: %w", path, ErrNoHDF5)
}
