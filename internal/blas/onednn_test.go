//go:build cgo && !purego

package blas

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestOneDNNSgemm: oneDNN's SGEMM, called the way the engine calls it (one OpenMP
// thread per call), passes the same self-check as OpenBLAS's, from several goroutines
// at once as the row-split Sgemm runs it.
func TestOneDNNSgemm(t *testing.T) {
	v, err := openOneDNN()
	if err != nil {
		t.Skipf("oneDNN not installed: %v", err)
	}
	t.Log(v)
	errs := make(chan error, 4)
	for range 4 {
		go func() { errs <- verifySgemm(dnnlSgemm1) }()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// TestChooseLibrary: each value of POINTPEFT_GEMM gives the library it names, a bad
// value a warning that names it, and oneDNN takes over a narrow-kernel warning of
// OpenBLAS's into its note (that kernel only serves the fallback then).
func TestChooseLibrary(t *testing.T) {
	saved := useOneDNN
	defer func() { useOneDNN = saved }()
	base := Kernel{Library: "openblas", Core: "Haswell", Note: "set by OPENBLAS_CORETYPE=Haswell"}

	k := base
	useOneDNN = false
	chooseLibrary(&k, "openblas")
	if k.Library != "openblas" || useOneDNN || !strings.Contains(k.Note, "POINTPEFT_GEMM=openblas") {
		t.Errorf("openblas: %+v, useOneDNN %v", k, useOneDNN)
	}

	k = base
	chooseLibrary(&k, "mkl")
	if k.Library != "openblas" || useOneDNN || !strings.Contains(k.Warning, `POINTPEFT_GEMM="mkl" is neither openblas nor onednn`) {
		t.Errorf("mkl: %+v", k)
	}

	_, err := openOneDNN()
	k = base
	k.Warning = "OPENBLAS_CORETYPE=Haswell runs OpenBLAS's Haswell kernel"
	chooseLibrary(&k, "onednn")
	if err != nil {
		if k.Library != "openblas" || useOneDNN || !strings.Contains(k.Warning, "oneDNN cannot run") {
			t.Errorf("onednn without the library: %+v", k)
		}
		return
	}
	if k.Library != "onednn" || k.Core != "dnnl_sgemm" || !useOneDNN || k.Warning != "" ||
		!strings.Contains(k.Note, "OpenBLAS Haswell (OPENBLAS_CORETYPE=Haswell runs") {
		t.Errorf("onednn: %+v, useOneDNN %v", k, useOneDNN)
	}
}

// TestGEMMEnvSelectsLibrary runs this test binary again under each POINTPEFT_GEMM value
// and checks the library it reports at start-up.
func TestGEMMEnvSelectsLibrary(t *testing.T) {
	if os.Getenv("PP_GEMM_CHILD") != "" {
		t.Logf("library=%s", Info().Library)
		if err := verifySgemm(sgemm); err != nil {
			t.Fatal(err)
		}
		return
	}
	_, err := openOneDNN()
	want := map[string]string{"openblas": "openblas", "bogus": "openblas", "onednn": "openblas"}
	if err == nil {
		want["onednn"] = "onednn"
	}
	for val, lib := range want {
		cmd := exec.Command(os.Args[0], "-test.run=^TestGEMMEnvSelectsLibrary$", "-test.v")
		cmd.Env = append(os.Environ(), "PP_GEMM_CHILD=1", gemmEnv+"="+val)
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "library="+lib+"\n") {
			t.Errorf("%s=%s: want library %s; %v\n%s", gemmEnv, val, lib, err, out)
		}
	}
}
