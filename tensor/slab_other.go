//go:build !unix

package tensor

// slabMem allocates n zeroed float32s on the Go heap where mmap is not available.
func slabMem(n int) (mem []float32, free func()) { return make([]float32, n), func() {} }
