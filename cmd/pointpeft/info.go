package main

import (
	"fmt"
	"io"

	"github.com/pointpeft/pointpeft/checkpoint"
)

func init() {
	register(command{name: "info", summary: "print what a checkpoint file holds", run: runInfo})
}

func runInfo(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("info", "FILE...", `Prints what a checkpoint holds: its format (PyTorch .pth zip or safetensors), the recognised
layout (Point-MAE pre-training or fine-tuned, Point-BERT, pointpeft), top-level entries, every
tensor's name, shape and dtype, and parameter counts per module.`, stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return errUsage
	}
	for i, path := range fs.Args() {
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		s, err := checkpoint.Inspect(path)
		if err != nil {
			return err
		}
		if err := s.Write(stdout); err != nil {
			return err
		}
	}
	return nil
}
