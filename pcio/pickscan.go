package pcio

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Argument layouts of pickle opcodes (protocols 0-5).
const (
	argNone  = iota
	argFixed // fixed number of bytes, given by pickleFixed
	argLine  // one newline-terminated line
	argLine2 // two lines
	argLen1  // 1-byte length then that many bytes
	argLen4  // 4-byte length then that many bytes
	argLen8  // 8-byte length then that many bytes
	argFrame // 8-byte frame length; the frame holds ordinary opcodes
)

var pickleArgs = map[byte]int{}

var pickleFixed = map[byte]int{
	'K': 1, 'h': 1, 'q': 1, 0x80: 1, 0x82: 1,
	'M': 2, 0x83: 2,
	'J': 4, 'j': 4, 'r': 4, 0x84: 4,
	'G': 8,
}

func init() {
	for _, op := range "(.012N)]}aelsdutRbo" {
		pickleArgs[byte(op)] = argNone
	}
	for _, op := range []byte{'Q', 0x81, 0x85, 0x86, 0x87, 0x88, 0x89, 0x90, 0x91, 0x92, 0x93, 0x94, 0x97, 0x98} {
		pickleArgs[op] = argNone
	}
	for op := range pickleFixed {
		pickleArgs[op] = argFixed
	}
	for _, op := range "ILFSVgpP" {
		pickleArgs[byte(op)] = argLine
	}
	pickleArgs['c'], pickleArgs['i'] = argLine2, argLine2
	for _, op := range []byte{'U', 'C', 0x8c, 0x8a} {
		pickleArgs[op] = argLen1
	}
	for _, op := range []byte{'T', 'X', 'B', 0x8b} {
		pickleArgs[op] = argLen4
	}
	for _, op := range []byte{0x8d, 0x8e, 0x96} {
		pickleArgs[op] = argLen8
	}
	pickleArgs[0x95] = argFrame
}

// scanPickle walks the opcodes of a pickle up to STOP without building
// anything, checking that every length an opcode states fits in the bytes
// that remain (size in total).
func scanPickle(r *bufio.Reader, size int64) error {
	var pos int64
	var buf [8]byte
	readN := func(n int) ([]byte, error) {
		if _, err := io.ReadFull(r, buf[:n]); err != nil {
			return nil, errors.New("truncated")
		}
		pos += int64(n)
		return buf[:n], nil
	}
	skip := func(n uint64) error {
		if n > uint64(size-pos) {
			return fmt.Errorf("length %d at offset %d exceeds the %d bytes left", n, pos, size-pos)
		}
		if _, err := r.Discard(int(n)); err != nil {
			return errors.New("truncated")
		}
		pos += int64(n)
		return nil
	}
	line := func() error {
		for {
			b, err := r.ReadSlice('\n')
			pos += int64(len(b))
			if err == nil {
				return nil
			}
			if err != bufio.ErrBufferFull {
				return errors.New("truncated line")
			}
		}
	}
	for {
		op, err := r.ReadByte()
		if err != nil {
			return errors.New("truncated (no STOP opcode)")
		}
		pos++
		kind, ok := pickleArgs[op]
		if !ok {
			return fmt.Errorf("unknown opcode 0x%02x at offset %d", op, pos-1)
		}
		switch kind {
		case argNone:
			if op == '.' {
				return nil
			}
		case argFixed:
			_, err = readN(pickleFixed[op])
		case argLine:
			err = line()
		case argLine2:
			if err = line(); err == nil {
				err = line()
			}
		case argLen1:
			var b []byte
			if b, err = readN(1); err == nil {
				err = skip(uint64(b[0]))
			}
		case argLen4:
			var b []byte
			if b, err = readN(4); err == nil {
				n := binary.LittleEndian.Uint32(b)
				if n >= 1<<31 {
					return fmt.Errorf("negative length at offset %d", pos-4)
				}
				err = skip(uint64(n))
			}
		case argLen8:
			var b []byte
			if b, err = readN(8); err == nil {
				err = skip(binary.LittleEndian.Uint64(b))
			}
		case argFrame:
			var b []byte
			if b, err = readN(8); err == nil {
				if n := binary.LittleEndian.Uint64(b); n > uint64(size-pos) {
					return fmt.Errorf("frame length %d at offset %d exceeds the %d bytes left", n, pos-8, size-pos)
				}
			}
		}
		if err != nil {
			return err
		}
	}
}
