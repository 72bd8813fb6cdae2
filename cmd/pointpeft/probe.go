package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/pointpeft/pointpeft/dataset"
	"github.com/pointpeft/pointpeft/internal/atomicfile"
	"github.com/pointpeft/pointpeft/probe"
)

func init() { register(newProbeCmd) }

func newProbeCmd() *cobra.Command {
	var o probe.Options
	var jsonOut string
	cmd := &cobra.Command{
		Use:   "probe --data SOURCE [--backbone FILE]",
		Short: "linear evaluation of a frozen backbone's features",
		Long: `Linear evaluation of a pre-trained backbone (the shipped one unless --backbone names another):
the frozen encoder gives every training and test shape a feature (max- and mean-pooled
normalised group tokens), a multinomial logistic regression is fitted on the training
features with its L2 strength chosen by stratified cross-validation on them, and its
accuracy on the test features is printed.

` + dataset.SourceHelp,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Data == "" {
				return usagef("--data is required")
			}
			for _, l := range o.Lambdas {
				if !(l >= 0) {
					return usagef("--lambdas: %g is not a non-negative number", l)
				}
			}
			ctx, stop := signalContext()
			defer stop()
			rep, err := probe.Run(ctx, o, progressTo(cmd))
			if err != nil {
				return err
			}
			stdout := cmd.OutOrStdout()
			for i, l := range rep.Lambdas {
				fmt.Fprintf(stdout, "λ %-8g cross-validated accuracy %.2f%%\n", l, 100*rep.CVAcc[i])
			}
			note := ""
			if !rep.Converged {
				note = fmt.Sprintf(" (stopped at the iteration limit, %d)", rep.Iterations)
			}
			fmt.Fprintf(stdout, "linear probe of %s on %s: test accuracy %.2f%%, mean class accuracy %.2f%% (λ %g, train accuracy %.2f%%%s; "+
				"%d train / %d test shapes; features %.0fs, fit %.0fs)\n",
				backboneLabel(o.Backbone), o.Data, 100*rep.Acc, 100*rep.MeanClassAcc, rep.Lambda, 100*rep.TrainAcc, note,
				rep.Train, rep.Test, rep.ExtractS, rep.FitS)
			if jsonOut == "" {
				return nil
			}
			return atomicfile.WriteJSON(jsonOut, rep)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&o.Backbone, "backbone", "", "pre-trained backbone file (default: the shipped one)")
	fs.StringVar(&o.Data, "data", "", "data source (see above)")
	fs.IntVar(&o.Points, "points", 0, "points per cloud (default: the data set's reference)")
	fs.IntVar(&o.Groups, "groups", 0, "groups per cloud (default: the data set's reference)")
	fs.IntVar(&o.GroupSize, "group-size", 0, "points per group (default 32)")
	fs.IntVar(&o.Batch, "batch", 64, "shapes encoded at once")
	fs.IntVar(&o.Folds, "folds", 3, "cross-validation folds on the training features")
	fs.Float64SliceVar(&o.Lambdas, "lambdas", nil, "L2 strengths to choose from (default 0.1,0.01,0.001,1e-4,1e-5)")
	fs.Uint64Var(&o.Seed, "seed", 0, "seed of the cross-validation folds")
	fs.StringVar(&jsonOut, "json", "", "also write the result as JSON to this file")
	return cmd
}

// backboneLabel is what messages call a backbone flag's value.
func backboneLabel(path string) string {
	if path == "" {
		return "the shipped backbone"
	}
	return path
}
