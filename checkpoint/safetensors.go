package checkpoint

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"sort"
	"strconv"

	"github.com/pointpeft/pointpeft/internal/atomicfile"
)

// maxHeaderSize mirrors the reference implementation's limit on the JSON
// header (100 MB); it also bounds what a lying length prefix can allocate.
const maxHeaderSize = 100 << 20

// stEntry is one tensor entry of a parsed safetensors header.
type stEntry struct {
	info       TensorInfo
	begin, end int64 // byte offsets relative to the start of the data section
}

// stHeader is a validated safetensors header.
type stHeader struct {
	entries  []stEntry // sorted by begin offset (= file order)
	meta     map[string]string
	dataSize int64 // bytes of the data section
}

// ReadSafetensors reads a whole safetensors file. Keys come in file (data
// offset) order; __metadata__ goes to Meta.
func ReadSafetensors(path string) (*StateDict, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	sd, err := ParseSafetensors(data)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return sd, nil
}

// ParseSafetensors decodes a safetensors file held in memory.
func ParseSafetensors(data []byte) (*StateDict, error) {
	h, off, err := parseSTHeader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, err
	}
	body := data[off:]
	sd := NewStateDict()
	for k, v := range h.meta {
		sd.Meta[k] = v
	}
	for _, e := range h.entries {
		t := &Tensor{DType: e.info.DType, Shape: e.info.Shape}
		n := int(e.info.Numel())
		decodeValues(t, body[e.begin:e.end], n, false)
		sd.Set(e.info.Name, t)
	}
	return sd, nil
}

// ReadSafetensorsHeader returns the tensor descriptions (in file order) and
// metadata of a safetensors file without reading tensor data.
func ReadSafetensorsHeader(path string) ([]TensorInfo, map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", path, err)
	}
	h, _, err := parseSTHeader(f, st.Size())
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", path, err)
	}
	infos := make([]TensorInfo, len(h.entries))
	for i, e := range h.entries {
		infos[i] = e.info
	}
	return infos, h.meta, nil
}

// parseSTHeader reads and validates the length prefix and JSON header of a
// file of the given total size. It returns the header and the offset of the
// data section.
func parseSTHeader(r io.Reader, fileSize int64) (*stHeader, int64, error) {
	var pre [8]byte
	if fileSize < 8 {
		return nil, 0, fmt.Errorf("safetensors: file is %d bytes, too short for the 8-byte header length", fileSize)
	}
	if _, err := io.ReadFull(r, pre[:]); err != nil {
		return nil, 0, fmt.Errorf("safetensors: header length: %w", err)
	}
	n := binary.LittleEndian.Uint64(pre[:])
	// Checking against the file size first means a lying length can never
	// make us allocate more than the file holds.
	if n > uint64(fileSize-8) {
		return nil, 0, fmt.Errorf("safetensors: header length %d exceeds the %d bytes after the length prefix (truncated file or not safetensors)", n, fileSize-8)
	}
	if n > maxHeaderSize {
		return nil, 0, fmt.Errorf("safetensors: header length %d exceeds the %d-byte limit", n, maxHeaderSize)
	}
	if n < 2 {
		return nil, 0, fmt.Errorf("safetensors: header length %d too small for a JSON object", n)
	}
	hdr := make([]byte, n)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, 0, fmt.Errorf("safetensors: header: %w", err)
	}
	h, err := parseSTJSON(hdr, fileSize-8-int64(n))
	if err != nil {
		return nil, 0, fmt.Errorf("safetensors: header: %w", err)
	}
	return h, 8 + int64(n), nil
}

type stJSONEntry struct {
	DType       *string  `json:"dtype"`
	Shape       *[]int64 `json:"shape"`
	DataOffsets *[]int64 `json:"data_offsets"`
}

