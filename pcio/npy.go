package pcio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/pointpeft/pointpeft/internal/atomicfile"
)

var npyMagic = []byte("\x93NUMPY")

// ReadNPY reads a NumPy .npy file (format version 1, 2 or 3) holding a
// float32 or float64 array of any shape in C order, in either byte order. The
// values are returned as float32 together with the array shape.
func ReadNPY(path string) ([]float32, []int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	data, shape, err := DecodeNPY(b)
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", path, err)
	}
	return data, shape, nil
}

// DecodeNPY decodes the bytes of a .npy file; see ReadNPY.
func DecodeNPY(b []byte) ([]float32, []int, error) {
	if len(b) < 10 || !bytes.Equal(b[:6], npyMagic) {
		return nil, nil, errors.New("npy: bad magic (not a .npy file)")
	}
	major := b[6]
	var hlen, off int
	switch major {
	case 1:
		hlen, off = int(binary.LittleEndian.Uint16(b[8:10])), 10
	case 2, 3:
		if len(b) < 12 {
			return nil, nil, errors.New("npy: truncated header")
		}
		hlen, off = int(binary.LittleEndian.Uint32(b[8:12])), 12
	default:
		return nil, nil, fmt.Errorf("npy: %w format version %d", ErrUnsupported, major)
	}
	if hlen > len(b)-off {
		return nil, nil, fmt.Errorf("npy: header length %d exceeds file size %d", hlen, len(b))
	}
	hdr, err := parsePyDict(string(b[off : off+hlen]))
	if err != nil {
		return nil, nil, fmt.Errorf("npy: header: %w", err)
	}
	descr, ok := hdr["descr"].(string)
	if !ok {
		return nil, nil, errors.New("npy: header has no 'descr' string")
	}
	fortran, ok := hdr["fortran_order"].(bool)
	if !ok {
		return nil, nil, errors.New("npy: header has no 'fortran_order' bool")
	}
	if fortran {
		return nil, nil, fmt.Errorf("npy: %w Fortran-ordered array (save it in C order)", ErrUnsupported)
	}
	shape, ok := hdr["shape"].([]int)
	if !ok {
		return nil, nil, errors.New("npy: header has no 'shape' tuple")
	}
	order, typ, err := parseFloatDescr(descr)
	if err != nil {
		return nil, nil, fmt.Errorf("npy: %w", err)
	}
	payload := b[off+hlen:]
	count, ok := shapeCount(shape, len(payload)/typ.size)
	if !ok || count*typ.size != len(payload) {
		return nil, nil, fmt.Errorf("npy: shape %v of %s needs a different size than the %d data bytes present", shape, descr, len(payload))
	}
	return typ.decodeAll(payload, order), shape, nil
}

// shapeCount multiplies out shape, failing on negative dims or a product
// above limit (which also rules out overflow).
func shapeCount(shape []int, limit int) (int, bool) {
	n := 1
	for _, d := range shape {
		if d < 0 {
			return 0, false
		}
		if d == 0 {
			n = 0
			continue
		}
		if n > limit/d {
			return 0, false
		}
		n *= d
	}
	return n, n <= limit
}

// parseFloatDescr accepts NumPy float32/float64 type strings such as '<f4'.
func parseFloatDescr(d string) (binary.ByteOrder, scalarType, error) {
	if len(d) != 3 || d[1] != 'f' || (d[2] != '4' && d[2] != '8') {
		return nil, scalarType{}, fmt.Errorf("%w dtype %q (want float32 or float64)", ErrUnsupported, d)
	}
	typ := scalarType{kind: 'f', size: int(d[2] - '0')}
	switch d[0] {
	case '<', '=', '|':
		return binary.LittleEndian, typ, nil
	case '>':
		return binary.BigEndian, typ, nil
	}
	return nil, scalarType{}, fmt.Errorf("%w byte order in dtype %q", ErrUnsupported, d)
}

// WriteNPY writes data as a little-endian float32 .npy (version 1) file with
// the given shape.
func WriteNPY(path string, data []float32, shape []int) error {
	return atomicfile.Write(path, func(w io.Writer) error { return EncodeNPY(w, data, shape) })
}

