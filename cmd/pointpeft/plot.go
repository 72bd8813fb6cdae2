package main

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/pointpeft/pointpeft/train"
)

func init() { register(newPlotCmd) }

func newPlotCmd() *cobra.Command {
	var out, title string
	cmd := &cobra.Command{
		Use:   "plot RUN_DIR",
		Short: "draw a run's metrics.jsonl as training curves (PNG)",
		Long: `Draws RUN_DIR/metrics.jsonl (written by finetune or pretrain) as a PNG of loss, accuracy and
learning rate per epoch.`,
		Args: exactArgs(1, "one run directory"),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := args[0]
			if out == "" {
				out = filepath.Join(dir, "train_curves.png")
			}
			if title == "" {
				title = filepath.Base(dir)
			}
			if err := train.PlotRun(dir, out, title); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), out)
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "output PNG (default RUN_DIR/train_curves.png)")
	cmd.Flags().StringVar(&title, "title", "", "plot title (default: the run directory's name)")
	return cmd
}
