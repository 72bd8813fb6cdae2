package blas

import (
	"errors"
	"os"
	"strings"
	"testing"
)

// fakeLib is a switcher whose kernel choice and self-check the test sets.
type fakeLib struct {
	cur         string
	rechosen    bool
	dyn         bool
	verifyErr   error
	ignoreForce bool
}

func (f *fakeLib) core() string   { return f.cur }
func (f *fakeLib) config() string { return "fake" }
func (f *fakeLib) dynamic() bool  { return f.dyn }
func (f *fakeLib) table() any     { return f.cur }
func (f *fakeLib) restore(t any)  { f.cur = t.(string) }
func (f *fakeLib) verify() error  { return f.verifyErr }
func (f *fakeLib) rechoose() {
	f.rechosen = true
	if !f.ignoreForce {
		f.cur = os.Getenv(coreEnv)
	}
}

func TestChooseKernel(t *testing.T) {
	t.Setenv(coreEnv, "")
	avx512 := features{avx2FMA: true, avx512: true}
	avx2 := features{avx2FMA: true}
	cases := []struct {
		name      string
		lib       fakeLib
		f         features
		user      string
		core      string
		warning   string
		keepsEnv  bool
		noteMatch string
	}{
		{"generic on AVX-512 switches", fakeLib{cur: "Prescott", dyn: true}, avx512, "", "SkylakeX", "", true, "switched to SkylakeX"},
		{"generic on AVX2 switches", fakeLib{cur: "Prescott", dyn: true}, avx2, "", "Haswell", "", true, "switched to Haswell"},
		{"Zen on AVX2 stays", fakeLib{cur: "Zen", dyn: true}, avx2, "", "Zen", "", false, "chosen by OpenBLAS"},
		{"Zen on AVX-512 switches", fakeLib{cur: "Zen", dyn: true}, avx512, "", "SkylakeX", "", true, "switched"},
		{"SkylakeX stays", fakeLib{cur: "SkylakeX", dyn: true}, avx512, "", "SkylakeX", "", false, "chosen by OpenBLAS"},
		{"unknown name stays", fakeLib{cur: "Zen5", dyn: true}, avx512, "", "Zen5", "", false, "chosen by OpenBLAS"},
		{"user's narrower setting wins, with a warning", fakeLib{cur: "Haswell", dyn: true}, avx512, "Haswell", "Haswell", "OPENBLAS_CORETYPE=Haswell runs OpenBLAS's Haswell kernel, which does not use this CPU's AVX-512; unset it and pointpeft chooses SkylakeX", false, "set by OPENBLAS_CORETYPE"},
		{"user's best setting, no warning", fakeLib{cur: "Cooperlake", dyn: true}, avx512, "Cooperlake", "Cooperlake", "", false, "set by OPENBLAS_CORETYPE=Cooperlake"},
		{"no SIMD, nothing better", fakeLib{cur: "Prescott", dyn: true}, features{}, "", "Prescott", "", false, "chosen by OpenBLAS"},
		{"fixed build warns", fakeLib{cur: "Prescott"}, avx512, "", "Prescott", "cannot change kernels", false, ""},
		{"failed self-check reverts", fakeLib{cur: "Prescott", dyn: true, verifyErr: errors.New("C[0,0] = 3, want 2")}, avx512, "", "Prescott", "failed the self-check (C[0,0] = 3, want 2)", false, ""},
		{"refused switch reverts", fakeLib{cur: "Prescott", dyn: true, ignoreForce: true}, avx512, "", "Prescott", "switching to SkylakeX failed", false, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			os.Unsetenv(coreEnv)
			lib := c.lib
			k := chooseKernel(&lib, c.f, c.user)
			if k.Core != c.core || lib.cur != c.core {
				t.Errorf("core %q (library at %q), want %q", k.Core, lib.cur, c.core)
			}
			if k.Detected != c.lib.cur {
				t.Errorf("detected %q, want %q", k.Detected, c.lib.cur)
			}
			if (c.warning == "") != (k.Warning == "") || !strings.Contains(k.Warning, c.warning) {
				t.Errorf("warning %q, want one containing %q", k.Warning, c.warning)
			}
			if c.noteMatch != "" && !strings.Contains(k.Note, c.noteMatch) {
				t.Errorf("note %q, want one containing %q", k.Note, c.noteMatch)
			}
			// A forced kernel is left in the environment (children such as the benchmark's
			// reference inherit it); a reverted one is not.
			if got := os.Getenv(coreEnv) != ""; got != c.keepsEnv {
				t.Errorf("%s set: %v, want %v", coreEnv, got, c.keepsEnv)
			}
		})
	}
}

// TestVerifySgemm: the self-check passes the backend compiled in and catches a product
// that is wrong in each way a mis-chosen kernel could be.
func TestVerifySgemm(t *testing.T) {
	if err := verifySgemm(sgemm); err != nil {
		t.Fatalf("%s fails its own self-check: %v", Name, err)
	}
	broken := map[string]func(f gemmFunc) gemmFunc{
		"ignores beta": func(f gemmFunc) gemmFunc {
			return func(ta, tb bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
				f(ta, tb, m, n, k, alpha, a, lda, b, ldb, 0, c, ldc)
			}
		},
		"writes the padding": func(f gemmFunc) gemmFunc {
			return func(ta, tb bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
				f(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
				if ldc > n {
					c[n] = 42
				}
			}
		},
		"wrong for transposed A": func(f gemmFunc) gemmFunc {
			return func(ta, tb bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
				f(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
				if ta && m > 1 {
					c[ldc] += 0.5
				}
			}
		},
	}
	for name, wrap := range broken {
		if err := verifySgemm(wrap(sgemm)); err == nil {
			t.Errorf("a product that %s passes the self-check", name)
		}
	}
}
