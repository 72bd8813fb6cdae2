package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/pointpeft/pointpeft/dataset"
	"github.com/pointpeft/pointpeft/peft"
	"github.com/pointpeft/pointpeft/plots"
	"github.com/pointpeft/pointpeft/train"
)

func init() { register(newEvalCmd) }

func newEvalCmd() *cobra.Command {
	var mf modelFlags
	var data, split, out string
	var vote int
	cmd := &cobra.Command{
		Use:   "eval --checkpoint FILE --data SOURCE [flags]",
		Short: "evaluate a fine-tuned model on a data set's test split",
		Long: `Evaluates a fine-tuned model on a data set's split: overall and mean class accuracy, and with
--out a confusion matrix PNG. In faithful Point-PEFT mode a shape's result depends on the others
in its batch (the authors' gather, reproduced); --batch 1 makes each shape independent.

` + modelHelp + `

` + dataset.SourceHelp,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if data == "" {
				return usagef("name the data with --data")
			}
			if vote < 1 {
				return usagef("--vote %d: want at least 1 (1: no voting)", vote)
			}
			if split != "train" && split != "test" {
				return usagef("--split %q: train or test", split)
			}
			p, err := mf.load(cmd, false)
			if err != nil {
				return err
			}
			ds, err := dataset.Open(data, split, dataset.OpenOptions{NumPoints: p.Points})
			if err != nil {
				return err
			}
			if len(ds.Classes()) != len(p.Classes) {
				return fmt.Errorf("the model knows %d classes, %s has %d", len(p.Classes), data, len(ds.Classes()))
			}
			if p.Mode == peft.Faithful && mf.opt.Batch > 1 {
				fmt.Fprintf(cmd.ErrOrStderr(), "note: faithful mode mixes the shapes of a batch of %d (the authors' gather); --batch 1 makes each shape independent\n", mf.opt.Batch)
			}
			ev, err := train.Evaluate(cmd.Context(), p.Net, ds, mf.opt.Batch, vote, 0)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s on %s (%s, %d shapes, %d points): overall accuracy %.2f%%, mean class accuracy %.2f%%\n",
				p.Kind, data, split, ds.Len(), p.Points, 100*ev.Acc, 100*ev.MeanClassAcc)
			if out == "" {
				return nil
			}
			if err := os.MkdirAll(out, 0o755); err != nil {
				return err
			}
			path := filepath.Join(out, "confusion.png")
			if err := plots.Confusion(path, p.Classes, ev.Confusion, fmt.Sprintf("%s: %.2f%%", p.Kind, 100*ev.Acc)); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "confusion matrix: %s\n", path)
			return nil
		},
	}
	fs := cmd.Flags()
	mf.bind(fs)
	fs.Lookup("batch").DefValue = "64"
	mf.opt.Batch = 64
	fs.StringVar(&data, "data", "", "data source")
	fs.StringVar(&split, "split", "test", "split to evaluate")
	fs.IntVar(&vote, "vote", 1, "views averaged (1: no voting)")
	fs.StringVar(&out, "out", "", "directory for confusion.png (none when empty)")
	return cmd
}
