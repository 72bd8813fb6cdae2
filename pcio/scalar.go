package pcio

import (
	"encoding/binary"
	"math"
)

// scalarType is the type of one binary number in a file: a kind in NumPy's
// letters ('i' signed integer, 'u' unsigned integer, 'f' IEEE float, 'b'
// bool) and a size in bytes. Every binary reader here (NumPy arrays, PLY,
// PCD) decodes its values through it.
type scalarType struct {
	kind byte
	size int
}

// valid reports whether decode handles t: integers of 1, 2, 4 or 8 bytes,
// floats of 4 or 8, bools of 1.
func (t scalarType) valid() bool {
	switch t.kind {
	case 'i', 'u':
		return t.size == 1 || t.size == 2 || t.size == 4 || t.size == 8
	case 'f':
		return t.size == 4 || t.size == 8
	case 'b':
		return t.size == 1
	}
	return false
}

// decode returns the number that p[:t.size] holds in byte order o (a valid t).
// float64 holds every value exactly but 64-bit integers beyond 2^53, which
// round.
func (t scalarType) decode(p []byte, o binary.ByteOrder) float64 {
	signed := t.kind == 'i'
	switch t.size {
	case 1:
		if signed {
			return float64(int8(p[0]))
		}
		return float64(p[0])
	case 2:
		if signed {
			return float64(int16(o.Uint16(p)))
		}
		return float64(o.Uint16(p))
	case 4:
		switch {
		case t.kind == 'f':
			return float64(math.Float32frombits(o.Uint32(p)))
		case signed:
			return float64(int32(o.Uint32(p)))
		}
		return float64(o.Uint32(p))
	}
	switch {
	case t.kind == 'f':
		return math.Float64frombits(o.Uint64(p))
	case signed:
		return float64(int64(o.Uint64(p)))
	}
	return float64(o.Uint64(p))
}

// decodeAll decodes len(p)/t.size values of type t into float32s.
func (t scalarType) decodeAll(p []byte, o binary.ByteOrder) []float32 {
	out := make([]float32, len(p)/t.size)
	for i := range out {
		out[i] = float32(t.decode(p[i*t.size:], o))
	}
	return out
}
