// Package pcio reads and writes the point-cloud and mesh file formats used by
// 3D point-cloud datasets: NumPy .npy, text .txt/.xyz, PLY, OFF, PCD, the HDF5
// files of ScanObjectNN and the pickled .dat caches of Point-BERT.
//
// A point cloud is a flat []float32 of length N*3 (xyz interleaved). Extra
// per-point channels (normals, colours, ...) are kept in a separate flat slice
// with one name per channel; meshes carry triangle faces as a flat []int32 of
// length F*3. Every reader checks its input: truncated or inconsistent files,
// header counts larger than the file can hold and non-finite coordinates are
// errors, never panics or huge allocations.
//
// HDF5 is read through the HDF5 C library (Debian: libhdf5-dev) with cgo.
// Builds with CGO_ENABLED=0 or the nohdf5 build tag leave it out; the HDF5
// readers then return ErrNoHDF5 and everything else works unchanged.
package pcio
