package checkpoint

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/big"
	"sort"
	"strings"

	"github.com/nlpodyssey/gopickle/pickle"
	"github.com/nlpodyssey/gopickle/types"
)

// scanPickle walks the opcode stream of a pickle without executing it and
// checks that every length argument fits in the remaining bytes. gopickle
// allocates a buffer of the declared length before reading, so without this a
// few corrupted bytes could ask for exabytes; it also rejects opcodes that
// gopickle would index out of its dispatch table.
func scanPickle(p []byte) error {
	pos := 0
	need := func(n uint64, what string) error {
		if n > uint64(len(p)-pos) {
			return fmt.Errorf("pickle offset %d: %s of %d bytes runs past the end (%d bytes left)", pos, what, n, len(p)-pos)
		}
		pos += int(n)
		return nil
	}
	line := func() error {
		i := bytes.IndexByte(p[pos:], '\n')
		if i < 0 {
			return fmt.Errorf("pickle offset %d: unterminated line argument", pos)
		}
		pos += i + 1
		return nil
	}
	for pos < len(p) {
		op := p[pos]
		at := pos
		pos++
		var err error
		switch op {
		case '(', '.', '0', '1', '2', 'N', 'R', 'a', 'b', 'd', '}', 'e', 'l', ']', 'o', 's', 't', ')', 'u', 'Q',
			0x81, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8f, 0x90, 0x91, 0x92, 0x93, 0x94, 0x97, 0x98:
			if op == '.' {
				return nil // STOP: trailing bytes are never read
			}
		case 'F', 'I', 'L', 'P', 'S', 'V', 'g', 'p':
			err = line()
		case 'c', 'i':
			if err = line(); err == nil {
				err = line()
			}
		case 'K', 'h', 'q', 0x80, 0x82:
			err = need(1, "argument")
		case 'M', 0x83:
			err = need(2, "argument")
		case 'J', 'j', 'r', 0x84:
			err = need(4, "argument")
		case 'G':
			err = need(8, "argument")
		case 'U', 'C', 0x8c, 0x8a:
			if err = need(1, "length"); err == nil {
				n := uint64(p[pos-1])
				if op == 0x8a && n == 0 {
					err = fmt.Errorf("pickle offset %d: empty LONG1", at)
				} else {
					err = need(n, "string")
				}
			}
		case 'T', 'X', 'B', 0x8b:
			if err = need(4, "length"); err == nil {
				n := binary.LittleEndian.Uint32(p[pos-4:])
				if op == 0x8b && n == 0 {
					err = fmt.Errorf("pickle offset %d: empty LONG4", at)
				} else {
					err = need(uint64(n), "string")
				}
			}
		case 0x8d, 0x8e, 0x96:
			if err = need(8, "length"); err == nil {
				err = need(binary.LittleEndian.Uint64(p[pos-8:]), "string")
			}
		case 0x95: // FRAME: the frame's opcodes follow in line, so only check its size
			if err = need(8, "length"); err == nil {
				if n := binary.LittleEndian.Uint64(p[pos-8:]); n > uint64(len(p)-pos) {
					err = fmt.Errorf("pickle offset %d: frame of %d bytes runs past the end", at, n)
				}
			}
		default:
			return fmt.Errorf("pickle offset %d: unknown opcode 0x%02x", at, op)
		}
		if err != nil {
			return err
		}
	}
	return fmt.Errorf("pickle ends without STOP opcode (truncated?)")
}

// unpickle runs gopickle on a prescanned pickle. gopickle panics on some
// malformed streams (odd dict item counts, unhashable keys), so panics are
// turned into errors: a corrupted checkpoint must never crash the program.
func unpickle(p []byte, findClass func(module, name string) (any, error), persistentLoad func(any) (any, error)) (v any, err error) {
	if err := scanPickle(p); err != nil {
		return nil, err
	}
	defer func() {
		if r := recover(); r != nil {
			v, err = nil, fmt.Errorf("malformed pickle: %v", r)
		}
	}()
	u := pickle.NewUnpickler(bytes.NewReader(p))
	u.FindClass = findClass
	u.PersistentLoad = persistentLoad
	return u.Load()
}

