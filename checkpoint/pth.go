package checkpoint

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/nlpodyssey/gopickle/types"

	"github.com/pointpeft/pointpeft/internal/pickle"
)

// ErrLegacyFormat is returned (wrapped) for checkpoints in the pre-1.6
// PyTorch serialization format.
var ErrLegacyFormat = errors.New("legacy (PyTorch < 1.6) checkpoint format is not supported; " +
	"convert it with a newer PyTorch: python3 -c \"import torch; torch.save(torch.load('OLD.pth', map_location='cpu'), 'NEW.pth')\"")

// legacyMagic is the pickled magic number at the start of legacy torch.save
// files (protocol 2, LONG1 0x1950a86a20f9469cfc6c).
var legacyMagic = []byte{0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19}

// BareTensorKey is the key under which StateDict returns a file that holds one bare
// tensor (torch.save(tensor)) rather than a dict.
const BareTensorKey = "tensor"

// maxPickleSize bounds data.pkl; real checkpoints keep it in the megabytes
// because tensor data lives in separate records.
const maxPickleSize = 1 << 30

// maxBroadcast bounds the element count of a tensor that is larger than the
// storage it views (only possible with zero or overlapping strides, e.g. a
// saved expand()), so a corrupted size cannot trigger a huge allocation.
const maxBroadcast = 1 << 24

// PTH is an opened PyTorch zip checkpoint. The pickle is decoded on open;
// tensor data is read only when a StateDict is requested, so large optimizer
// states cost nothing unless asked for. Close releases the file.
type PTH struct {
	name      string
	closer    io.Closer
	zr        *zip.Reader
	size      int64
	prefix    string // archive folder, with trailing slash
	records   map[string]*zip.File
	root      any
	top       []types.DictEntry // nil if the root is not a dict
	bigEndian bool
	storages  map[string]*storageRef
}

type storageRef struct {
	key      string
	class    *storageClass
	location string
	numel    int64 // elements for typed storages, bytes for UntypedStorage
}

type tensorRef struct {
	storage *storageRef
	dtype   string
	offset  int64
	size    []int
	stride  []int64
}

// OpenPTH opens a checkpoint written by torch.save (zip format).
func OpenPTH(path string) (*PTH, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	c, err := openPTH(f, st.Size(), path)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	c.closer = f
	return c, nil
}

// ParsePTH opens a checkpoint held in memory.
func ParsePTH(data []byte) (*PTH, error) {
	return openPTH(bytes.NewReader(data), int64(len(data)), "<memory>")
}

// ReadPTH reads the tensors of one sub-dict of a checkpoint; sub "" means
// the top level. See PTH.StateDict.
func ReadPTH(path, sub string) (*StateDict, error) {
	c, err := OpenPTH(path)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	sd, err := c.StateDict(sub)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return sd, nil
}

