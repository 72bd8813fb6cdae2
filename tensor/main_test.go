package tensor

import (
	"os"
	"testing"
)

// TestMain lets the arena carve even the tests' small buffers, so that every op's
// buffers go through it.
func TestMain(m *testing.M) {
	arenaMin = 0
	os.Exit(m.Run())
}
