package checkpoint

import (
	"fmt"
	"math"
)

// Tensor is a dense, row-major tensor as stored in a checkpoint.
//
// Floating-point dtypes (F32, F16, BF16, F64) are held in F32 whatever their
// on-disk precision; integer and boolean dtypes (I64, I32, I16, I8, U8, BOOL)
// are held in I64. DType records the on-disk type so that a writer can
// reproduce it. Exactly one of F32 and I64 is used; its length is Numel().
type Tensor struct {
	DType string // safetensors dtype name: "F32", "F16", "BF16", "F64", "I64", "I32", "I16", "I8", "U8", "BOOL"
	Shape []int  // empty for a scalar
	F32   []float32
	I64   []int64
}

// NewF32 returns an F32 tensor; data is used, not copied.
func NewF32(shape []int, data []float32) *Tensor {
	return &Tensor{DType: "F32", Shape: append([]int(nil), shape...), F32: data}
}

// NewI64 returns an I64 tensor; data is used, not copied.
func NewI64(shape []int, data []int64) *Tensor {
	return &Tensor{DType: "I64", Shape: append([]int(nil), shape...), I64: data}
}

// Numel is the number of elements implied by Shape (1 for a scalar).
func (t *Tensor) Numel() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// IsFloat reports whether the tensor's values live in F32.
func (t *Tensor) IsFloat() bool { return isFloatDType(t.DType) }

// StateDict is an ordered name -> tensor map, like a PyTorch state_dict.
type StateDict struct {
	Keys    []string // file order
	Tensors map[string]*Tensor
	Meta    map[string]string // safetensors __metadata__; empty for .pth files
}

// NewStateDict returns an empty StateDict.
func NewStateDict() *StateDict {
	return &StateDict{Tensors: map[string]*Tensor{}, Meta: map[string]string{}}
}

// Set adds or replaces a tensor; a new key goes to the end of Keys.
func (sd *StateDict) Set(key string, t *Tensor) {
	if sd.Tensors == nil {
		sd.Tensors = map[string]*Tensor{}
	}
	if _, ok := sd.Tensors[key]; !ok {
		sd.Keys = append(sd.Keys, key)
	}
	sd.Tensors[key] = t
}

// Delete removes a key if present.
func (sd *StateDict) Delete(key string) {
	if _, ok := sd.Tensors[key]; !ok {
		return
	}
	delete(sd.Tensors, key)
	for i, k := range sd.Keys {
		if k == key {
			sd.Keys = append(sd.Keys[:i:i], sd.Keys[i+1:]...)
			break
		}
	}
}

// NumElements is the total number of elements over all tensors.
func (sd *StateDict) NumElements() int64 {
	var n int64
	for _, k := range sd.Keys {
		n += int64(sd.Tensors[k].Numel())
	}
	return n
}

// TensorInfo describes a tensor without its data.
type TensorInfo struct {
	Name  string
	DType string
	Shape []int
}

// Numel is the number of elements implied by Shape.
func (ti TensorInfo) Numel() int64 {
	n := int64(1)
	for _, d := range ti.Shape {
		n *= int64(d)
	}
	return n
}

// DTypeSize returns the size in bytes of one element of a dtype, and false
// for dtypes this package does not handle.
func DTypeSize(dtype string) (int, bool) {
	switch dtype {
	case "F64", "I64":
		return 8, true
	case "F32", "I32":
		return 4, true
	case "F16", "BF16", "I16":
		return 2, true
	case "I8", "U8", "BOOL":
		return 1, true
	}
	return 0, false
}

func isFloatDType(dtype string) bool {
	switch dtype {
	case "F32", "F16", "BF16", "F64":
		return true
	}
	return false
}

// maxElements bounds every element count computed from untrusted header
// values before anything is allocated (2^40 elements is far beyond any real
// checkpoint but keeps products of dimensions from overflowing int64).
const maxElements = 1 << 40

// numelOf multiplies dims with overflow and sign checks.
func numelOf(shape []int) (int64, error) {
	n := int64(1)
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("negative dimension in shape %v", shape)
		}
		if d != 0 && n > maxElements/int64(d) {
			return 0, fmt.Errorf("shape %v has too many elements", shape)
		}
		n *= int64(d)
	}
	return n, nil
}

