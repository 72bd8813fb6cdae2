package pickle

import "math/big"

// Int converts an unpickled Python int or bool (gopickle gives int, int64 or
// *big.Int for ints, by size) to int64; ok is false for anything else and
// for ints beyond int64.
func Int(v any) (x int64, ok bool) {
	switch t := v.(type) {
	case int:
		return int64(t), true
	case int64:
		return t, true
	case bool:
		if t {
			return 1, true
		}
		return 0, true
	case *big.Int:
		if t.IsInt64() {
			return t.Int64(), true
		}
	}
	return 0, false
}
