//go:build tensordebug

package tensor

// The tensordebug build poisons recycled memory: a buffer given back to the arena
// (release, Free, Segment, Backward) is filled with NaN and not lent again before the
// step ends, every slab is filled with NaN when a step ends, uncleared outputs
// (allocFull) start as NaN, and the arena carves even small buffers. A backward pass
// that reads data its op declared it would not keep then produces NaN instead of
// silently using another tensor's values. Tests only: it is slow and uses more memory.
const poison = true

func init() { arenaMin = 0 }
