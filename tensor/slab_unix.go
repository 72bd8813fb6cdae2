//go:build unix

package tensor

import (
	"fmt"
	"syscall"
	"unsafe"
)

// slabMem maps n zeroed float32s outside the Go heap. The garbage collector paces
// itself by the heap's live size; with the arena's slabs on the heap it would let other
// garbage grow as large as all activations before collecting it.
func slabMem(n int) (mem []float32, free func()) {
	b, err := syscall.Mmap(-1, 0, n*4, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		panic(fmt.Sprintf("tensor: arena cannot map %d MiB: %v", n*4>>20, err))
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), n), func() { _ = syscall.Munmap(b) }
}
