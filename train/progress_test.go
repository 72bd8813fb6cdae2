package train

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pointpeft/pointpeft/peft"
	"github.com/pointpeft/pointpeft/progress"
)

// TestProgressInALog: a run whose progress goes to a log writes plain lines there.
func TestProgressInALog(t *testing.T) {
	defer func(d time.Duration) { progress.Every = d }(progress.Every)
	progress.Every = 0
	var log bytes.Buffer
	tr, te := shapes(t, 48, 32, 256)
	r := newRun(t, t.TempDir(), peft.MethodLinear, 1, tr, te)
	r.Progress, r.Cfg.WarmupEpochs = &log, 0
	if _, err := r.Fit(context.Background()); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(log.String(), "\r") || !strings.Contains(log.String(), "epoch 1/1: 16/48 samples") {
		t.Fatalf("a run's progress in a log: %q", log.String())
	}
}
