//go:build cgo && !purego

package blas

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdint.h>
#include <stddef.h>

// oneDNN's row-major SGEMM and version, as its header declares them (dnnl_dim_t is
// int64_t, dnnl_status_t an enum whose success is 0); found at run time, so that
// neither building nor running needs oneDNN.
typedef int (*pp_dnnl_sgemm_t)(char, char, int64_t, int64_t, int64_t, float, const float *, int64_t,
	const float *, int64_t, float, float *, int64_t);
typedef struct {
	int major, minor, patch;
	const char *hash;
	unsigned cpu_runtime, gpu_runtime;
} pp_dnnl_version_t;

static pp_dnnl_sgemm_t pp_dnnl_sgemm;
static void (*pp_omp_set_num_threads)(int);
static const pp_dnnl_version_t *pp_dnnl_ver;

// Returns 0 when libdnnl and its dnnl_sgemm were found.
static int pp_dnnl_open(void) {
	const char *names[] = {"libdnnl.so.3", "libdnnl.so.2", "libdnnl.so"};
	void *h = NULL;
	for (int i = 0; i < 3 && !h; i++) {
		h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
	}
	if (!h) {
		return 1;
	}
	pp_dnnl_sgemm = (pp_dnnl_sgemm_t)dlsym(h, "dnnl_sgemm");
	const pp_dnnl_version_t *(*ver)(void) = (const pp_dnnl_version_t *(*)(void))dlsym(h, "dnnl_version");
	// Present when oneDNN runs on OpenMP (Debian's build); each calling thread is held
	// to one OpenMP thread, so that no spinning worker pool competes with Go's.
	pp_omp_set_num_threads = (void (*)(int))dlsym(h, "omp_set_num_threads");
	if (!pp_dnnl_sgemm || !ver) {
		return 2;
	}
	pp_dnnl_ver = ver();
	return 0;
}

static int pp_dnnl_major(void) { return pp_dnnl_ver->major; }
static int pp_dnnl_minor(void) { return pp_dnnl_ver->minor; }
static int pp_dnnl_patch(void) { return pp_dnnl_ver->patch; }
static int pp_dnnl_omp(void) { return pp_omp_set_num_threads != NULL; }

static int pp_dnnl_call(char ta, char tb, int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda,
	const float *b, int64_t ldb, float beta, float *c, int64_t ldc) {
	if (pp_omp_set_num_threads) {
		pp_omp_set_num_threads(1);
	}
	return pp_dnnl_sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// gemmEnv chooses the SGEMM library: "openblas", "onednn", or empty for oneDNN when it
// is installed and passes the self-check, OpenBLAS otherwise.
const gemmEnv = "POINTPEFT_GEMM"

// useOneDNN is set once, at init, when SGEMMs go to oneDNN.
var useOneDNN bool

// openOneDNN finds oneDNN and returns its version.
func openOneDNN() (string, error) {
	switch C.pp_dnnl_open() {
	case 1:
		return "", fmt.Errorf("libdnnl.so not found (Debian: apt-get install libdnnl2)")
	case 2:
		return "", fmt.Errorf("libdnnl.so has no dnnl_sgemm")
	}
	v := fmt.Sprintf("oneDNN %d.%d.%d", C.pp_dnnl_major(), C.pp_dnnl_minor(), C.pp_dnnl_patch())
	if C.pp_dnnl_omp() != 0 {
		v += " (OpenMP, one thread per call)"
	}
	return v, nil
}

// chooseLibrary moves SGEMMs to oneDNN where choice (gemmEnv's value) allows it and
// oneDNN is found and passes verifySgemm, and records the outcome in k. The Point-PEFT
// training step ran 6% faster with it than with OpenBLAS on an AMD Zen 3 and 4% faster
// than with OpenBLAS's best (Cooperlake) kernel on an AMD Zen 5; the gain is largest on
// the attention's small products.
func chooseLibrary(k *Kernel, choice string) {
	switch choice {
	case "openblas":
		k.Note += "; " + gemmEnv + "=openblas"
		return
	case "", "onednn":
	default:
		k.Warning = fmt.Sprintf("%s=%q is neither openblas nor onednn; OpenBLAS runs", gemmEnv, choice)
		return
	}
	v, err := openOneDNN()
	if err == nil {
		err = verifySgemm(dnnlSgemm1)
	}
	if err != nil {
		if choice == "onednn" {
			k.Warning = fmt.Sprintf("%s=onednn, but oneDNN cannot run: %v; OpenBLAS runs", gemmEnv, err)
		}
		return
	}
	useOneDNN = true
	k.Library = "onednn"
	fallback := k.Note
	if k.Warning != "" { // OpenBLAS's kernel matters only to the fallback now
		fallback, k.Warning = k.Warning, ""
	}
	k.Note = fmt.Sprintf("%s, self-checked against float64; OpenBLAS %s (%s) is the fallback: %s=openblas", v, k.Core, fallback, gemmEnv)
	k.Core = "dnnl_sgemm"
}

func dnnlSgemm1(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	ta, tb := C.char('N'), C.char('N')
	if transA {
		ta = 'T'
	}
	if transB {
		tb = 'T'
	}
	st := C.pp_dnnl_call(ta, tb, C.int64_t(m), C.int64_t(n), C.int64_t(k), C.float(alpha),
		(*C.float)(unsafe.Pointer(&a[0])), C.int64_t(lda), (*C.float)(unsafe.Pointer(&b[0])), C.int64_t(ldb),
		C.float(beta), (*C.float)(unsafe.Pointer(&c[0])), C.int64_t(ldc))
	if st != 0 {
		// Sizes are checked before the call, so a failure here is oneDNN's own.
		panic(fmt.Sprintf("blas: dnnl_sgemm %dx%dx%d failed with status %d", m, n, k, int(st)))
	}
}
