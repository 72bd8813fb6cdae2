package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/pointpeft/pointpeft/checkpoint"
)

func init() { register(newConvertCmd) }

func newConvertCmd() *cobra.Command {
	var half, weights bool
	cmd := &cobra.Command{
		Use:   "convert IN OUT.safetensors",
		Short: "convert a checkpoint to safetensors (optionally float16)",
		Long: `Converts a checkpoint (PyTorch .pth or safetensors) to safetensors, keeping its keys and
metadata. With --half, float32 tensors are stored as float16 (half the size; loading converts
back to float32, losing precision below about 1e-3 relative).`,
		Args: exactArgs(2, "IN and OUT"),
		RunE: func(cmd *cobra.Command, args []string) error {
			sd, err := checkpoint.ConvertWeights(args[0], args[1], half, weights)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s → %s: %d tensors, %d values\n", args[0], args[1], len(sd.Keys), sd.NumElements())
			return nil
		},
	}
	cmd.Flags().BoolVar(&half, "half", false, "store float tensors as float16")
	cmd.Flags().BoolVar(&weights, "weights-only", false, "leave out a run file's optimizer state (optim.* tensors)")
	return cmd
}