// decodeValues converts little-endian raw bytes of a dtype into a Tensor's
// value slice. len(raw) must be n*DTypeSize(dtype).
func decodeValues(t *Tensor, raw []byte, n int, bigEndian bool) {
	size, _ := DTypeSize(t.DType)
	if isFloatDType(t.DType) {
		t.F32 = make([]float32, n)
		for i := range n {
			t.F32[i] = floatAt(t.DType, raw[i*size:], bigEndian)
		}
		return
	}
	t.I64 = make([]int64, n)
	for i := range n {
		t.I64[i] = intAt(t.DType, raw[i*size:], bigEndian)
	}
}

func u16(b []byte, be bool) uint16 {
	if be {
		return uint16(b[0])<<8 | uint16(b[1])
	}
	return uint16(b[1])<<8 | uint16(b[0])
}

func u32(b []byte, be bool) uint32 {
	if be {
		return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	}
	return uint32(b[3])<<24 | uint32(b[2])<<16 | uint32(b[1])<<8 | uint32(b[0])
}

func u64(b []byte, be bool) uint64 {
	if be {
		return uint64(u32(b, true))<<32 | uint64(u32(b[4:], true))
	}
	return uint64(u32(b[4:], false))<<32 | uint64(u32(b, false))
}

// floatAt decodes one element of a float dtype at the start of b.
func floatAt(dtype string, b []byte, be bool) float32 {
	switch dtype {
	case "F32":
		return math.Float32frombits(u32(b, be))
	case "F16":
		return F16ToF32(u16(b, be))
	case "BF16":
		return BF16ToF32(u16(b, be))
	case "F64":
		return float32(math.Float64frombits(u64(b, be)))
	}
	return 0
}

// intAt decodes one element of an integer or bool dtype at the start of b.
func intAt(dtype string, b []byte, be bool) int64 {
	switch dtype {
	case "I64":
		return int64(u64(b, be))
	case "I32":
		return int64(int32(u32(b, be)))
	case "I16":
		return int64(int16(u16(b, be)))
	case "I8":
		return int64(int8(b[0]))
	case "U8":
		return int64(b[0])
	case "BOOL":
		if b[0] != 0 {
			return 1
		}
		return 0
	}
	return 0
}

// F16ToF32 converts IEEE 754 half-precision bits to float32 (exact).
func F16ToF32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // inf / NaN
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp == 0:
		if mant == 0 {
			return math.Float32frombits(sign)
		}
		// Subnormal half: value is mant * 2^-24, exactly representable.
		v := float32(mant) * (1.0 / (1 << 24))
		if sign != 0 {
			v = -v
		}
		return v
	}
	return math.Float32frombits(sign | (exp+112)<<23 | mant<<13)
}

// F32ToF16 converts float32 to half precision, rounding to nearest even
// (overflow gives infinity, NaN stays NaN).
func F32ToF16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xff
	mant := b & 0x7fffff
	if exp == 0xff {
		if mant != 0 {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	}
	e := exp - 127 + 15
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 {
		if e < -10 {
			return sign // underflows to signed zero
		}
		// Subnormal: shift the implicit-1 mantissa right and round.
		m := mant | 0x800000
		shift := uint32(14 - e)
		half := uint32(1) << (shift - 1)
		r := m >> shift
		rem := m & (1<<shift - 1)
		if rem > half || (rem == half && r&1 == 1) {
			r++
		}
		return sign | uint16(r)
	}
	r := uint32(e)<<10 | mant>>13
	rem := mant & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && r&1 == 1) {
		r++ // may carry into the exponent, which is the correct result
	}
	return sign | uint16(r)
}

// BF16ToF32 converts bfloat16 bits to float32 (exact).
func BF16ToF32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// F32ToBF16 converts float32 to bfloat16, rounding to nearest even.
func F32ToBF16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 {
		return uint16(b>>16) | 0x40 // quiet NaN
	}
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}