func openPTH(r io.ReaderAt, size int64, name string) (*PTH, error) {
	var head [512]byte
	n, _ := r.ReadAt(head[:], 0)
	h := head[:n]
	switch {
	case bytes.HasPrefix(h, []byte("PK\x03\x04")), bytes.HasPrefix(h, []byte("PK\x05\x06")):
	case bytes.HasPrefix(h, legacyMagic):
		return nil, ErrLegacyFormat
	case n >= 262 && string(h[257:262]) == "ustar":
		return nil, fmt.Errorf("tar archive: %w", ErrLegacyFormat)
	case n > 0 && h[0] == 0x80:
		return nil, fmt.Errorf("plain pickle file, not a torch.save zip archive: %w", ErrLegacyFormat)
	default:
		return nil, fmt.Errorf("not a PyTorch checkpoint: no zip signature at offset 0 (truncated or corrupted?)")
	}
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, fmt.Errorf("bad zip archive (truncated or corrupted?): %w", err)
	}
	c := &PTH{name: name, zr: zr, size: size, records: map[string]*zip.File{}, storages: map[string]*storageRef{}}
	var pkl *zip.File
	for _, f := range zr.File {
		if _, dup := c.records[f.Name]; !dup {
			c.records[f.Name] = f
		}
		// The archive folder is named after the file torch.save wrote
		// originally, so it can be anything: take the shallowest data.pkl.
		if (f.Name == "data.pkl" || strings.HasSuffix(f.Name, "/data.pkl")) &&
			(pkl == nil || strings.Count(f.Name, "/") < strings.Count(pkl.Name, "/")) {
			pkl = f
		}
	}
	if pkl == nil {
		return nil, fmt.Errorf("zip archive has no data.pkl entry: not a torch.save checkpoint")
	}
	c.prefix = strings.TrimSuffix(pkl.Name, "data.pkl")
	if bo, ok := c.records[c.prefix+"byteorder"]; ok {
		b, err := c.readRecord(bo, 16)
		if err != nil {
			return nil, err
		}
		switch strings.TrimSpace(string(b)) {
		case "little":
		case "big":
			c.bigEndian = true
		default:
			return nil, fmt.Errorf("%s: unknown byte order %q", bo.Name, b)
		}
	}
	p, err := c.readRecord(pkl, maxPickleSize)
	if err != nil {
		return nil, err
	}
	root, err := pickle.Load(bytes.NewReader(p), int64(len(p)), c.findClass, c.persistentLoad)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", pkl.Name, err)
	}
	c.root = root
	if entries, ok := pyDict(root); ok {
		c.top = entries
	}
	return c, nil
}

