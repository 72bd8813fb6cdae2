// Package pickle checks the opcode stream of a Python pickle before an
// unpickler runs on it. It is shared by every reader of pickled files
// (pcio's NumPy .dat caches, checkpoint's PyTorch .pth files), so all of
// them refuse the same malformed input with the same messages.
//
// gopickle, the unpickler those readers use, allocates a buffer of whatever
// length an opcode states before reading it and indexes its dispatch table
// with the raw opcode byte, so a few corrupted bytes could ask for exabytes
// or crash it. Scan walks the opcodes without building anything and rejects
// such input first.
package pickle

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// argument layouts of pickle opcodes (protocols 0 to 5).
const (
	argNone  = iota + 1
	argFixed // n bytes
	argLine  // one newline-terminated line
	argLine2 // two lines
	argLen1  // 1-byte length, then that many bytes
	argLen4  // 4-byte little-endian length, then that many bytes
	argLen8  // 8-byte little-endian length, then that many bytes
	argFrame // 8-byte frame length; the frame's opcodes follow in line
)

type opcode struct {
	name string
	arg  int
	n    int // bytes of an argFixed argument
	// signed: the 4-byte length is a signed int32 (Python's "<i"), so 2^31 and
	// above are negative and invalid.
	signed bool
	// nonEmpty: a zero length is invalid (an empty LONG1/LONG4 has no sign
	// byte; gopickle indexes its last byte).
	nonEmpty bool
}

// opcodes lists every opcode of pickle protocols 0 to 5 (Python's
// pickletools); a zero entry is an unknown opcode.
var opcodes = [256]opcode{
	'(': {name: "MARK", arg: argNone}, '.': {name: "STOP", arg: argNone},
	'0': {name: "POP", arg: argNone}, '1': {name: "POP_MARK", arg: argNone},
	'2': {name: "DUP", arg: argNone}, 'N': {name: "NONE", arg: argNone},
	'R': {name: "REDUCE", arg: argNone}, 'a': {name: "APPEND", arg: argNone},
	'b': {name: "BUILD", arg: argNone}, 'd': {name: "DICT", arg: argNone},
	'}': {name: "EMPTY_DICT", arg: argNone}, 'e': {name: "APPENDS", arg: argNone},
	'l': {name: "LIST", arg: argNone}, ']': {name: "EMPTY_LIST", arg: argNone},
	'o': {name: "OBJ", arg: argNone}, 's': {name: "SETITEM", arg: argNone},
	't': {name: "TUPLE", arg: argNone}, ')': {name: "EMPTY_TUPLE", arg: argNone},
	'u': {name: "SETITEMS", arg: argNone}, 'Q': {name: "BINPERSID", arg: argNone},
	0x81: {name: "NEWOBJ", arg: argNone}, 0x85: {name: "TUPLE1", arg: argNone},
	0x86: {name: "TUPLE2", arg: argNone}, 0x87: {name: "TUPLE3", arg: argNone},
	0x88: {name: "NEWTRUE", arg: argNone}, 0x89: {name: "NEWFALSE", arg: argNone},
	0x8f: {name: "EMPTY_SET", arg: argNone}, 0x90: {name: "ADDITEMS", arg: argNone},
	0x91: {name: "FROZENSET", arg: argNone}, 0x92: {name: "NEWOBJ_EX", arg: argNone},
	0x93: {name: "STACK_GLOBAL", arg: argNone}, 0x94: {name: "MEMOIZE", arg: argNone},
	0x97: {name: "NEXT_BUFFER", arg: argNone}, 0x98: {name: "READONLY_BUFFER", arg: argNone},

	'K': {name: "BININT1", arg: argFixed, n: 1}, 'h': {name: "BINGET", arg: argFixed, n: 1},
	'q': {name: "BINPUT", arg: argFixed, n: 1}, 0x80: {name: "PROTO", arg: argFixed, n: 1},
	0x82: {name: "EXT1", arg: argFixed, n: 1}, 'M': {name: "BININT2", arg: argFixed, n: 2},
	0x83: {name: "EXT2", arg: argFixed, n: 2}, 'J': {name: "BININT", arg: argFixed, n: 4},
	'j': {name: "LONG_BINGET", arg: argFixed, n: 4}, 'r': {name: "LONG_BINPUT", arg: argFixed, n: 4},
	0x84: {name: "EXT4", arg: argFixed, n: 4}, 'G': {name: "BINFLOAT", arg: argFixed, n: 8},

	'F': {name: "FLOAT", arg: argLine}, 'I': {name: "INT", arg: argLine},
	'L': {name: "LONG", arg: argLine}, 'P': {name: "PERSID", arg: argLine},
	'S': {name: "STRING", arg: argLine}, 'V': {name: "UNICODE", arg: argLine},
	'g': {name: "GET", arg: argLine}, 'p': {name: "PUT", arg: argLine},
	'c': {name: "GLOBAL", arg: argLine2}, 'i': {name: "INST", arg: argLine2},

	'U': {name: "SHORT_BINSTRING", arg: argLen1}, 'C': {name: "SHORT_BINBYTES", arg: argLen1},
	0x8c: {name: "SHORT_BINUNICODE", arg: argLen1}, 0x8a: {name: "LONG1", arg: argLen1, nonEmpty: true},
	'T': {name: "BINSTRING", arg: argLen4, signed: true}, 'X': {name: "BINUNICODE", arg: argLen4},
	'B': {name: "BINBYTES", arg: argLen4}, 0x8b: {name: "LONG4", arg: argLen4, signed: true, nonEmpty: true},
	0x8d: {name: "BINUNICODE8", arg: argLen8}, 0x8e: {name: "BINBYTES8", arg: argLen8},
	0x96: {name: "BYTEARRAY8", arg: argLen8},
	0x95: {name: "FRAME", arg: argFrame},
}