// EncodeNPY writes data as a little-endian float32 .npy stream.
func EncodeNPY(w io.Writer, data []float32, shape []int) error {
	n, ok := shapeCount(shape, len(data))
	if !ok || n != len(data) {
		return fmt.Errorf("npy: shape %v does not match %d values", shape, len(data))
	}
	dims := make([]string, len(shape))
	for i, d := range shape {
		dims[i] = strconv.Itoa(d)
	}
	tuple := strings.Join(dims, ", ")
	if len(shape) == 1 {
		tuple += ","
	}
	h := fmt.Sprintf("{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }", tuple)
	// NumPy pads the header with spaces so the data starts 64-byte aligned.
	total := 10 + len(h) + 1
	pad := (64 - total%64) % 64
	h += strings.Repeat(" ", pad) + "\n"
	if len(h) > math.MaxUint16 {
		return fmt.Errorf("npy: header too long for %d dimensions", len(shape))
	}
	buf := make([]byte, 10, 10+len(h)+4*len(data))
	copy(buf, npyMagic)
	buf[6], buf[7] = 1, 0
	binary.LittleEndian.PutUint16(buf[8:], uint16(len(h)))
	buf = append(buf, h...)
	for _, v := range data {
		buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
	}
	_, err := w.Write(buf)
	return err
}

// parsePyDict parses the Python dict literal of a .npy header. Values may be
// strings, True/False or tuples of non-negative integers.
func parsePyDict(s string) (map[string]any, error) {
	p := pyParser{s: s}
	p.skip()
	if !p.eat('{') {
		return nil, errors.New("expected '{'")
	}
	out := map[string]any{}
	for {
		p.skip()
		if p.eat('}') {
			return out, nil
		}
		key, err := p.str()
		if err != nil {
			return nil, err
		}
		p.skip()
		if !p.eat(':') {
			return nil, fmt.Errorf("expected ':' after key %q", key)
		}
		p.skip()
		val, err := p.value()
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", key, err)
		}
		out[key] = val
		p.skip()
		if !p.eat(',') {
			p.skip()
			if !p.eat('}') {
				return nil, errors.New("expected ',' or '}'")
			}
			return out, nil
		}
	}
}

type pyParser struct {
	s string
	i int
}

func (p *pyParser) skip() {
	for p.i < len(p.s) && strings.IndexByte(" \t\r\n", p.s[p.i]) >= 0 {
		p.i++
	}
}

func (p *pyParser) eat(c byte) bool {
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *pyParser) str() (string, error) {
	if p.i >= len(p.s) || (p.s[p.i] != '\'' && p.s[p.i] != '"') {
		return "", errors.New("expected a quoted string")
	}
	q := p.s[p.i]
	end := strings.IndexByte(p.s[p.i+1:], q)
	if end < 0 {
		return "", errors.New("unterminated string")
	}
	v := p.s[p.i+1 : p.i+1+end]
	p.i += end + 2
	return v, nil
}

func (p *pyParser) value() (any, error) {
	switch {
	case strings.HasPrefix(p.s[p.i:], "True"):
		p.i += 4
		return true, nil
	case strings.HasPrefix(p.s[p.i:], "False"):
		p.i += 5
		return false, nil
	case p.eat('('):
		dims := []int{}
		for {
			p.skip()
			if p.eat(')') {
				return dims, nil
			}
			j := p.i
			for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
				p.i++
			}
			if j == p.i {
				return nil, errors.New("expected an integer in tuple")
			}
			// Python 2 headers may write longs as 3L.
			d, err := strconv.Atoi(p.s[j:p.i])
			if err != nil {
				return nil, fmt.Errorf("bad dimension %q", p.s[j:p.i])
			}
			p.eat('L')
			dims = append(dims, d)
			p.skip()
			if !p.eat(',') {
				p.skip()
				if !p.eat(')') {
					return nil, errors.New("expected ',' or ')' in tuple")
				}
				return dims, nil
			}
		}
	}
	return p.str()
}