// opaqueClass stands for any Python global we do not interpret (numpy
// scalars, argparse.Namespace, builtins.set, ...). Calling or instantiating it
// yields an opaqueObject, so foreign objects in optimizer state or config
// entries load fine and are only reported, never interpreted.
type opaqueClass struct{ module, name string }

func (c *opaqueClass) Call(args ...any) (any, error) { return &opaqueObject{class: c, args: args}, nil }
func (c *opaqueClass) PyNew(args ...any) (any, error) {
	return &opaqueObject{class: c, args: args}, nil
}

type opaqueObject struct {
	class *opaqueClass
	args  []any
	state any
}

func (o *opaqueObject) PySetState(state any) error { o.state = state; return nil }

// pyFunc is a Python callable implemented in Go (torch._utils rebuilders).
type pyFunc struct {
	name string
	fn   func(args ...any) (any, error)
}

func (f *pyFunc) Call(args ...any) (any, error) {
	v, err := f.fn(args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.name, err)
	}
	return v, nil
}

// storageClass is a torch.*Storage class, used as storage_type in
// persistent ids.
type storageClass struct {
	name    string
	dtype   string // "" when untyped or not supported
	untyped bool   // torch.UntypedStorage: numel counts bytes
}

// torchDType is a torch.float32-style dtype object (used by
// _rebuild_tensor_v3).
type torchDType struct{ dtype string }

var storageDTypes = map[string]string{
	"FloatStorage": "F32", "DoubleStorage": "F64", "HalfStorage": "F16", "BFloat16Storage": "BF16",
	"LongStorage": "I64", "IntStorage": "I32", "ShortStorage": "I16", "CharStorage": "I8",
	"ByteStorage": "U8", "BoolStorage": "BOOL",
}

var torchDTypes = map[string]string{
	"float32": "F32", "float": "F32", "float64": "F64", "double": "F64", "float16": "F16", "half": "F16",
	"bfloat16": "BF16", "int64": "I64", "long": "I64", "int32": "I32", "int": "I32", "int16": "I16",
	"short": "I16", "int8": "I8", "uint8": "U8", "bool": "BOOL",
}

// pyDict iterates the entries of a pickled dict-like value in insertion
// order, with Python's last-assignment-wins semantics for repeated keys.
func pyDict(v any) ([]types.DictEntry, bool) {
	switch d := v.(type) {
	case *types.Dict:
		idx := map[any]int{}
		var out []types.DictEntry
		for _, e := range *d {
			if k, ok := hashable(e.Key); ok {
				if i, dup := idx[k]; dup {
					out[i].Value = e.Value
					continue
				}
				idx[k] = len(out)
			}
			out = append(out, e)
		}
		return out, true
	case *types.OrderedDict:
		out := make([]types.DictEntry, 0, d.Len())
		for el := d.List.Front(); el != nil; el = el.Next() {
			e := el.Value.(*types.OrderedDictEntry)
			out = append(out, types.DictEntry{Key: e.Key, Value: e.Value})
		}
		return out, true
	}
	return nil, false
}

// hashable returns a map key for the common Python key types.
func hashable(k any) (any, bool) {
	switch k := k.(type) {
	case string, int, bool, float64, nil:
		return k, true
	case *big.Int:
		return "bigint:" + k.String(), true
	}
	return nil, false
}

func pySeq(v any) ([]any, bool) {
	switch s := v.(type) {
	case *types.Tuple:
		return []any(*s), true
	case *types.List:
		return []any(*s), true
	}
	return nil, false
}

