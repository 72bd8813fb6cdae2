//go:build !unix

package main

// peakRSSMB is unknown on this system.
func peakRSSMB() float64 { return 0 }
