package main

import (
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pointpeft/pointpeft/bench"
	"github.com/pointpeft/pointpeft/peft"
)

func init() { register(newBenchCmd) }

func newBenchCmd() *cobra.Command {
	so := bench.SuiteOptions{Options: bench.Options{Mode: peft.Faithful}}
	var one string
	var points int
	cmd := &cobra.Command{
		Use:   "bench [flags]",
		Short: "benchmark training and inference against the PyTorch reference",
		Long: `Measures samples/s and peak RSS of each configuration, ours and the PyTorch reference's
(tools/bench/reference.py with Debian's torch 1.13) on the same shapes, batch and thread
count, each in its own process, and prints a table; --out writes it as markdown.
Configurations: ` + strings.Join(bench.Names(), ", ") + `.
Run it from the repository root on an idle machine.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if one != "" {
				return bench.One(one, points, so.Options, cmd.OutOrStdout())
			}
			exe, err := os.Executable()
			if err != nil {
				return err
			}
			so.Command = strings.Join(append([]string{"pointpeft"}, os.Args[min(1, len(os.Args)):]...), " ")
			// A child measures one configuration in a fresh process (its own peak RSS).
			so.Child = func(name string, points int, o bench.Options) []string {
				return []string{exe, "bench", "--one", name, "--points", strconv.Itoa(points), "--batch", strconv.Itoa(o.Batch),
					"--steps", strconv.Itoa(o.Steps), "--warmup", strconv.Itoa(o.Warmup), "--threads", strconv.Itoa(o.Threads),
					"--mode", string(o.Mode)}
			}
			ctx, stop := signalContext()
			defer stop()
			return bench.Suite(ctx, so, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&so.Configs, "configs", "all", "configurations: all or a comma-separated list")
	fs.IntVar(&so.Batch, "batch", 32, "batch size")
	fs.IntVar(&so.Steps, "steps", 5, "timed steps (the median is reported)")
	fs.IntVar(&so.Warmup, "warmup", 1, "untimed warm-up steps")
	fs.IntVar(&so.Threads, "threads", runtime.NumCPU(), "threads on both sides")
	modeFlag(fs, &so.Mode, "Point-PEFT mode on both sides: faithful (the authors' released model) or fixed")
	fs.StringVar(&so.Reference, "reference", "auto", "auto: run the reference when torch imports; skip: ours only")
	fs.StringVar(&so.Ref.Python, "python", "/usr/bin/python3", "Python with torch for the reference")
	fs.StringVar(&so.Ref.Script, "reference-script", filepath.Join("tools", "bench", "reference.py"), "the reference script")
	fs.StringVar(&so.Ref.Variant, "reference-variant", "oracle", "oracle: the reference with the cp feature under no_grad and matrix-product propagation; authors: both as the released code does them (spec App. B.4-5)")
	fs.BoolVar(&so.Scaling, "scaling", false, "also sweep batch size (8-64) and point count (1k-8k) for "+bench.ScalingConfig)
	fs.IntVar(&so.ScalingBatch, "scaling-batch", 4, "batch size of the point-count sweep (a Point-PEFT step on 8192 points needs about 0.25 GiB per sample)")
	fs.StringVar(&so.Out, "out", filepath.Join("docs", "performance.md"), "markdown report ('' for none); the scaling PNG goes next to it")
	fs.StringVar(&one, "one", "", "internal: measure one configuration in this process and print its JSON result")
	fs.IntVar(&points, "points", 0, "with --one: points per cloud, groups scaled to points/16 (0: the configuration's)")
	return cmd
}
