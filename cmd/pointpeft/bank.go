package main

import (
	"fmt"
	"io"

	"github.com/pointpeft/pointpeft/dataset"
	"github.com/pointpeft/pointpeft/peft"
	"github.com/pointpeft/pointpeft/train"
)

func init() {
	register(command{name: "bank", summary: "build a Point-PEFT memory bank from a data set", run: runBank})
}

func runBank(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bank", "--backbone FILE --data PATH --out BANK.safetensors", `Builds the Point-prior Bank: the frozen pre-trained encoder's max-pooled feature of every
shape of the training split (in order, no augmentation), L2-normalised, saved as safetensors
with the backbone's hash, the data set and the split in its metadata.

`+dataHelp, stderr)
	backbone := fs.String("backbone", "", "pre-trained backbone file")
	data := fs.String("data", "", "data set")
	split := fs.String("split", "train", "split to encode")
	out := fs.String("out", "bank.safetensors", "output file")
	points := fs.Int("points", 1024, "points per cloud")
	groups := fs.Int("prior-groups", 64, "groups of the prior encoder")
	groupSize := fs.Int("prior-group-size", 32, "points per group of the prior encoder")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *backbone == "" || *data == "" {
		fs.Usage()
		return fmt.Errorf("--backbone and --data are required")
	}
	ds, err := dataSpec{path: *data, numPoints: *points, shapes: dataset.DefaultShapesConfig()}.open(*split)
	if err != nil {
		return err
	}
	bb, _, err := train.LoadBackbone(*backbone, len(ds.Classes()), *groups, *groupSize)
	if err != nil {
		return err
	}
	prior, err := peft.NewPriorEncoder(bb, *groups, *groupSize)
	if err != nil {
		return err
	}
	bank, err := buildBank(prior, ds, *points, map[string]string{"backbone": peft.BackboneHash(bb), "dataset": *data, "split": *split}, stderr)
	if err != nil {
		return err
	}
	if err := bank.Save(*out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "memory bank: %d features of width %d from %s (%s split) → %s\n", bank.Len(), bank.Dim, *data, *split, *out)
	return nil
}
