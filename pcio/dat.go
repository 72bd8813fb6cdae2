package pcio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/nlpodyssey/gopickle/types"

	"github.com/pointpeft/pointpeft/internal/pickle"
)

// Array is an n-dimensional float32 array in C order.
type Array struct {
	Data  []float32
	Shape []int
}

// ReadDat reads one of Point-BERT's ModelNet40 caches
// (modelnet40_{train,test}_8192pts_fps.dat): a Python pickle of
// [list_of_points, list_of_labels] where every points entry is a NumPy array
// (float32 [8192,6] in the real files) and every label a NumPy integer array
// of shape [1] or a plain int. Pickle protocols 2 to 5 are read; only the
// NumPy and codec globals such a file needs are resolved, anything else is an
// error, so arbitrary pickles are never executed.
func ReadDat(path string) ([]Array, []int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	arrays, labels, err := decodeDat(f, st.Size())
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", path, err)
	}
	return arrays, labels, nil
}

// DecodeDat decodes the bytes of a .dat pickle; see ReadDat.
func DecodeDat(b []byte) ([]Array, []int, error) {
	return decodeDat(bytes.NewReader(b), int64(len(b)))
}

func decodeDat(r io.ReaderAt, size int64) ([]Array, []int, error) {
	v, err := pickle.Load(r, size, findNumpyClass, nil)
	if err != nil {
		return nil, nil, err
	}
	return datLists(v)
}

func datLists(v any) ([]Array, []int, error) {
	top, ok := asSlice(v)
	if !ok || len(top) != 2 {
		return nil, nil, errors.New("dat: expected [list_of_points, list_of_labels]")
	}
	pts, ok1 := asSlice(top[0])
	lbl, ok2 := asSlice(top[1])
	if !ok1 || !ok2 {
		return nil, nil, errors.New("dat: expected [list_of_points, list_of_labels]")
	}
	if len(pts) != len(lbl) {
		return nil, nil, fmt.Errorf("dat: %d point arrays but %d labels", len(pts), len(lbl))
	}
	arrays := make([]Array, len(pts))
	labels := make([]int, len(lbl))
	for i, p := range pts {
		a, ok := p.(*npArray)
		if !ok || a.data == nil {
			return nil, nil, fmt.Errorf("dat: points entry %d is not a NumPy array", i)
		}
		if len(a.shape) != 2 || a.shape[1] < 3 {
			return nil, nil, fmt.Errorf("dat: points entry %d has shape %v, want [N, C>=3]", i, a.shape)
		}
		for j := 0; j < a.shape[0]; j++ {
			for _, x := range a.data[j*a.shape[1] : j*a.shape[1]+3] {
				if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
					return nil, nil, fmt.Errorf("dat: points entry %d: point %d has non-finite coordinate %v", i, j, x)
				}
			}
		}
		arrays[i] = Array{Data: a.data, Shape: a.shape}
	}
	for i, l := range lbl {
		x, ok := labelValue(l)
		if !ok {
			return nil, nil, fmt.Errorf("dat: label entry %d is not a single non-negative integer", i)
		}
		labels[i] = x
	}
	return arrays, labels, nil
}

func asSlice(v any) ([]any, bool) {
	switch t := v.(type) {
	case *types.List:
		return *t, true
	case *types.Tuple:
		return *t, true
	}
	return nil, false
}

func labelValue(v any) (int, bool) {
	if a, ok := v.(*npArray); ok {
		if len(a.data) != 1 || a.dtype.kind == 'f' {
			return 0, false
		}
		x := a.data[0]
		return int(x), x >= 0 && x < 1<<24 && x == float32(math.Trunc(float64(x)))
	}
	x, ok := pickle.Int(v)
	return int(x), ok && x >= 0
}

// findNumpyClass resolves the globals a pickled NumPy array refers to.
func findNumpyClass(module, name string) (any, error) {
	switch module + "." + name {
	case "numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct":
		return pyFunc(npReconstruct), nil
	case "numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar":
		return pyFunc(npScalar), nil
	case "numpy.core.numeric._frombuffer", "numpy._core.numeric._frombuffer":
		return pyFunc(npFromBuffer), nil
	case "numpy.ndarray":
		return npNdarrayClass{}, nil
	case "numpy.dtype":
		return pyFunc(npNewDtype), nil
	case "_codecs.encode":
		return pyFunc(codecsEncode), nil
	}
	return nil, fmt.Errorf("%w global %s.%s", ErrUnsupported, module, name)
}

// pyFunc adapts a Go function to gopickle's Callable.
type pyFunc func(args ...any) (any, error)

func (f pyFunc) Call(args ...any) (any, error) { return f(args...) }

// npNdarrayClass stands for numpy.ndarray, which only appears as an argument.
type npNdarrayClass struct{}

type npDtype struct {
	scalarType
	order binary.ByteOrder
}

