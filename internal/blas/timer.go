package blas

import (
	"sync"
	"sync/atomic"
	"time"
)

// The GEMM timer adds up the wall time during which at least one Sgemm call is running.
// Attention runs many small GEMMs on concurrent goroutines; counting each call's own
// duration would count overlapping calls twice, so the total could exceed the step it
// is compared with. It is off by default, when Sgemm pays one atomic load for it.
var (
	timerOn  atomic.Bool
	timerMu  sync.Mutex
	inFlight int
	since    time.Time
	busy     time.Duration
)

// StartTimer zeroes the GEMM timer and turns it on.
func StartTimer() {
	timerMu.Lock()
	busy, inFlight = 0, 0
	timerMu.Unlock()
	timerOn.Store(true)
}

// StopTimer turns the GEMM timer off and returns the wall time spent inside GEMMs since
// StartTimer.
func StopTimer() time.Duration {
	timerOn.Store(false)
	timerMu.Lock()
	defer timerMu.Unlock()
	if inFlight > 0 {
		busy += time.Since(since)
	}
	inFlight = 0
	return busy
}

// gemmBegin and gemmEnd bracket one timed Sgemm call.
func gemmBegin() {
	timerMu.Lock()
	if inFlight == 0 {
		since = time.Now()
	}
	inFlight++
	timerMu.Unlock()
}

func gemmEnd() {
	timerMu.Lock()
	// StopTimer may have closed the interval while this call ran.
	if inFlight > 0 {
		inFlight--
		if inFlight == 0 {
			busy += time.Since(since)
		}
	}
	timerMu.Unlock()
}
