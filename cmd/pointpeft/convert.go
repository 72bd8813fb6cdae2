package main

import (
	"fmt"
	"io"

	"github.com/pointpeft/pointpeft/checkpoint"
)

func init() {
	register(command{name: "convert", summary: "convert a checkpoint to safetensors (optionally float16)", run: runConvert})
}

func runConvert(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("convert", "IN OUT.safetensors", `Converts a checkpoint (PyTorch .pth or safetensors) to safetensors, keeping its keys and
metadata. With --half, float32 tensors are stored as float16 (half the size; loading converts
back to float32, losing precision below about 1e-3 relative).`, stderr)
	half := fs.Bool("half", false, "store float tensors as float16")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		fs.Usage()
		return errUsage
	}
	in, out := fs.Arg(0), fs.Arg(1)
	sd, err := checkpoint.Load(in)
	if err != nil {
		return err
	}
	for _, k := range sd.Keys {
		t := sd.Tensors[k]
		if t.IsFloat() {
			t.DType = "F32"
			if *half {
				t.DType = "F16"
			}
		}
	}
	if err := checkpoint.WriteSafetensors(out, sd); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s → %s: %d tensors, %d values\n", in, out, len(sd.Keys), sd.NumElements())
	return nil
}
