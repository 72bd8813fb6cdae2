//go:build cgo && !purego

package blas

import (
	"os"
	"strings"
	"testing"
)

// TestOpenBLASKernelSwitch drives the real library: force its generic kernel, as
// OpenBLAS picks on CPUs newer than its release, and check that chooseKernel moves it
// to the best kernel for this CPU and that products are then right.
func TestOpenBLASKernelSwitch(t *testing.T) {
	lib := openblas{}
	if !lib.dynamic() {
		t.Skipf("this OpenBLAS (%s) is not a DYNAMIC_ARCH build", lib.config())
	}
	want, _ := bestCore(hostFeatures())
	if want == "" {
		t.Skip("this CPU has neither AVX2+FMA nor AVX-512")
	}
	orig, origEnv, hadEnv := lib.table(), os.Getenv(coreEnv), os.Getenv(coreEnv) != ""
	defer func() {
		lib.restore(orig)
		if hadEnv {
			os.Setenv(coreEnv, origEnv)
		} else {
			os.Unsetenv(coreEnv)
		}
	}()
	os.Setenv(coreEnv, "Prescott")
	lib.rechoose()
	if got := lib.core(); got != "Prescott" {
		t.Fatalf("forcing Prescott gave %s", got)
	}
	os.Unsetenv(coreEnv)
	k := chooseKernel(lib, hostFeatures(), "")
	t.Logf("%+v", k)
	if k.Detected != "Prescott" || !strings.EqualFold(k.Core, want) || !strings.EqualFold(lib.core(), want) || k.Warning != "" {
		t.Fatalf("kernel %+v (library at %s), want a switch from Prescott to %s", k, lib.core(), want)
	}
	if os.Getenv(coreEnv) != want {
		t.Errorf("%s = %q, want %q for child processes", coreEnv, os.Getenv(coreEnv), want)
	}
	if err := verifySgemm(sgemm); err != nil {
		t.Fatal(err)
	}
}

// TestKernelInUse: the kernel chosen at start-up is the best this CPU supports, unless
// a warning says why not.
func TestKernelInUse(t *testing.T) {
	k := Info()
	t.Logf("%+v", k)
	want, _ := bestCore(hostFeatures())
	if os.Getenv(coreEnv) != "" && !strings.Contains(k.Note, coreEnv) {
		t.Errorf("note %q does not credit %s", k.Note, coreEnv)
	}
	have, known := coreRank[strings.ToLower(k.Core)]
	if want != "" && known && have < coreRank[strings.ToLower(want)] && k.Warning == "" && os.Getenv(coreEnv) == "" {
		t.Errorf("running %s on a CPU that supports %s, with no warning", k.Core, want)
	}
}
