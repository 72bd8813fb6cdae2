package pcio

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
)

// ReadPCD reads a Point Cloud Library .pcd file with DATA ascii or binary.
// DATA binary_compressed gives an ErrUnsupported error. Fields x, y and z
// become Points; every other field becomes extra channels (a field with
// COUNT k > 1 gives channels name_0 ... name_k-1). Values are converted to
// float32 numerically, so a packed rgb float is kept as its float value.
func ReadPCD(path string) (Cloud, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Cloud{}, err
	}
	c, err := DecodePCD(b)
	if err != nil {
		return Cloud{}, fmt.Errorf("read %s: %w", path, err)
	}
	return c, nil
}

// DecodePCD decodes the bytes of a .pcd file; see ReadPCD.
func DecodePCD(b []byte) (Cloud, error) {
	c, err := decodePCD(b)
	if err != nil {
		return Cloud{}, fmt.Errorf("pcd: %w", err)
	}
	return c, nil
}

type pcdField struct {
	name  string
	typ   scalarType
	count int
}

// pcdKinds maps PCD's TYPE letters to scalar kinds.
var pcdKinds = map[string]byte{"F": 'f', "I": 'i', "U": 'u'}

func decodePCD(b []byte) (Cloud, error) {
	var (
		fields []pcdField
		sizes  []string
		types  []string
		counts []string
		width  = -1
		height = 1
		points = -1
		data   string
	)
	rest := string(b)
	for data == "" {
		i := strings.IndexByte(rest, '\n')
		if i < 0 {
			return Cloud{}, errors.New("header has no DATA line")
		}
		line := strings.TrimSpace(rest[:i])
		rest = rest[i+1:]
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.Fields(line)
		key, args := strings.ToUpper(f[0]), f[1:]
		var err error
		switch key {
		case "VERSION", "VIEWPOINT":
		case "FIELDS", "COLUMNS":
			for _, n := range args {
				fields = append(fields, pcdField{name: n})
			}
		case "SIZE":
			sizes = args
		case "TYPE":
			types = args
		case "COUNT":
			counts = args
		case "WIDTH":
			width, err = pcdInt(args)
		case "HEIGHT":
			height, err = pcdInt(args)
		case "POINTS":
			points, err = pcdInt(args)
		case "DATA":
			if len(args) != 1 {
				return Cloud{}, fmt.Errorf("bad DATA line %q", line)
			}
			data = args[0]
		default:
			return Cloud{}, fmt.Errorf("unknown header line %q", line)
		}
		if err != nil {
			return Cloud{}, fmt.Errorf("%s: %w", key, err)
		}
	}
	if len(fields) == 0 || len(sizes) != len(fields) || len(types) != len(fields) {
		return Cloud{}, errors.New("FIELDS, SIZE and TYPE must list the same number of entries")
	}
	if counts != nil && len(counts) != len(fields) {
		return Cloud{}, errors.New("COUNT must list one entry per field")
	}
	if points < 0 {
		if width < 0 {
			return Cloud{}, errors.New("header has neither POINTS nor WIDTH")
		}
		points = width * height
	}
	stride, cols := 0, 0
	for i := range fields {
		f := &fields[i]
		f.typ.kind = pcdKinds[strings.ToUpper(types[i])]
		f.typ.size, _ = strconv.Atoi(sizes[i])
		f.count = 1
		if counts != nil {
			f.count, _ = strconv.Atoi(counts[i])
		}
		if f.count < 1 || f.count > 1<<16 || !f.typ.valid() {
			return Cloud{}, fmt.Errorf("field %s: bad TYPE/SIZE/COUNT %s/%s", f.name, types[i], sizes[i])
		}
		stride += f.typ.size * f.count
		cols += f.count
	}
	xyz, extra, names, err := pcdLayout(fields)
	if err != nil {
		return Cloud{}, err
	}
	body := b[len(b)-len(rest):]
	vals := make([]float64, cols)
	var next func() error
	switch strings.ToLower(data) {
	case "ascii":
		// Each value needs at least two characters.
		if !countFits(int64(points), 2*int64(cols), int64(len(body))+1) {
			return Cloud{}, fmt.Errorf("POINTS %d does not fit in %d bytes", points, len(body))
		}
		s := string(body)
		next = func() error {
			for j := range vals {
				s = strings.TrimLeft(s, " \t\r\n")
				k := strings.IndexAny(s, " \t\r\n")
				if k < 0 {
					k = len(s)
				}
				if k == 0 {
					return errors.New("truncated data")
				}
				v, err := strconv.ParseFloat(s[:k], 64)
				if err != nil {
					return fmt.Errorf("bad number %q", s[:k])
				}
				vals[j], s = v, s[k:]
			}
			return nil
		}
	case "binary":
		if !countFits(int64(points), int64(stride), int64(len(body))) {
			return Cloud{}, fmt.Errorf("POINTS %d of %d bytes each do not fit in %d bytes", points, stride, len(body))
		}
		p := body
		next = func() error {
			j := 0
			for _, f := range fields {
				for k := 0; k < f.count; k++ {
					vals[j] = f.typ.decode(p, binary.LittleEndian)
					p = p[f.typ.size:]
					j++
				}
			}
			return nil
		}
	case "binary_compressed":
		return Cloud{}, fmt.Errorf("%w DATA binary_compressed (convert with pcl_convert_pcd_ascii_binary)", ErrUnsupported)
	default:
		return Cloud{}, fmt.Errorf("unknown DATA %q", data)
	}
	c := Cloud{Points: make([]float32, points*3), Extra: make([]float32, points*len(extra)), ExtraNames: names}
	for i := 0; i < points; i++ {
		if err := next(); err != nil {
			return Cloud{}, fmt.Errorf("point %d: %w", i, err)
		}
		for k, j := range xyz {
			c.Points[i*3+k] = float32(vals[j])
		}
		for k, j := range extra {
			c.Extra[i*len(extra)+k] = float32(vals[j])
		}
	}
	if err := checkPoints(c.Points); err != nil {
		return Cloud{}, err
	}
	return c, nil
}

// pcdLayout maps value columns to xyz and extra channels.
func pcdLayout(fields []pcdField) (xyz [3]int, extra []int, names []string, err error) {
	xyz = [3]int{-1, -1, -1}
	col := 0
	for _, f := range fields {
		for k := 0; k < f.count; k++ {
			switch {
			case f.count == 1 && f.name == "x":
				xyz[0] = col
			case f.count == 1 && f.name == "y":
				xyz[1] = col
			case f.count == 1 && f.name == "z":
				xyz[2] = col
			case f.name == "_": // PCL padding
			case f.count == 1:
				extra, names = append(extra, col), append(names, f.name)
			default:
				extra, names = append(extra, col), append(names, f.name+"_"+strconv.Itoa(k))
			}
			col++
		}
	}
	if xyz[0] < 0 || xyz[1] < 0 || xyz[2] < 0 {
		return xyz, nil, nil, errors.New("FIELDS lack x, y or z")
	}
	return xyz, extra, names, nil
}

func pcdInt(args []string) (int, error) {
	if len(args) != 1 {
		return 0, errors.New("expected one integer")
	}
	v, err := strconv.Atoi(args[0])
	if err != nil || v < 0 || v > math.MaxInt32 {
		return 0, fmt.Errorf("bad value %q", args[0])
	}
	return v, nil
}