// parseSTJSON parses the header object, rejecting duplicate names (which
// encoding/json would silently merge), and validates every entry against a
// data section of dataSize bytes.
func parseSTJSON(hdr []byte, dataSize int64) (*stHeader, error) {
	if hdr[0] != '{' {
		return nil, fmt.Errorf("does not start with '{'")
	}
	dec := json.NewDecoder(bytes.NewReader(hdr))
	dec.UseNumber()
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	h := &stHeader{meta: map[string]string{}, dataSize: dataSize}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		name, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("expected a string key, got %v", tok)
		}
		if seen[name] {
			return nil, fmt.Errorf("duplicate entry %q", name)
		}
		seen[name] = true
		if name == "__metadata__" {
			var m map[string]any
			if err := dec.Decode(&m); err != nil {
				return nil, fmt.Errorf("__metadata__: %w", err)
			}
			for k, v := range m {
				s, ok := v.(string)
				if !ok {
					return nil, fmt.Errorf("__metadata__[%q] is %T, want a string", k, v)
				}
				h.meta[k] = s
			}
			continue
		}
		var je stJSONEntry
		if err := dec.Decode(&je); err != nil {
			return nil, fmt.Errorf("tensor %q: %w", name, err)
		}
		e, err := validateSTEntry(name, je)
		if err != nil {
			return nil, err
		}
		h.entries = append(h.entries, e)
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	// Only spaces (the reference writer's padding) may follow the object.
	rest := hdr[dec.InputOffset():]
	if len(bytes.Trim(rest, " \t\r\n")) != 0 {
		return nil, fmt.Errorf("trailing garbage after the JSON object")
	}
	// The reference implementation requires the entries to tile the data
	// section exactly: no overlaps, no holes, nothing after the last one.
	sort.SliceStable(h.entries, func(i, j int) bool {
		a, b := h.entries[i], h.entries[j]
		if a.begin != b.begin {
			return a.begin < b.begin
		}
		return a.end < b.end
	})
	var pos int64
	for _, e := range h.entries {
		if e.begin != pos {
			if e.begin < pos {
				return nil, fmt.Errorf("tensor %q: data_offsets [%d, %d] overlap the previous tensor (ends at %d)", e.info.Name, e.begin, e.end, pos)
			}
			return nil, fmt.Errorf("tensor %q: data_offsets [%d, %d] leave a hole after offset %d", e.info.Name, e.begin, e.end, pos)
		}
		if e.end > dataSize {
			return nil, fmt.Errorf("tensor %q: data_offsets [%d, %d] past the end of the %d-byte data section (truncated file?)", e.info.Name, e.begin, e.end, dataSize)
		}
		pos = e.end
	}
	if pos != dataSize {
		return nil, fmt.Errorf("data section is %d bytes but the tensors cover %d", dataSize, pos)
	}
	return h, nil
}

func validateSTEntry(name string, je stJSONEntry) (stEntry, error) {
	if je.DType == nil || je.Shape == nil || je.DataOffsets == nil {
		return stEntry{}, fmt.Errorf("tensor %q: needs dtype, shape and data_offsets", name)
	}
	size, ok := DTypeSize(*je.DType)
	if !ok {
		return stEntry{}, fmt.Errorf("tensor %q: unsupported dtype %q", name, *je.DType)
	}
	if len(*je.DataOffsets) != 2 {
		return stEntry{}, fmt.Errorf("tensor %q: data_offsets has %d values, want 2", name, len(*je.DataOffsets))
	}
	begin, end := (*je.DataOffsets)[0], (*je.DataOffsets)[1]
	if begin < 0 || end < begin {
		return stEntry{}, fmt.Errorf("tensor %q: invalid data_offsets [%d, %d]", name, begin, end)
	}
	shape := make([]int, len(*je.Shape))
	for i, d := range *je.Shape {
		if d < 0 || d > maxElements {
			return stEntry{}, fmt.Errorf("tensor %q: invalid dimension %d in shape %v", name, d, *je.Shape)
		}
		shape[i] = int(d)
	}
	n, err := numelOf(shape)
	if err != nil {
		return stEntry{}, fmt.Errorf("tensor %q: %w", name, err)
	}
	if n*int64(size) != end-begin {
		return stEntry{}, fmt.Errorf("tensor %q: %s shape %v needs %d bytes but data_offsets [%d, %d] hold %d", name, *je.DType, shape, n*int64(size), begin, end, end-begin)
	}
	return stEntry{info: TensorInfo{Name: name, DType: *je.DType, Shape: shape}, begin: begin, end: end}, nil
}

// WriteSafetensors writes sd to path atomically: the data goes to a temporary
// file in the same directory, which is fsynced and then renamed over path, so
// readers never observe a half-written checkpoint. Tensors are written in
// sd.Keys order; see EncodeSafetensors.
func WriteSafetensors(path string, sd *StateDict) error {
	return atomicfile.Write(path, func(w io.Writer) error { return EncodeSafetensors(w, sd) })
}

