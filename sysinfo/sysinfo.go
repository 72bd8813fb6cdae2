// Package sysinfo describes the machine a run happens on: the CPU and its vector
// instruction sets, the threads, and the GEMM library and kernel the engine uses, so
// that every figure can be recorded with what produced it.
package sysinfo

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strings"

	"golang.org/x/sys/cpu"

	"github.com/pointpeft/pointpeft/tensor"
)

// Info is what a benchmark or a log records about the machine.
type Info struct {
	// CPU is the model name ("AMD EPYC 9B14"), with the x86 family and model numbers
	// where /proc/cpuinfo gives them ("family 25 model 17").
	CPU      string
	Family   string
	Model    string
	Features []string // the vector extensions that matter to the kernels
	CPUs     int      // runtime.NumCPU
	Threads  int      // GOMAXPROCS: the engine's parallelism
	GEMM     tensor.GEMMBackend
}

// Read describes this machine.
func Read() Info {
	i := Info{CPU: "unknown CPU", CPUs: runtime.NumCPU(), Threads: runtime.GOMAXPROCS(0), GEMM: tensor.GEMM(), Features: features()}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		i.CPU, i.Family, i.Model = parseCPUInfo(data, i.CPU)
	}
	return i
}

// parseCPUInfo takes the first processor's model name, family and model.
func parseCPUInfo(data []byte, unknown string) (name, family, model string) {
	name = unknown
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if seen[k] {
			continue
		}
		seen[k] = true
		switch k {
		case "model name":
			name = v
		case "cpu family":
			family = v
		case "model":
			model = v
		}
	}
	return name, family, model
}

func features() []string {
	var f []string
	x := cpu.X86
	for _, c := range []struct {
		name string
		has  bool
	}{{"AVX", x.HasAVX}, {"AVX2", x.HasAVX2}, {"FMA", x.HasFMA}, {"AVX-512F", x.HasAVX512F},
		{"AVX-512BW", x.HasAVX512BW}, {"AVX-512VL", x.HasAVX512VL}, {"AVX512_BF16", x.HasAVX512BF16},
		{"AMX", x.HasAMXTile}} {
		if c.has {
			f = append(f, c.name)
		}
	}
	if runtime.GOARCH == "arm64" {
		for _, c := range []struct {
			name string
			has  bool
		}{{"ASIMD", cpu.ARM64.HasASIMD}, {"SVE", cpu.ARM64.HasSVE}} {
			if c.has {
				f = append(f, c.name)
			}
		}
	}
	return f
}

// CPULine is one line for a report: model, family/model numbers and vector extensions.
func (i Info) CPULine() string {
	s := i.CPU
	var extra []string
	if i.Family != "" {
		extra = append(extra, "family "+i.Family+" model "+i.Model)
	}
	if len(i.Features) > 0 {
		extra = append(extra, strings.Join(i.Features, " "))
	}
	if len(extra) > 0 {
		s += " (" + strings.Join(extra, "; ") + ")"
	}
	return s
}

// String is the multi-line description `pointpeft version` prints.
func (i Info) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "cpu      %s\n", i.CPULine())
	fmt.Fprintf(&b, "threads  %d of %d CPUs (GOMAXPROCS)\n", i.Threads, i.CPUs)
	fmt.Fprintf(&b, "gemm     %s, kernel %s: %s\n", i.GEMM.Library, i.GEMM.Kernel, i.GEMM.Note)
	if i.GEMM.Config != "" {
		fmt.Fprintf(&b, "         %s\n", i.GEMM.Config)
	}
	if i.GEMM.Warning != "" {
		fmt.Fprintf(&b, "warning  %s\n", i.GEMM.Warning)
	}
	return b.String()
}
