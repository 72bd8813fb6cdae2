//go:build cgo && !nohdf5

package pcio

/*
#cgo linux CFLAGS: -I/usr/include/hdf5/serial
#cgo linux,amd64 LDFLAGS: -L/usr/lib/x86_64-linux-gnu/hdf5/serial
#cgo linux,arm64 LDFLAGS: -L/usr/lib/aarch64-linux-gnu/hdf5/serial
#cgo LDFLAGS: -lhdf5
#include <stdlib.h>
#include <hdf5.h>

// The native type identifiers are macros that call H5open, which cgo cannot
// expand, so they are wrapped here.
static hid_t pc_native_float(void) { return H5T_NATIVE_FLOAT; }
static hid_t pc_native_llong(void) { return H5T_NATIVE_LLONG; }
static void pc_quiet(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }
*/
import "C"

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"unsafe"
)

// The serial HDF5 library is not thread-safe; every call goes through h5mu.
var (
	h5mu    sync.Mutex
	h5quiet sync.Once
)

// maxH5Ratio caps how much larger than its stored size a dataset may claim
// to be (compression can legitimately expand); it stops a corrupt header from
// asking for terabytes.
const maxH5Ratio = 1024

// ReadH5Float32 reads the HDF5 dataset name from path as float32 (the library
// converts from the stored numeric type) and returns it with its shape.
func ReadH5Float32(path, name string) ([]float32, []int, error) {
	var out []float32
	shape, err := readH5(path, name, 4, func(n int) (unsafe.Pointer, C.hid_t) {
		out = make([]float32, n)
		if n == 0 {
			return nil, C.pc_native_float()
		}
		return unsafe.Pointer(&out[0]), C.pc_native_float()
	})
	if err != nil {
		return nil, nil, err
	}
	return out, shape, nil
}

// ReadH5Int reads the integer HDF5 dataset name from path as int64 and
// returns it with its shape.
func ReadH5Int(path, name string) ([]int64, []int, error) {
	var out []int64
	shape, err := readH5(path, name, 8, func(n int) (unsafe.Pointer, C.hid_t) {
		out = make([]int64, n)
		if n == 0 {
			return nil, C.pc_native_llong()
		}
		return unsafe.Pointer(&out[0]), C.pc_native_llong()
	})
	if err != nil {
		return nil, nil, err
	}
	return out, shape, nil
}

func readH5(path, name string, elemSize int, alloc func(n int) (unsafe.Pointer, C.hid_t)) ([]int, error) {
	shape, err := readH5Locked(path, name, elemSize, alloc)
	if err != nil {
		return nil, fmt.Errorf("read %s: dataset %q: %w", path, name, err)
	}
	return shape, nil
}

func readH5Locked(path, name string, elemSize int, alloc func(n int) (unsafe.Pointer, C.hid_t)) ([]int, error) {
	// Check the file first so a missing file gives the usual Go error.
	if _, err := os.Stat(path); err != nil {
		return nil, err
	}
	h5mu.Lock()
	defer h5mu.Unlock()
	h5quiet.Do(func() { C.pc_quiet() })

	cpath, cname := C.CString(path), C.CString(name)
	defer C.free(unsafe.Pointer(cpath))
	defer C.free(unsafe.Pointer(cname))

	file := C.H5Fopen(cpath, C.H5F_ACC_RDONLY, C.H5P_DEFAULT)
	if file < 0 {
		return nil, errors.New("not a readable HDF5 file")
	}
	defer C.H5Fclose(file)
	if C.H5Lexists(file, cname, C.H5P_DEFAULT) <= 0 {
		return nil, errors.New("no such dataset")
	}
	ds := C.H5Dopen2(file, cname, C.H5P_DEFAULT)
	if ds < 0 {
		return nil, errors.New("cannot open dataset")
	}
	defer C.H5Dclose(ds)

	typ := C.H5Dget_type(ds)
	if typ < 0 {
		return nil, errors.New("cannot read its type")
	}
	class := C.H5Tget_class(typ)
	C.H5Tclose(typ)
	if class != C.H5T_FLOAT && class != C.H5T_INTEGER {
		return nil, fmt.Errorf("%w non-numeric dataset", ErrUnsupported)
	}

	space := C.H5Dget_space(ds)
	if space < 0 {
		return nil, errors.New("cannot read its dataspace")
	}
	defer C.H5Sclose(space)
	ndims := C.H5Sget_simple_extent_ndims(space)
	if ndims < 0 || ndims > 32 {
		return nil, fmt.Errorf("bad rank %d", ndims)
	}
	dims := make([]C.hsize_t, max(int(ndims), 1))
	if ndims > 0 && C.H5Sget_simple_extent_dims(space, &dims[0], nil) < 0 {
		return nil, errors.New("cannot read its dimensions")
	}
	shape := make([]int, ndims)
	limit := int(C.H5Dget_storage_size(ds))*maxH5Ratio + 1<<20
	n := 1
	for i := range shape {
		d := uint64(dims[i])
		if d > uint64(limit) || (d > 0 && uint64(n) > uint64(limit)/d) {
			return nil, fmt.Errorf("shape too large for the %d bytes stored", int(C.H5Dget_storage_size(ds)))
		}
		shape[i] = int(d)
		n *= int(d)
	}
	if n*elemSize > limit {
		return nil, fmt.Errorf("shape %v too large for the %d bytes stored", shape, int(C.H5Dget_storage_size(ds)))
	}
	buf, mem := alloc(n)
	if n > 0 && C.H5Dread(ds, mem, C.H5S_ALL, C.H5S_ALL, C.H5P_DEFAULT, buf) < 0 {
		return nil, errors.New("read failed (corrupt file or values that do not convert)")
	}
	return shape, nil
}
