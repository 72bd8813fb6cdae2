package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/pointpeft/pointpeft/checkpoint"
)

func init() { register(newInfoCmd) }

func newInfoCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "info FILE...",
		Short: "print what a checkpoint file holds",
		Long: `Prints what a checkpoint holds: its format (PyTorch .pth zip or safetensors), the recognised
layout (Point-MAE pre-training or fine-tuned, Point-BERT, the authors' fine-tuned Point-PEFT,
pointpeft runs, adapters and memory banks), top-level entries, every tensor's name, shape and
dtype, and parameter counts per module.`,
		Args: minArgs(1, "at least one checkpoint file"),
		RunE: func(cmd *cobra.Command, args []string) error {
			for i, path := range args {
				if i > 0 {
					fmt.Fprintln(cmd.OutOrStdout())
				}
				s, err := checkpoint.Inspect(path)
				if err != nil {
					return err
				}
				if err := s.Write(cmd.OutOrStdout()); err != nil {
					return err
				}
			}
			return nil
		},
	}
}