// pyInt converts a pickled integer.
func pyInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int:
		return int64(x), true
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	case *big.Int:
		if x.IsInt64() {
			return x.Int64(), true
		}
	}
	return 0, false
}

// keyString renders a dict key for use as a name.
func keyString(k any) string {
	if s, ok := k.(string); ok {
		return s
	}
	return repr(k, 0, 40)
}

// repr gives a short Python-like rendering of a pickled value, cut at about
// limit characters; depth guards against self-referential pickles.
func repr(v any, depth, limit int) string {
	var b strings.Builder
	reprTo(&b, v, depth, limit)
	s := b.String()
	if len(s) > limit {
		s = s[:limit] + "..."
	}
	return s
}

func reprTo(b *strings.Builder, v any, depth, limit int) {
	if b.Len() > limit {
		return
	}
	if depth > 8 {
		b.WriteString("...")
		return
	}
	switch x := v.(type) {
	case nil:
		b.WriteString("None")
	case bool:
		if x {
			b.WriteString("True")
		} else {
			b.WriteString("False")
		}
	case int, float64:
		fmt.Fprint(b, x)
	case *big.Int:
		b.WriteString(x.String())
	case string:
		fmt.Fprintf(b, "%q", x)
	case []byte:
		fmt.Fprintf(b, "bytes(%d)", len(x))
	case *tensorRef:
		fmt.Fprintf(b, "tensor(%s %v)", x.dtype, x.size)
	case *opaqueObject:
		fmt.Fprintf(b, "<%s.%s>", x.class.module, x.class.name)
	case *opaqueClass:
		fmt.Fprintf(b, "<class %s.%s>", x.module, x.name)
	default:
		if entries, ok := pyDict(v); ok {
			b.WriteByte('{')
			for i, e := range entries {
				if i > 0 {
					b.WriteString(", ")
				}
				if b.Len() > limit {
					break
				}
				reprTo(b, e.Key, depth+1, limit)
				b.WriteString(": ")
				reprTo(b, e.Value, depth+1, limit)
			}
			b.WriteByte('}')
			return
		}
		if items, ok := pySeq(v); ok {
			open, close := "[", "]"
			if _, tup := v.(*types.Tuple); tup {
				open, close = "(", ")"
			}
			b.WriteString(open)
			for i, it := range items {
				if i > 0 {
					b.WriteString(", ")
				}
				if b.Len() > limit {
					break
				}
				reprTo(b, it, depth+1, limit)
			}
			b.WriteString(close)
			return
		}
		fmt.Fprintf(b, "<%T>", v)
	}
}

// toGo converts a pickled value to plain Go values: nil, bool, int64,
// float64, string, []byte, []any, map[string]any, TensorInfo for tensors and
// a "<module.name>" string for objects this package does not interpret.
func toGo(v any) any {
	budget := 100000 // pickles are DAGs: shared references could blow up a tree walk
	return toGoRec(v, 0, &budget)
}

func toGoRec(v any, depth int, budget *int) any {
	*budget--
	if depth > 32 || *budget < 0 {
		return "<too deep or too large>"
	}
	switch x := v.(type) {
	case nil, bool, float64, string, []byte:
		return x
	case int:
		return int64(x)
	case *big.Int:
		if x.IsInt64() {
			return x.Int64()
		}
		return x.String()
	case *tensorRef:
		return TensorInfo{DType: x.dtype, Shape: append([]int(nil), x.size...)}
	}
	if entries, ok := pyDict(v); ok {
		m := make(map[string]any, len(entries))
		for _, e := range entries {
			m[keyString(e.Key)] = toGoRec(e.Value, depth+1, budget)
		}
		return m
	}
	if items, ok := pySeq(v); ok {
		out := make([]any, len(items))
		for i, it := range items {
			out[i] = toGoRec(it, depth+1, budget)
		}
		return out
	}
	return repr(v, 0, 80)
}

// sortedKeys is a small helper for deterministic output.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
