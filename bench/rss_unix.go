//go:build unix

package bench

import (
	"os"
	"syscall"
)

// PeakRSSMB is this process's peak resident memory in MiB.
func PeakRSSMB() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return maxRSSMB(&ru)
}

// childRSSMB is the peak resident memory of an exited child process in MiB (0 if unknown).
func childRSSMB(ps *os.ProcessState) float64 {
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		return maxRSSMB(ru)
	}
	return 0
}

// maxRSSMB converts ru_maxrss, which Linux reports in KiB.
func maxRSSMB(ru *syscall.Rusage) float64 { return float64(ru.Maxrss) / 1024 }
