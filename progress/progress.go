// Package progress shows how far a long loop got: a bar with an ETA on a terminal, a
// plain line every so often anywhere else (a log file gets no carriage-return
// updates), nothing for a nil writer.
package progress

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// Every is how often a log (a pipe or a file) gets a progress line.
var Every = time.Minute

// Meter is one loop's display.
type Meter interface {
	// Add counts n more items done.
	Add(n int)
	// Done ends the display, also when the loop stopped early.
	Done()
}

// New starts the display of a loop over total items of unit ("samples"); label names
// it ("epoch 3/60").
func New(w io.Writer, label string, total int, unit string) Meter {
	switch {
	case w == nil:
		return nop{}
	case isTerminal(w):
		b := progressbar.NewOptions(total, progressbar.OptionSetWriter(w), progressbar.OptionSetDescription(label),
			progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString(unit),
			progressbar.OptionSetPredictTime(true), progressbar.OptionThrottle(200*time.Millisecond),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }))
		// Start the clock now, not at the first Add: otherwise the first update's rate is
		// one batch over microseconds.
		b.StartWithoutRender()
		return bar{b}
	}
	now := time.Now()
	return &plain{w: w, label: label, unit: unit, total: total, start: now, last: now}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

type nop struct{}

func (nop) Add(int) {}
func (nop) Done()   {}

type bar struct{ b *progressbar.ProgressBar }

func (b bar) Add(n int) { b.b.Add(n) }

// Done ends the bar's line when the loop stopped short of its end.
func (b bar) Done() {
	if !b.b.IsFinished() {
		b.b.Exit()
	}
}

type plain struct {
	w           io.Writer
	label, unit string
	total, seen int
	start, last time.Time
}

func (p *plain) Add(n int) {
	p.seen += n
	if now := time.Now(); now.Sub(p.last) >= Every && p.seen < p.total {
		p.last = now
		secs := now.Sub(p.start).Seconds()
		rate := float64(p.seen) / secs
		left := time.Duration(float64(p.total-p.seen) / rate * float64(time.Second)).Round(time.Second)
		fmt.Fprintf(p.w, "%s: %d/%d %s (%.0f%%), %.1f %s/s, %s left\n", p.label, p.seen, p.total, p.unit,
			100*float64(p.seen)/float64(p.total), rate, p.unit, left)
	}
}

func (p *plain) Done() {}