func npNewDtype(args ...any) (any, error) {
	if len(args) == 0 {
		return nil, errors.New("numpy.dtype without arguments")
	}
	s, ok := args[0].(string)
	if !ok || len(s) < 2 {
		return nil, fmt.Errorf("%w numpy.dtype(%v)", ErrUnsupported, args[0])
	}
	d := &npDtype{scalarType: scalarType{kind: s[0], size: int(s[1] - '0')}, order: binary.LittleEndian}
	if len(s) != 2 || !d.valid() {
		return nil, fmt.Errorf("%w numpy dtype %q", ErrUnsupported, s)
	}
	return d, nil
}

// PySetState receives (version, byteorder, ...) from the pickle.
func (d *npDtype) PySetState(state any) error {
	st, ok := asSlice(state)
	if !ok || len(st) < 2 {
		return errors.New("bad numpy.dtype state")
	}
	switch st[1] {
	case ">":
		d.order = binary.BigEndian
	case "<", "|", "=":
		d.order = binary.LittleEndian
	default:
		return fmt.Errorf("bad numpy.dtype byte order %v", st[1])
	}
	return nil
}

// npArray is an unpickled NumPy array, converted to float32 as soon as its
// data arrives so the raw bytes need not be kept.
type npArray struct {
	shape []int
	dtype *npDtype
	data  []float32
}

func npReconstruct(args ...any) (any, error) {
	if len(args) < 1 {
		return nil, errors.New("_reconstruct without arguments")
	}
	if _, ok := args[0].(npNdarrayClass); !ok {
		return nil, fmt.Errorf("%w _reconstruct of %T", ErrUnsupported, args[0])
	}
	return &npArray{}, nil
}

// PySetState receives (version, shape, dtype, is_fortran, data).
func (a *npArray) PySetState(state any) error {
	st, ok := asSlice(state)
	if ok && len(st) == 5 {
		st = st[1:]
	}
	if !ok || len(st) != 4 {
		return errors.New("bad numpy.ndarray state")
	}
	if fortran, _ := pickle.Int(st[2]); fortran != 0 {
		return fmt.Errorf("%w Fortran-ordered array", ErrUnsupported)
	}
	return a.fill(st[0], st[1], st[3])
}

func (a *npArray) fill(shapeV, dtypeV, dataV any) error {
	dims, ok := asSlice(shapeV)
	if !ok {
		return errors.New("bad numpy array shape")
	}
	dt, ok := dtypeV.(*npDtype)
	if !ok {
		return errors.New("bad numpy array dtype")
	}
	var raw []byte
	switch t := dataV.(type) {
	case []byte:
		raw = t
	case *types.ByteArray:
		raw = *t
	default:
		return fmt.Errorf("%w numpy array data of type %T", ErrUnsupported, dataV)
	}
	a.shape = make([]int, len(dims))
	for i, d := range dims {
		v, ok := pickle.Int(d)
		if !ok {
			return errors.New("bad numpy array shape")
		}
		a.shape[i] = int(v)
	}
	n, ok := shapeCount(a.shape, len(raw)/dt.size)
	if !ok || n*dt.size != len(raw) {
		return fmt.Errorf("numpy array shape %v does not match %d data bytes", a.shape, len(raw))
	}
	a.dtype = dt
	a.data = dt.decodeAll(raw, dt.order)
	return nil
}

// npScalar handles numpy.core.multiarray.scalar(dtype, bytes).
func npScalar(args ...any) (any, error) {
	if len(args) != 2 {
		return nil, errors.New("bad numpy scalar")
	}
	a := &npArray{}
	if err := a.fill(types.NewTupleFromSlice(nil), args[0], args[1]); err != nil {
		return nil, err
	}
	return a, nil
}

// npFromBuffer handles numpy.core.numeric._frombuffer(buf, dtype, shape,
// order), used by pickle protocol 5.
func npFromBuffer(args ...any) (any, error) {
	if len(args) != 4 {
		return nil, errors.New("bad numpy _frombuffer call")
	}
	if args[3] != "C" {
		return nil, fmt.Errorf("%w array order %v", ErrUnsupported, args[3])
	}
	a := &npArray{}
	if err := a.fill(args[2], args[1], args[0]); err != nil {
		return nil, err
	}
	return a, nil
}

// codecsEncode handles _codecs.encode(str, 'latin1'), which protocol 2
// pickles use for bytes objects.
func codecsEncode(args ...any) (any, error) {
	if len(args) != 2 {
		return nil, errors.New("bad _codecs.encode call")
	}
	s, ok1 := args[0].(string)
	enc, ok2 := args[1].(string)
	if !ok1 || !ok2 || (enc != "latin1" && enc != "latin-1") {
		return nil, fmt.Errorf("%w _codecs.encode(%T, %v)", ErrUnsupported, args[0], args[1])
	}
	out := make([]byte, 0, len(s))
	for _, r := range s {
		if r > 255 {
			return nil, errors.New("_codecs.encode: character outside latin1")
		}
		out = append(out, byte(r))
	}
	return out, nil
}
