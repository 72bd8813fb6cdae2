package blas

import (
	"fmt"
	"math"
	"os"
	"strings"

	"golang.org/x/sys/cpu"
)

// Kernel says which GEMM library and kernel the engine runs, and why.
type Kernel struct {
	Library string // Name
	Core    string // the kernel in use (OpenBLAS's core name)
	// Detected is the kernel the library chose by itself for this CPU.
	Detected string
	Config   string // the library's build configuration
	// Note says how Core was chosen.
	Note string
	// Warning, if set, says that GEMMs run slower than this CPU allows, and why.
	Warning string
}

// Info reports the GEMM library and kernel in use.
func Info() Kernel { return kernel }

var kernel Kernel

// coreEnv is OpenBLAS's own variable naming the kernel; a user's setting always wins.
const coreEnv = "OPENBLAS_CORETYPE"

// coreRank orders OpenBLAS's x86-64 kernels by the SGEMM they run: 0 SSE, 1 AVX,
// 2 AVX2+FMA, 3 AVX-512. Names not listed are newer than this table and left alone.
var coreRank = map[string]int{
	"katmai": 0, "coppermine": 0, "northwood": 0, "prescott": 0, "banias": 0, "atom": 0, "core2": 0,
	"penryn": 0, "dunnington": 0, "nehalem": 0, "athlon": 0, "opteron": 0, "opteron_sse3": 0,
	"barcelona": 0, "bobcat": 0, "nano": 0,
	"sandybridge": 1, "bulldozer": 1, "piledriver": 1, "steamroller": 1, "excavator": 1,
	"haswell": 2, "zen": 2,
	"skylakex": 3, "cooperlake": 3, "sapphirerapids": 3,
}

// features is what the kernel choice needs to know of the CPU.
type features struct{ avx2FMA, avx512 bool }

// hostFeatures reads the CPU's (and the OS's) support; zero off x86-64.
func hostFeatures() features {
	x := cpu.X86
	return features{
		avx2FMA: x.HasAVX2 && x.HasFMA,
		avx512:  x.HasAVX512F && x.HasAVX512BW && x.HasAVX512VL && x.HasAVX512DQ && x.HasAVX512CD,
	}
}

// bestCore is the OpenBLAS kernel that uses f's widest vectors ("" for none better
// than SSE). SkylakeX's SGEMM is also what newer OpenBLAS releases run on AVX-512
// CPUs they know (Sapphire Rapids, Zen 4).
func bestCore(f features) (core, isa string) {
	switch {
	case f.avx512:
		return "SkylakeX", "AVX-512"
	case f.avx2FMA:
		return "Haswell", "AVX2+FMA"
	}
	return "", ""
}

// switcher is what chooseKernel needs of a GEMM library whose kernel can be chosen at
// run time (OpenBLAS's DYNAMIC_ARCH builds).
type switcher interface {
	core() string
	config() string
	dynamic() bool
	table() any
	restore(table any)
	// rechoose makes the library choose its kernel again, reading coreEnv.
	rechoose()
	verify() error
}

