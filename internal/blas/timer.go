package blas

import (
	"sync/atomic"
	"time"
)

// The GEMM timer adds up the wall time during which at least one Sgemm call is running.
// Attention runs many small GEMMs on concurrent goroutines; counting each call's own
// duration would count overlapping calls twice, so the total could exceed the step it
// is compared with. It is off by default, when Sgemm pays one atomic load for it. It
// uses atomics rather than a lock: thousands of small GEMMs a step contended for one.
// An interval that closes while another opens may be cut by a few nanoseconds.
var (
	timerOn  atomic.Bool
	inFlight atomic.Int64
	since    atomic.Int64 // nanoseconds since epoch, when inFlight last left 0
	busy     atomic.Int64 // nanoseconds
	epoch    = time.Now()
)

func now() int64 { return int64(time.Since(epoch)) }

// StartTimer zeroes the GEMM timer and turns it on.
func StartTimer() {
	busy.Store(0)
	inFlight.Store(0)
	timerOn.Store(true)
}

// StopTimer turns the GEMM timer off and returns the wall time spent inside GEMMs since
// StartTimer.
func StopTimer() time.Duration {
	timerOn.Store(false)
	if inFlight.Swap(0) > 0 {
		busy.Add(max(now()-since.Load(), 0))
	}
	return time.Duration(busy.Load())
}

// gemmBegin and gemmEnd bracket one timed Sgemm call.
func gemmBegin() {
	if inFlight.Add(1) == 1 {
		since.Store(now())
	}
}

func gemmEnd() {
	// StopTimer may have closed the interval while this call ran.
	if n := inFlight.Add(-1); n == 0 {
		busy.Add(max(now()-since.Load(), 0))
	} else if n < 0 {
		inFlight.Store(0)
	}
}
