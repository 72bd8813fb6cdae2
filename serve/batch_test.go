package serve

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestBatcherAfterClose: a request that reaches a batcher after it was closed (its model
// replaced by a reload) is answered at once, never queued behind the finished drain to
// wait for its deadline. Before the fix, half of these requests timed out: select chose
// at random between the queue, which had room, and the closed stop channel.
func TestBatcherAfterClose(t *testing.T) {
	b := newBatcher(nil, 4, time.Millisecond, nil) // no model: each forward pass fails, and says so
	b.close()
	time.Sleep(10 * time.Millisecond) // the loop drains and returns
	for i := range 40 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		r := b.do(ctx, make([]float32, 3))
		cancel()
		if errors.Is(r.err, context.DeadlineExceeded) || r.err == nil {
			t.Fatalf("request %d after close: %v, want the forward pass's own error", i, r.err)
		}
	}
}
