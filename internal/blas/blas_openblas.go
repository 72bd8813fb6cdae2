//go:build cgo && !purego

package blas

/*
#cgo LDFLAGS: -lopenblas
#include <cblas.h>
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
int blas_thread_shutdown_(void);
char *openblas_get_corename(void);
char *openblas_get_config(void);

// A DYNAMIC_ARCH build (Debian's) keeps its kernel table in gotoblas and chooses it in
// gotoblas_dynamic_init from the CPU or OPENBLAS_CORETYPE. Weak, so that a build for one
// fixed CPU, which has none of these, still links.
extern void *gotoblas __attribute__((weak));
void gotoblas_dynamic_init(void) __attribute__((weak));
void gotoblas_dynamic_quit(void) __attribute__((weak));

static int pp_dynamic(void) { return &gotoblas != 0 && gotoblas_dynamic_init != 0 && gotoblas_dynamic_quit != 0; }
static void *pp_table(void) { return gotoblas; }
static void pp_set_table(void *t) { gotoblas = t; }
// Chooses the kernel table again; OPENBLAS_CORETYPE, if set, names it.
static void pp_rechoose(void) { gotoblas_dynamic_quit(); gotoblas_dynamic_init(); }
*/
import "C"

import (
	"os"
	"unsafe"
)

// Name says which implementation was compiled in.
const Name = "openblas"

// OpenBLAS itself runs single-threaded: its worker threads spin between calls and then
// steal the cores from the goroutines of the elementwise ops. Large GEMMs are split by
// rows over goroutines instead (see Sgemm), so Go schedules all the work. The worker
// pool OpenBLAS started when it was loaded is shut down too: left idle, its threads
// still took about a tenth of the CPU time of a training step (seen as time in libc,
// gone with OPENBLAS_NUM_THREADS=1); with one thread set, OpenBLAS never restarts it.
func init() {
	C.openblas_set_num_threads(1)
	C.blas_thread_shutdown_()
	kernel = chooseKernel(openblas{}, hostFeatures(), os.Getenv(coreEnv))
	chooseLibrary(&kernel, os.Getenv(gemmEnv))
}

// openblas is the kernelSwitcher of the linked OpenBLAS.
type openblas struct{}

func (openblas) core() string   { return C.GoString(C.openblas_get_corename()) }
func (openblas) config() string { return C.GoString(C.openblas_get_config()) }
func (openblas) dynamic() bool  { return C.pp_dynamic() != 0 }
func (openblas) verify() error  { return verifySgemm(sgemm1) }
func (openblas) table() any     { return C.pp_table() }
func (openblas) restore(t any)  { C.pp_set_table(t.(unsafe.Pointer)) }
func (openblas) rechoose()      { C.pp_rechoose() } // os.Setenv also sets the C environment it reads

// SetThreads sets how many goroutines one large GEMM is split over.
func SetThreads(n int) { setThreads(n) }

// Threads reports how many goroutines one large GEMM is split over.
func Threads() int { return threads() }

// sgemm splits large products by rows over goroutines (see splitRows).
func sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	splitRows(transA, m, n, k, lda, ldc, func(rows, aOff, cOff int) {
		sgemm1(transA, transB, rows, n, k, alpha, a[aOff:], lda, b, ldb, beta, c[cOff:], ldc)
	})
}

func sgemm1(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if useOneDNN {
		dnnlSgemm1(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	ta, tb := uint32(C.CblasNoTrans), uint32(C.CblasNoTrans)
	if transA {
		ta = C.CblasTrans
	}
	if transB {
		tb = C.CblasTrans
	}
	C.cblas_sgemm(C.CblasRowMajor, ta, tb, C.blasint(m), C.blasint(n), C.blasint(k),
		C.float(alpha), (*C.float)(unsafe.Pointer(&a[0])), C.blasint(lda),
		(*C.float)(unsafe.Pointer(&b[0])), C.blasint(ldb),
		C.float(beta), (*C.float)(unsafe.Pointer(&c[0])), C.blasint(ldc))
}