// EncodeSafetensors writes sd in safetensors format to w. The output is
// deterministic: data in sd.Keys order, header with __metadata__ first (if
// sd.Meta is non-empty) and then the tensors in the same order, padded with
// spaces to a multiple of 8 bytes as the reference implementation does.
// Float tensors may be written as F32, F16, BF16 or F64, integer tensors as
// I64, I32, I16, I8, U8 or BOOL (values are converted; out-of-range integers
// are an error). An empty DType means F32 if F32 is set, else I64.
func EncodeSafetensors(w io.Writer, sd *StateDict) error {
	type plan struct {
		name  string
		t     *Tensor
		dtype string
		n     int
	}
	plans := make([]plan, 0, len(sd.Keys))
	seen := map[string]bool{}
	var hdr bytes.Buffer
	hdr.WriteByte('{')
	if len(sd.Meta) > 0 {
		keys := make([]string, 0, len(sd.Meta))
		for k := range sd.Meta {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		hdr.WriteString(`"__metadata__":{`)
		for i, k := range keys {
			if i > 0 {
				hdr.WriteByte(',')
			}
			writeJSONString(&hdr, k)
			hdr.WriteByte(':')
			writeJSONString(&hdr, sd.Meta[k])
		}
		hdr.WriteByte('}')
	}
	var off int64
	for _, name := range sd.Keys {
		if name == "__metadata__" {
			return errors.New(`tensor name "__metadata__" is reserved`)
		}
		if seen[name] {
			return fmt.Errorf("tensor %q listed twice in Keys", name)
		}
		seen[name] = true
		t := sd.Tensors[name]
		if t == nil {
			return fmt.Errorf("tensor %q in Keys but not in Tensors", name)
		}
		dtype := t.DType
		if dtype == "" {
			dtype = "I64"
			if t.F32 != nil || t.I64 == nil {
				dtype = "F32"
			}
		}
		size, ok := DTypeSize(dtype)
		if !ok {
			return fmt.Errorf("tensor %q: unsupported dtype %q", name, dtype)
		}
		n64, err := numelOf(t.Shape)
		if err != nil {
			return fmt.Errorf("tensor %q: %w", name, err)
		}
		n := int(n64)
		if isFloatDType(dtype) {
			if len(t.F32) != n {
				return fmt.Errorf("tensor %q: shape %v needs %d values, F32 has %d", name, t.Shape, n, len(t.F32))
			}
		} else {
			if len(t.I64) != n {
				return fmt.Errorf("tensor %q: shape %v needs %d values, I64 has %d", name, t.Shape, n, len(t.I64))
			}
			if err := checkIntRange(dtype, t.I64); err != nil {
				return fmt.Errorf("tensor %q: %w", name, err)
			}
		}
		if hdr.Len() > 1 {
			hdr.WriteByte(',')
		}
		writeJSONString(&hdr, name)
		fmt.Fprintf(&hdr, `:{"dtype":"%s","shape":[`, dtype)
		for i, d := range t.Shape {
			if i > 0 {
				hdr.WriteByte(',')
			}
			hdr.WriteString(strconv.Itoa(d))
		}
		end := off + n64*int64(size)
		fmt.Fprintf(&hdr, `],"data_offsets":[%d,%d]}`, off, end)
		off = end
		plans = append(plans, plan{name, t, dtype, n})
	}
	hdr.WriteByte('}')
	for hdr.Len()%8 != 0 {
		hdr.WriteByte(' ')
	}
	var pre [8]byte
	binary.LittleEndian.PutUint64(pre[:], uint64(hdr.Len()))
	if _, err := w.Write(pre[:]); err != nil {
		return err
	}
	if _, err := w.Write(hdr.Bytes()); err != nil {
		return err
	}
	buf := make([]byte, 0, 64<<10)
	for _, p := range plans {
		size, _ := DTypeSize(p.dtype)
		for i := 0; i < p.n; i++ {
			if len(buf)+size > cap(buf) {
				if _, err := w.Write(buf); err != nil {
					return err
				}
				buf = buf[:0]
			}
			if isFloatDType(p.dtype) {
				buf = appendFloat(buf, p.dtype, p.t.F32[i])
			} else {
				buf = appendInt(buf, p.dtype, p.t.I64[i])
			}
		}
	}
	_, err := w.Write(buf)
	return err
}

func writeJSONString(b *bytes.Buffer, s string) {
	enc, _ := json.Marshal(s) // a string always marshals
	b.Write(enc)
}

func checkIntRange(dtype string, v []int64) error {
	lo, hi := int64(math.MinInt64), int64(math.MaxInt64)
	switch dtype {
	case "I32":
		lo, hi = math.MinInt32, math.MaxInt32
	case "I16":
		lo, hi = math.MinInt16, math.MaxInt16
	case "I8":
		lo, hi = math.MinInt8, math.MaxInt8
	case "U8":
		lo, hi = 0, math.MaxUint8
	case "BOOL":
		lo, hi = 0, 1
	}
	if i := slices.IndexFunc(v, func(x int64) bool { return x < lo || x > hi }); i >= 0 {
		return fmt.Errorf("value %d at index %d does not fit %s", v[i], i, dtype)
	}
	return nil
}

func appendFloat(b []byte, dtype string, f float32) []byte {
	switch dtype {
	case "F32":
		return binary.LittleEndian.AppendUint32(b, math.Float32bits(f))
	case "F16":
		return binary.LittleEndian.AppendUint16(b, F32ToF16(f))
	case "BF16":
		return binary.LittleEndian.AppendUint16(b, F32ToBF16(f))
	default: // F64
		return binary.LittleEndian.AppendUint64(b, math.Float64bits(float64(f)))
	}
}

func appendInt(b []byte, dtype string, v int64) []byte {
	switch dtype {
	case "I64":
		return binary.LittleEndian.AppendUint64(b, uint64(v))
	case "I32":
		return binary.LittleEndian.AppendUint32(b, uint32(v))
	case "I16":
		return binary.LittleEndian.AppendUint16(b, uint16(v))
	default: // I8, U8, BOOL
		return append(b, byte(v))
	}
}
