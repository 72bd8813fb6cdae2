package main

import (
	"fmt"
	"io"
	"time"

	"github.com/schollz/progressbar/v3"
)

// progressFunc returns a callback that advances a progress bar on w to done of total
// items (nil when w is nil: no bar).
func progressFunc(w io.Writer, total int, desc, unit string) func(done int) {
	if w == nil {
		return nil
	}
	bar := progressbar.NewOptions(total, progressbar.OptionSetWriter(w), progressbar.OptionSetDescription(desc),
		progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString(unit),
		progressbar.OptionSetPredictTime(true), progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }))
	last := 0
	return func(done int) {
		bar.Add(done - last)
		last = done
	}
}