// Scan walks the opcodes of the pickle that r holds, size bytes in all, up
// to its STOP opcode, without building anything. It returns an error naming
// the offset and opcode of the first problem: an unknown opcode, an argument
// or stated length that runs past the end, a negative BINSTRING or LONG4
// length, an empty LONG1 or LONG4, an unterminated line argument, or no STOP.
// Bytes after STOP are never read. A *bufio.Reader is read as it is; any
// other reader gets a buffer.
func Scan(r io.Reader, size int64) error {
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReaderSize(r, 1<<16)
	}
	s := scanner{r: br, size: size}
	return s.run()
}

type scanner struct {
	r    *bufio.Reader
	size int64
	pos  int64 // bytes consumed
	buf  [8]byte
}

func (s *scanner) run() error {
	for {
		at := s.pos
		c, err := s.r.ReadByte()
		if err != nil {
			return errors.New("pickle ends without STOP opcode (truncated?)")
		}
		s.pos++
		op := opcodes[c]
		if op.arg == 0 {
			return fmt.Errorf("pickle offset %d: unknown opcode 0x%02x", at, c)
		}
		fail := func(format string, a ...any) error {
			return fmt.Errorf("pickle offset %d: %s %s", at, op.name, fmt.Sprintf(format, a...))
		}
		switch op.arg {
		case argNone:
			if c == '.' {
				return nil
			}
		case argFixed:
			if _, err := s.read(op.n); err != nil {
				return fail("argument: %v", err)
			}
		case argLine, argLine2:
			lines := 1
			if op.arg == argLine2 {
				lines = 2
			}
			for range lines {
				if err := s.line(); err != nil {
					return fail("argument: %v", err)
				}
			}
		case argLen1, argLen4, argLen8:
			n, err := s.uint(lengthBytes[op.arg])
			if err != nil {
				return fail("length: %v", err)
			}
			switch {
			case op.signed && n >= 1<<31:
				return fail("has negative length %d", int32(n))
			case op.nonEmpty && n == 0:
				return fail("is empty")
			}
			if err := s.skip(n); err != nil {
				return fail("%v", err)
			}
		case argFrame:
			n, err := s.uint(8)
			if err != nil {
				return fail("length: %v", err)
			}
			// Only the size: the frame's opcodes are scanned in line.
			if left := s.left(); n > left {
				return fail("of %d bytes runs past the end (%d bytes left)", n, left)
			}
		}
	}
}

// lengthBytes is the width of each layout's little-endian length.
var lengthBytes = [...]int{argLen1: 1, argLen4: 4, argLen8: 8}

// read returns the next n <= 8 bytes.
func (s *scanner) read(n int) ([]byte, error) {
	if _, err := io.ReadFull(s.r, s.buf[:n]); err != nil {
		return nil, errors.New("runs past the end")
	}
	s.pos += int64(n)
	return s.buf[:n], nil
}

// uint reads an unsigned little-endian integer of width 1, 4 or 8 bytes.
func (s *scanner) uint(width int) (uint64, error) {
	b, err := s.read(width)
	if err != nil {
		return 0, err
	}
	switch width {
	case 1:
		return uint64(b[0]), nil
	case 4:
		return uint64(binary.LittleEndian.Uint32(b)), nil
	}
	return binary.LittleEndian.Uint64(b), nil
}

// left is how many of the size bytes follow the current position.
func (s *scanner) left() uint64 { return uint64(max(s.size-s.pos, 0)) }

// skip passes over a stated length of n bytes, checked against size first.
func (s *scanner) skip(n uint64) error {
	if left := s.left(); n > left {
		return fmt.Errorf("of %d bytes runs past the end (%d bytes left)", n, left)
	}
	if _, err := s.r.Discard(int(n)); err != nil {
		return fmt.Errorf("of %d bytes runs past the end", n)
	}
	s.pos += int64(n)
	return nil
}

// line passes over one newline-terminated line of any length.
func (s *scanner) line() error {
	for {
		b, err := s.r.ReadSlice('\n')
		s.pos += int64(len(b))
		switch err {
		case nil:
			return nil
		case bufio.ErrBufferFull:
			continue
		}
		return errors.New("unterminated line")
	}
}
