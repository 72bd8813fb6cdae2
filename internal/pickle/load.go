package pickle

import (
	"bufio"
	"fmt"
	"io"

	gopickle "github.com/nlpodyssey/gopickle/pickle"
)

// Load unpickles the pickle that r holds, size bytes in all, after Scan has
// accepted it. Globals are resolved by findClass only, so nothing the file
// names is ever run, and persistent ids by persistentLoad (nil: a pickle
// that uses them fails). gopickle panics on some malformed streams (odd dict
// item counts, unhashable keys); such a panic becomes an error, so a
// corrupted file never crashes the program. r is read twice.
func Load(r io.ReaderAt, size int64, findClass func(module, name string) (any, error), persistentLoad func(any) (any, error)) (v any, err error) {
	if err := Scan(io.NewSectionReader(r, 0, size), size); err != nil {
		return nil, err
	}
	defer func() {
		if p := recover(); p != nil {
			v, err = nil, fmt.Errorf("malformed pickle: %v", p)
		}
	}()
	u := gopickle.NewUnpickler(bufio.NewReaderSize(io.NewSectionReader(r, 0, size), 1<<20))
	u.FindClass = findClass
	u.PersistentLoad = persistentLoad
	if v, err = u.Load(); err != nil {
		return nil, fmt.Errorf("unpickle: %w", err)
	}
	return v, nil
}
