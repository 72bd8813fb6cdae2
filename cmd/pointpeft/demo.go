package main

import (
	"fmt"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/pointpeft/pointpeft/dataset"
	"github.com/pointpeft/pointpeft/train"
)

func init() { register(newDemoCmd) }

func newDemoCmd() *cobra.Command {
	spec := train.DemoSpec{Data: "shapes", Epochs: 5, Train: 1400, Test: 420, Points: 1024, Seed: 1}
	var out string
	var verbose bool
	cmd := &cobra.Command{
		Use:   "demo [flags]",
		Short: "end-to-end run on built-in data: Point-PEFT vs linear probing",
		Long: `The main job on embedded defaults: loads the shipped pre-trained backbone, builds the
Point-PEFT memory bank on the procedural shape set, fine-tunes Point-PEFT and, for comparison,
a linear probe, evaluates both, prints a table (accuracy, trainable parameters, time) and writes
the runs' files, plots and a picture of test shapes with their predicted and true labels.
--data runs it on a real data set instead (e.g. a ModelNet40 folder).

` + dataset.SourceHelp,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			start := time.Now()
			stdout := cmd.OutOrStdout()
			ctx, stop := signalContext()
			defer stop()
			rows, err := train.Demo(ctx, spec, out, newLogger(cmd.ErrOrStderr(), verbose), progressTo(cmd), stdout)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
			fmt.Fprintln(stdout)
			fmt.Fprintln(tw, "method\ttest acc\tmean class acc\ttrainable params\tshare\ttime\t")
			for _, r := range rows {
				fmt.Fprintf(tw, "%s\t%.2f%%\t%.2f%%\t%d\t%.2f%%\t%.0fs\t\n", r.Method, 100*r.Acc, 100*r.MeanClassAcc, r.Trainable,
					100*float64(r.Trainable)/float64(r.Total), r.Seconds)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "\nplots: %s/*/train_curves.png, %s/*/confusion.png; test shapes: %s\ntotal time %.0fs\n",
				out, out, filepath.Join(out, "test_shapes.png"), time.Since(start).Seconds())
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&out, "out", "runs/demo", "output directory (earlier demo runs in it are replaced)")
	fs.StringVar(&spec.Data, "data", spec.Data, "data source")
	fs.StringVar(&spec.Backbone, "backbone", "", "backbone file (default: the shipped small backbone)")
	fs.IntVar(&spec.Epochs, "epochs", spec.Epochs, "epochs per method")
	fs.IntVar(&spec.Train, "train", spec.Train, "procedural shapes in the training split")
	fs.IntVar(&spec.Test, "test", spec.Test, "procedural shapes in the test split")
	fs.IntVar(&spec.Points, "points", spec.Points, "points per cloud")
	fs.Uint64Var(&spec.Seed, "seed", spec.Seed, "random seed")
	fs.BoolVarP(&verbose, "verbose", "v", false, "log every epoch")
	return cmd
}