// chooseKernel keeps the library's choice unless it runs a narrower kernel than the
// CPU supports (OpenBLAS falls back to a generic SSE kernel on CPUs newer than its
// release: 4.5× slower on an AVX-512 Xeon), in which case it switches to the best one,
// checks a set of products against float64 and switches back if any is off.
func chooseKernel(s switcher, f features, userCore string) Kernel {
	k := Kernel{Library: Name, Core: s.core(), Detected: s.core(), Config: s.config(), Note: "chosen by OpenBLAS"}
	want, isa := bestCore(f)
	have, known := coreRank[strings.ToLower(k.Core)]
	if userCore != "" {
		// The user's choice stands, but a narrower kernel than the CPU's is said: a
		// machine-wide OPENBLAS_CORETYPE=Haswell cost 1.8x on an AVX-512 Zen 5.
		k.Note = "set by " + coreEnv + "=" + userCore
		if want != "" && known && have < coreRank[strings.ToLower(want)] {
			k.Warning = fmt.Sprintf("%s=%s runs OpenBLAS's %s kernel, which does not use this CPU's %s; unset it and pointpeft chooses %s", coreEnv, userCore, k.Core, isa, want)
		}
		return k
	}
	if want == "" || !known || have >= coreRank[strings.ToLower(want)] {
		return k
	}
	slow := fmt.Sprintf("OpenBLAS chose its %s kernel, which does not use this CPU's %s", k.Core, isa)
	if !s.dynamic() {
		k.Warning = slow + "; this OpenBLAS build cannot change kernels at run time (use one built with DYNAMIC_ARCH, or for this CPU)"
		return k
	}
	old := s.table()
	// Set in the process environment, so child processes (the benchmark's PyTorch
	// reference) run the same kernel.
	os.Setenv(coreEnv, want)
	s.rechoose()
	if got := s.core(); !strings.EqualFold(got, want) {
		s.restore(old)
		os.Unsetenv(coreEnv)
		k.Warning = fmt.Sprintf("%s; switching to %s failed (OpenBLAS reports %s)", slow, want, got)
		return k
	}
	if err := s.verify(); err != nil {
		s.restore(old)
		os.Unsetenv(coreEnv)
		k.Warning = fmt.Sprintf("%s; its %s kernel failed the self-check (%v), so %s stays", slow, want, err, k.Core)
		return k
	}
	k.Core = want
	k.Note = fmt.Sprintf("%s; switched to %s (products self-checked against float64)", slow, want)
	return k
}

// gemmFunc is a row-major SGEMM with the signature of Sgemm.
type gemmFunc func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)

// verifySgemm checks f on every transpose combination over shapes that reach the
// small-matrix paths, edge tiles and the blocked path, with padded strides, against a
// float64 product.
func verifySgemm(f gemmFunc) error {
	shapes := [][3]int{{1, 1, 1}, {3, 5, 7}, {17, 33, 9}, {64, 139, 64}, {139, 139, 64}, {130, 96, 300}}
	seed := uint32(1)
	next := func() float32 { // xorshift: data without importing math/rand at init
		seed ^= seed << 13
		seed ^= seed >> 17
		seed ^= seed << 5
		return float32(seed%2001)/1000 - 1
	}
	for _, s := range shapes {
		m, n, k := s[0], s[1], s[2]
		for _, ta := range []bool{false, true} {
			for _, tb := range []bool{false, true} {
				ar, ac, br, bc := operandDims(ta, tb, m, n, k)
				lda, ldb, ldc := ac+3, bc+1, n+2
				a, b, c := make([]float32, ar*lda), make([]float32, br*ldb), make([]float32, m*ldc)
				for i := range a {
					a[i] = next()
				}
				for i := range b {
					b[i] = next()
				}
				for i := range c {
					c[i] = next()
				}
				want := make([]float64, len(c))
				for i := range m {
					for j := range n {
						var sum float64
						for p := range k {
							ai, bi := i*lda+p, p*ldb+j
							if ta {
								ai = p*lda + i
							}
							if tb {
								bi = j*ldb + p
							}
							av, bv := a[ai], b[bi]
							sum += float64(av) * float64(bv)
						}
						want[i*ldc+j] = 1.5*sum - 0.5*float64(c[i*ldc+j])
					}
					for j := n; j < ldc; j++ { // the padding must stay as it was
						want[i*ldc+j] = float64(c[i*ldc+j])
					}
				}
				f(ta, tb, m, n, k, 1.5, a, lda, b, ldb, -0.5, c, ldc)
				for i := range m {
					for j := range ldc {
						if d := math.Abs(float64(c[i*ldc+j]) - want[i*ldc+j]); d > 1e-4*float64(k+1) {
							return fmt.Errorf("%dx%dx%d transA=%v transB=%v: C[%d,%d] = %g, want %g", m, n, k, ta, tb, i, j, c[i*ldc+j], want[i*ldc+j])
						}
					}
				}
			}
		}
	}
	return nil
}
