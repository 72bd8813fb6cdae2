//go:build !unix

package bench

import "os"

// PeakRSSMB is unknown on this system.
func PeakRSSMB() float64 { return 0 }

func childRSSMB(*os.ProcessState) float64 { return 0 }