// readRecord reads a whole zip entry, refusing entries declared larger than
// limit. Stored entries (what torch.save writes) are checked against the
// file size before allocating; compressed ones grow the buffer only as data
// actually arrives, so a lying header cannot force a huge allocation.
func (c *PTH) readRecord(f *zip.File, limit uint64) ([]byte, error) {
	if f.UncompressedSize64 > limit {
		return nil, fmt.Errorf("record %s: declared size %d exceeds limit %d", f.Name, f.UncompressedSize64, limit)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("record %s: %w", f.Name, err)
	}
	defer rc.Close()
	var b []byte
	off, oerr := f.DataOffset()
	if f.Method == zip.Store && oerr == nil && off >= 0 && f.CompressedSize64 == f.UncompressedSize64 &&
		uint64(off) <= uint64(c.size) && f.UncompressedSize64 <= uint64(c.size)-uint64(off) {
		b = make([]byte, f.UncompressedSize64)
		_, err = io.ReadFull(rc, b)
		if err == nil {
			// Reading to EOF makes archive/zip verify the CRC.
			var one [1]byte
			if _, e := rc.Read(one[:]); e != io.EOF && e != nil {
				err = e
			}
		}
	} else {
		b, err = io.ReadAll(io.LimitReader(rc, int64(f.UncompressedSize64)+1))
		if err == nil && uint64(len(b)) != f.UncompressedSize64 {
			err = fmt.Errorf("holds %d bytes, header says %d", len(b), f.UncompressedSize64)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("record %s (offset %d): %w (truncated or corrupted file?)", f.Name, off, err)
	}
	return b, nil
}

// Close releases the underlying file (a no-op for ParsePTH).
func (c *PTH) Close() error {
	if c.closer == nil {
		return nil
	}
	err := c.closer.Close()
	c.closer = nil
	return err
}

// IsDict reports whether the pickled top-level object is a dict.
func (c *PTH) IsDict() bool { return c.top != nil }

// TopKeys lists the keys of the top-level dict in file order (nil when the
// checkpoint is not a dict, e.g. a whole pickled nn.Module).
func (c *PTH) TopKeys() []string {
	keys := make([]string, len(c.top))
	for i, e := range c.top {
		keys[i] = keyString(e.Key)
	}
	return keys
}

func (c *PTH) lookup(key string) (any, bool) {
	for _, e := range c.top {
		if keyString(e.Key) == key {
			return e.Value, true
		}
	}
	return nil, false
}

// Top returns a top-level entry converted to plain Go values: nil, bool,
// int64, float64, string, []byte, []any, map[string]any, TensorInfo (for
// tensors) or a "<module.name>" string for objects that are not interpreted.
// Use it for entries such as "epoch" or "metrics".
func (c *PTH) Top(key string) (any, bool) {
	v, ok := c.lookup(key)
	if !ok {
		return nil, false
	}
	return toGo(v), true
}

// Describe renders a top-level entry briefly: a Python-like repr for
// small values, "dict, N tensors" for dicts holding tensors.
func (c *PTH) Describe(key string) string {
	v, ok := c.lookup(key)
	if !ok {
		return "<missing>"
	}
	if entries, ok := pyDict(v); ok {
		n := 0
		for _, e := range entries {
			if _, ok := e.Value.(*tensorRef); ok {
				n++
			}
		}
		if n > 0 {
			return fmt.Sprintf("dict, %d entries, %d tensors", len(entries), n)
		}
	}
	return repr(v, 0, 72)
}

// ModelKey picks the sub-dict holding the model weights: the first of
// "base_model" (Point-MAE / Point-BERT training checkpoints), "model",
// "state_dict" and "module" that is a dict holding at least one tensor, or ""
// (the top level) if none is.
func (c *PTH) ModelKey() string {
	for _, k := range []string{"base_model", "model", "state_dict", "module"} {
		v, ok := c.lookup(k)
		if !ok {
			continue
		}
		if entries, ok := pyDict(v); ok {
			for _, e := range entries {
				if _, ok := e.Value.(*tensorRef); ok {
					return k
				}
			}
		}
	}
	return ""
}

type namedRef struct {
	name string
	ref  *tensorRef
}

// tensorsOf collects the tensor-valued entries of a sub-dict ("" = top
// level), skipping non-tensor values but refusing tensor kinds we cannot read.
func (c *PTH) tensorsOf(sub string) ([]namedRef, error) {
	v := c.root
	where := "top level"
	if sub != "" {
		var ok bool
		if v, ok = c.lookup(sub); !ok {
			return nil, fmt.Errorf("no top-level key %q (have %s)", sub, strings.Join(c.TopKeys(), ", "))
		}
		where = fmt.Sprintf("entry %q", sub)
	}
	if t, isTensor := v.(*tensorRef); isTensor {
		// torch.save(tensor): a single tensor, e.g. the authors' memory bank files.
		return []namedRef{{BareTensorKey, t}}, nil
	}
	entries, ok := pyDict(v)
	if !ok {
		if o, isObj := v.(*opaqueObject); isObj {
			return nil, fmt.Errorf("%s is a pickled %s.%s object, not a dict of tensors (was a whole nn.Module saved? save model.state_dict() instead)", where, o.class.module, o.class.name)
		}
		return nil, fmt.Errorf("%s is %s, not a dict", where, repr(v, 0, 40))
	}
	var out []namedRef
	for _, e := range entries {
		name := keyString(e.Key)
		switch x := e.Value.(type) {
		case *tensorRef:
			out = append(out, namedRef{name, x})
		case *opaqueObject:
			if strings.HasPrefix(x.class.module, "torch") && strings.HasPrefix(x.class.name, "_rebuild") {
				return nil, fmt.Errorf("tensor %q: unsupported tensor kind %s.%s (quantized, sparse or device-specific tensors cannot be read)", name, x.class.module, x.class.name)
			}
		}
	}
	return out, nil
}

// TensorInfos describes the tensors of a sub-dict ("" = top level) in file
// order, checking them against their storage records without reading data.
func (c *PTH) TensorInfos(sub string) ([]TensorInfo, error) {
	refs, err := c.tensorsOf(sub)
	if err != nil {
		return nil, err
	}
	infos := make([]TensorInfo, len(refs))
	for i, nr := range refs {
		if _, _, err := c.checkBounds(nr.name, nr.ref); err != nil {
			return nil, err
		}
		infos[i] = TensorInfo{Name: nr.name, DType: nr.ref.dtype, Shape: append([]int(nil), nr.ref.size...)}
	}
	return infos, nil
}

// StateDict reads all tensor-valued entries of a sub-dict (sub "" means the
// top level; non-tensor values are skipped). Keys keep file order. Views are
// materialised: storage offsets and arbitrary strides are honoured and
// tensors sharing a storage get independent copies.
func (c *PTH) StateDict(sub string) (*StateDict, error) {
	refs, err := c.tensorsOf(sub)
	if err != nil {
		return nil, err
	}
	cache := map[string][]byte{}
	sd := NewStateDict()
	// Many keys may reference one storage (the pickle memo makes that
	// cheap), and each is materialised separately; bound the total so a
	// small crafted file cannot demand unbounded memory. Real files, tied
	// weights included, stay far below this.
	budget := 4*c.size + maxBroadcast
	for _, nr := range refs {
		if n, err := numelOf(nr.ref.size); err == nil {
			if budget -= n; budget < 0 {
				return nil, fmt.Errorf("tensor %q: tensors total more elements than a %d-byte file can plausibly hold (repeated views of shared storages?)", nr.name, c.size)
			}
		}
		t, err := c.materialize(nr.name, nr.ref, cache)
		if err != nil {
			return nil, err
		}
		sd.Set(nr.name, t)
	}
	return sd, nil
}

// checkBounds validates a tensor view against its storage and the storage's
// zip record. It returns the record and the tensor's element count.
func (c *PTH) checkBounds(name string, tr *tensorRef) (*zip.File, int64, error) {
	s := tr.storage
	if s.class.dtype == "" && !s.class.untyped {
		return nil, 0, fmt.Errorf("tensor %q: storage %q has unsupported storage type torch.%s", name, s.key, s.class.name)
	}
	if tr.dtype == "" {
		return nil, 0, fmt.Errorf("tensor %q: storage %q is untyped and no dtype was given", name, s.key)
	}
	es, ok := DTypeSize(tr.dtype)
	if !ok {
		return nil, 0, fmt.Errorf("tensor %q: unsupported dtype %s", name, tr.dtype)
	}
	storageElems := s.numel
	if s.class.untyped {
		storageElems = s.numel / int64(es)
	}
	rec := c.records[c.prefix+"data/"+s.key]
	if rec == nil {
		return nil, 0, fmt.Errorf("tensor %q: storage record %sdata/%s is missing from the archive (truncated or corrupted file?)", name, c.prefix, s.key)
	}
	if storageElems > maxElements || rec.UncompressedSize64 < uint64(storageElems)*uint64(es) {
		return nil, 0, fmt.Errorf("tensor %q: storage record %s holds %d bytes but storage %q declares %d %s elements (%d bytes each)", name, rec.Name, rec.UncompressedSize64, s.key, storageElems, tr.dtype, es)
	}
	numel, err := numelOf(tr.size)
	if err != nil {
		return nil, 0, fmt.Errorf("tensor %q: %w", name, err)
	}
	if numel == 0 {
		return rec, 0, nil
	}
	last := tr.offset
	for i, d := range tr.size {
		// d-1 and the stride are each at most maxElements (checked when
		// rebuilt), so test the product by division to avoid overflow.
		if d > 1 && tr.stride[i] > maxElements/int64(d-1) {
			last = maxElements
			break
		}
		last += int64(d-1) * tr.stride[i]
		if last > maxElements {
			break
		}
	}
	if last >= storageElems {
		return nil, 0, fmt.Errorf("tensor %q: storage %q (%d %s elements) is too small for offset %d, size %v, stride %v (needs %d elements)", name, s.key, storageElems, tr.dtype, tr.offset, tr.size, tr.stride, last+1)
	}
	if numel > storageElems && numel > maxBroadcast {
		return nil, 0, fmt.Errorf("tensor %q: %d elements over a storage of %d (stride %v) exceeds the broadcast limit", name, numel, storageElems, tr.stride)
	}
	return rec, numel, nil
}

func (c *PTH) materialize(name string, tr *tensorRef, cache map[string][]byte) (*Tensor, error) {
	rec, numel, err := c.checkBounds(name, tr)
	if err != nil {
		return nil, err
	}
	t := &Tensor{DType: tr.dtype, Shape: append([]int(nil), tr.size...)}
	if numel == 0 {
		if t.IsFloat() {
			t.F32 = []float32{}
		} else {
			t.I64 = []int64{}
		}
		return t, nil
	}
	raw, ok := cache[rec.Name]
	if !ok {
		raw, err = c.readRecord(rec, rec.UncompressedSize64)
		if err != nil {
			return nil, fmt.Errorf("tensor %q: %w", name, err)
		}
		cache[rec.Name] = raw
	}
	es, _ := DTypeSize(tr.dtype)
	n := int(numel)
	if isContiguous(tr.size, tr.stride) {
		decodeValues(t, raw[tr.offset*int64(es):(tr.offset+numel)*int64(es)], n, c.bigEndian)
		return t, nil
	}
	// Walk the view in row-major order with an odometer over the indices.
	idx := make([]int, len(tr.size))
	pos := tr.offset
	float := t.IsFloat()
	if float {
		t.F32 = make([]float32, n)
	} else {
		t.I64 = make([]int64, n)
	}
	for i := 0; i < n; i++ {
		b := raw[pos*int64(es):]
		if float {
			t.F32[i] = floatAt(tr.dtype, b, c.bigEndian)
		} else {
			t.I64[i] = intAt(tr.dtype, b, c.bigEndian)
		}
		for d := len(idx) - 1; d >= 0; d-- {
			idx[d]++
			pos += tr.stride[d]
			if idx[d] < tr.size[d] {
				break
			}
			pos -= tr.stride[d] * int64(tr.size[d])
			idx[d] = 0
		}
	}
	return t, nil
}

// isContiguous reports whether strides are the row-major ones for size
// (dimensions of size 1 may have any stride).
func isContiguous(size []int, stride []int64) bool {
	want := int64(1)
	for i := len(size) - 1; i >= 0; i-- {
		if size[i] != 1 && stride[i] != want {
			return false
		}
		want *= int64(size[i])
	}
	return true
}

// findClass resolves pickled globals. Only torch's tensor rebuilders,
// storage classes and dtypes are interpreted; everything else becomes an
// opaque object so that foreign values never prevent loading.
func (c *PTH) findClass(module, name string) (any, error) {
	switch module {
	case "torch._utils":
		switch name {
		case "_rebuild_tensor":
			return &pyFunc{name, func(a ...any) (any, error) { return c.rebuildTensor(a, 4, "") }}, nil
		case "_rebuild_tensor_v2":
			return &pyFunc{name, func(a ...any) (any, error) { return c.rebuildTensor(a, 6, "") }}, nil
		case "_rebuild_tensor_v3":
			return &pyFunc{name, func(a ...any) (any, error) {
				if len(a) < 7 {
					return nil, fmt.Errorf("got %d arguments, want at least 7", len(a))
				}
				d, ok := a[6].(*torchDType)
				if !ok {
					return nil, fmt.Errorf("dtype argument is %s", repr(a[6], 0, 40))
				}
				return c.rebuildTensor(a, 6, d.dtype)
			}}, nil
		case "_rebuild_parameter", "_rebuild_parameter_with_state":
			return &pyFunc{name, func(a ...any) (any, error) {
				if len(a) < 1 {
					return nil, fmt.Errorf("missing data argument")
				}
				return a[0], nil // a Parameter is just its tensor here
			}}, nil
		case "_rebuild_from_type_v2":
			return &pyFunc{name, func(a ...any) (any, error) {
				if len(a) < 3 {
					return nil, fmt.Errorf("got %d arguments, want 4", len(a))
				}
				fn, ok := a[0].(types.Callable)
				args, ok2 := pySeq(a[2])
				if !ok || !ok2 {
					return nil, fmt.Errorf("bad arguments")
				}
				return fn.Call(args...)
			}}, nil
		}
	case "torch":
		if dt, ok := storageDTypes[name]; ok {
			return &storageClass{name: name, dtype: dt}, nil
		}
		if name == "UntypedStorage" {
			return &storageClass{name: name, untyped: true}, nil
		}
		if strings.HasSuffix(name, "Storage") {
			return &storageClass{name: name}, nil // unsupported; reported if used
		}
		if dt, ok := torchDTypes[name]; ok {
			return &torchDType{dt}, nil
		}
	case "torch.storage":
		if name == "UntypedStorage" || name == "_UntypedStorage" {
			return &storageClass{name: name, untyped: true}, nil
		}
	}
	return &opaqueClass{module: module, name: name}, nil
}

// persistentLoad resolves ('storage', storage_type, key, location, numel).
func (c *PTH) persistentLoad(pid any) (any, error) {
	t, ok := pySeq(pid)
	if !ok || len(t) != 5 {
		return nil, fmt.Errorf("persistent id %s: want a 5-tuple ('storage', type, key, location, numel)", repr(pid, 0, 80))
	}
	if s, _ := t[0].(string); s != "storage" {
		return nil, fmt.Errorf("persistent id %s: unknown kind %s", repr(pid, 0, 80), repr(t[0], 0, 20))
	}
	class, ok := t[1].(*storageClass)
	if !ok {
		return nil, fmt.Errorf("persistent id %s: unknown storage type %s", repr(pid, 0, 80), repr(t[1], 0, 40))
	}
	key, ok1 := t[2].(string)
	loc, _ := t[3].(string)
	numel, ok2 := pickle.Int(t[4])
	if !ok1 || !ok2 || numel < 0 {
		return nil, fmt.Errorf("persistent id %s: malformed key or size", repr(pid, 0, 80))
	}
	if s, ok := c.storages[key]; ok {
		return s, nil
	}
	s := &storageRef{key: key, class: class, location: loc, numel: numel}
	c.storages[key] = s
	return s, nil
}

// rebuildTensor implements torch._utils._rebuild_tensor{,_v2,_v3}:
// (storage, storage_offset, size, stride, ...). minArgs is the documented
// argument count; dtype overrides the storage's dtype (v3).
func (c *PTH) rebuildTensor(a []any, minArgs int, dtype string) (any, error) {
	if len(a) < minArgs {
		return nil, fmt.Errorf("got %d arguments, want %d", len(a), minArgs)
	}
	s, ok := a[0].(*storageRef)
	if !ok {
		return nil, fmt.Errorf("storage argument is %s", repr(a[0], 0, 40))
	}
	off, ok := pickle.Int(a[1])
	if !ok || off < 0 || off > maxElements {
		return nil, fmt.Errorf("storage %q: invalid storage offset %s", s.key, repr(a[1], 0, 40))
	}
	size, ok1 := pySeq(a[2])
	stride, ok2 := pySeq(a[3])
	if !ok1 || !ok2 || len(size) != len(stride) {
		return nil, fmt.Errorf("storage %q: invalid size %s / stride %s", s.key, repr(a[2], 0, 40), repr(a[3], 0, 40))
	}
	tr := &tensorRef{storage: s, dtype: s.class.dtype, offset: off, size: make([]int, len(size)), stride: make([]int64, len(size))}
	if dtype != "" {
		tr.dtype = dtype
	}
	for i := range size {
		d, ok1 := pickle.Int(size[i])
		st, ok2 := pickle.Int(stride[i])
		if !ok1 || !ok2 || d < 0 || st < 0 || d > maxElements || st > maxElements {
			return nil, fmt.Errorf("storage %q: invalid size %s / stride %s", s.key, repr(a[2], 0, 40), repr(a[3], 0, 40))
		}
		tr.size[i], tr.stride[i] = int(d), st
	}
	return tr, nil
}
