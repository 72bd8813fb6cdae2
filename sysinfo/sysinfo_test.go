package sysinfo

import (
	"strings"
	"testing"
)

func TestParseCPUInfo(t *testing.T) {
	data := []byte("processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 207\n" +
		"model name\t: Intel(R) Xeon(R) Platinum 8581C CPU @ 2.10GHz\n\nprocessor\t: 1\ncpu family\t: 7\nmodel\t\t: 1\nmodel name\t: other\n")
	name, fam, model := parseCPUInfo(data, "unknown")
	if name != "Intel(R) Xeon(R) Platinum 8581C CPU @ 2.10GHz" || fam != "6" || model != "207" {
		t.Fatalf("got %q family %q model %q", name, fam, model)
	}
	if name, _, _ := parseCPUInfo([]byte("garbage"), "unknown"); name != "unknown" {
		t.Fatalf("no model name gave %q", name)
	}
	i := Info{CPU: "X", Family: fam, Model: model, Features: []string{"AVX2", "FMA"}}
	if got, want := i.CPULine(), "X (family 6 model 207; AVX2 FMA)"; got != want {
		t.Errorf("CPULine %q, want %q", got, want)
	}
}

// TestRead: the description names the GEMM library and kernel the engine really uses.
func TestRead(t *testing.T) {
	i := Read()
	s := i.String()
	t.Log("\n" + s)
	if i.GEMM.Library == "" || i.GEMM.Kernel == "" || !strings.Contains(s, "gemm     "+i.GEMM.Library+", kernel "+i.GEMM.Kernel) {
		t.Fatalf("description lacks the GEMM kernel:\n%s", s)
	}
	if i.Threads < 1 || i.CPUs < 1 {
		t.Fatalf("threads %d CPUs %d", i.Threads, i.CPUs)
	}
}
