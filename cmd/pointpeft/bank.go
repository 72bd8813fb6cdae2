package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/pointpeft/pointpeft/dataset"
	"github.com/pointpeft/pointpeft/train"
)

func init() { register(newBankCmd) }

func newBankCmd() *cobra.Command {
	var backbone, data, split, out string
	var points, groups, groupSize int
	cmd := &cobra.Command{
		Use:   "bank --data SOURCE [--backbone FILE] [--out BANK.safetensors]",
		Short: "build a Point-PEFT memory bank from a data set",
		Long: `Builds the Point-prior Bank: the frozen pre-trained encoder's max-pooled feature of every
shape of the training split (in order, no augmentation), L2-normalised, saved as safetensors
with the backbone's hash, the data set and the split in its metadata.

` + dataset.SourceHelp,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if data == "" {
				return usagef("name the data with --data")
			}
			if points < 0 || groups < 1 || groupSize < 1 {
				return usagef("--points %d, --prior-groups %d, --prior-group-size %d: want positive sizes", points, groups, groupSize)
			}
			bank, err := train.BuildDataBank(backbone, data, split, points, groups, groupSize, progressTo(cmd))
			if err != nil {
				return err
			}
			if err := bank.Save(out); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "memory bank: %d features of width %d from %s (%s split) → %s\n", bank.Len(), bank.Dim, data, split, out)
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&backbone, "backbone", "", "pre-trained backbone file (default: the shipped backbone)")
	fs.StringVar(&data, "data", "", "data source")
	fs.StringVar(&split, "split", "train", "split to encode")
	fs.StringVar(&out, "out", "bank.safetensors", "output file")
	fs.IntVar(&points, "points", 0, "points per cloud (default: the data set's reference)")
	fs.IntVar(&groups, "prior-groups", 64, "groups of the prior encoder")
	fs.IntVar(&groupSize, "prior-group-size", 32, "points per group of the prior encoder")
	return cmd
}
