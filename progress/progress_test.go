package progress

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestPlainInALog: a writer that is not a terminal gets plain lines, no carriage
// returns, with a sensible rate (the bar's first update used to read millions of
// samples/s).
func TestPlainInALog(t *testing.T) {
	defer func(d time.Duration) { Every = d }(Every)
	Every = 0
	var log bytes.Buffer
	p := New(&log, "epoch 1/2", 96, "samples")
	time.Sleep(10 * time.Millisecond)
	p.Add(32)
	p.Add(32)
	p.Add(32)
	p.Done()
	out := log.String()
	if strings.Contains(out, "\r") {
		t.Fatalf("carriage returns in a log: %q", out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "epoch 1/2: 32/96 samples (33%), ") {
		t.Fatalf("progress lines %q", lines)
	}
	var rate float64
	_, rest, _ := strings.Cut(lines[0], "), ")
	if _, err := fmt.Sscanf(rest, "%g samples/s", &rate); err != nil || rate <= 0 || rate > 32/0.01 {
		t.Fatalf("rate %g in %q (%v)", rate, lines[0], err)
	}
}
