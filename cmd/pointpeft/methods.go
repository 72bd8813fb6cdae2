package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	// The peer methods register themselves with peft when imported.
	_ "github.com/pointpeft/pointpeft/peft/dapt"
	_ "github.com/pointpeft/pointpeft/peft/idpt"
	_ "github.com/pointpeft/pointpeft/peft/pointgst"
	_ "github.com/pointpeft/pointpeft/peft/pointlora"

	"github.com/pointpeft/pointpeft/train"
)

func init() { register(newMethodsCmd) }

func newMethodsCmd() *cobra.Command {
	var backbone string
	var classes, groups, groupSize int
	cmd := &cobra.Command{
		Use:   "methods [--backbone FILE]",
		Short: "list the fine-tuning methods with what each trains on a backbone",
		Long: `Lists every fine-tuning method (the --method values of finetune), its modes, and the
parameters it trains on the chosen backbone (the shipped one by default) with a head of
--classes classes; then the recipe finetune starts each method from, by kind of data set.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rows, err := train.MethodShares(backbone, classes, groups, groupSize)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "method\tmodes\ttrainable\tof\tshare\twhat it trains")
			for _, r := range rows {
				modes := make([]string, len(r.Modes))
				for i, m := range r.Modes {
					modes[i] = string(m)
				}
				fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%.2f%%\t%s\n", r.Method, strings.Join(modes, ", "), r.Trainable, r.Total,
					100*float64(r.Trainable)/float64(r.Total), r.Summary)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "\nrecipes finetune starts from (flags and --config override any value):")
			tw = tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			for _, r := range rows {
				fmt.Fprintf(tw, "  %s\t%s\n", r.Method, r.Recipe)
			}
			return tw.Flush()
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&backbone, "backbone", "", "pre-trained backbone (default: the shipped one)")
	fs.IntVar(&classes, "classes", 40, "classes of the head (40: ModelNet40, 15: ScanObjectNN)")
	fs.IntVar(&groups, "groups", 64, "groups per cloud")
	fs.IntVar(&groupSize, "group-size", 32, "points per group")
	return cmd
}
