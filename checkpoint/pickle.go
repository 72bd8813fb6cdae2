package checkpoint

import (
	"fmt"
	"math/big"
	"sort"
	"strings"

	"github.com/nlpodyssey/gopickle/types"
)

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
