package tensor

import (
	"runtime"
	"sync"

	"github.com/pointpeft/pointpeft/internal/blas"
)

func init() { SetThreads(runtime.GOMAXPROCS(0)) }

// SetThreads is the one knob for parallelism: it sets GOMAXPROCS, which bounds the
// goroutines of elementwise ops and reductions, and the GEMM thread count.
func SetThreads(n int) {
	if n < 1 {
		n = 1
	}
	runtime.GOMAXPROCS(n)
	blas.SetThreads(n)
}

// GEMMBackend describes the matrix-multiply library and kernel the engine runs.
type GEMMBackend struct {
	Library string // "openblas" or "gonum (pure Go)"
	Kernel  string // the kernel in use (OpenBLAS's core name)
	// Detected is the kernel the library chose by itself; it differs from Kernel when
	// the engine switched a generic kernel for the best one the CPU supports.
	Detected string
	Config   string // the library's build configuration
	Note     string // how Kernel was chosen
	// Warning, if set, says that GEMMs run slower than this CPU allows, and why.
	Warning string
}

// GEMM reports the matrix-multiply library and kernel in use.
func GEMM() GEMMBackend {
	k := blas.Info()
	return GEMMBackend{Library: k.Library, Kernel: k.Core, Detected: k.Detected, Config: k.Config, Note: k.Note, Warning: k.Warning}
}

// String is "library kernel (note)", e.g. "openblas Haswell (chosen by OpenBLAS)".
func (g GEMMBackend) String() string { return g.Library + " " + g.Kernel + " (" + g.Note + ")" }

// BLASName says which GEMM implementation is compiled in.
func BLASName() string { return blas.Name }

// parallelFor calls f on disjoint ranges covering [0,n), on up to GOMAXPROCS goroutines.
// Ranges hold at least grain items so that tiny loops stay on the calling goroutine.
// Range k starts at k*chunk, with (slots, chunk) = split(n, grain).
func parallelFor(n, grain int, f func(lo, hi int)) {
	slots, chunk := split(n, grain)
	if slots <= 1 {
		if n > 0 {
			f(0, n)
		}
		return
	}
	var wg sync.WaitGroup
	for lo := chunk; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(lo, hi)
		}()
	}
	f(0, chunk)
	wg.Wait()
}

// split says how parallelFor cuts [0,n): into slots ranges of chunk items (the last
// may be shorter).
func split(n, grain int) (slots, chunk int) {
	if n <= 0 {
		return 0, 1
	}
	workers := min(runtime.GOMAXPROCS(0), max(n/max(grain, 1), 1))
	chunk = (n + workers - 1) / workers
	return (n + chunk - 1) / chunk, chunk
}

// grainElems is the smallest elementwise job worth a goroutine (about 20µs of work).
const grainElems = 1 << 14
