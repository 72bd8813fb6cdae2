package main

import (
	"fmt"
	"io"
	"path/filepath"

	"github.com/pointpeft/pointpeft/train"
)

func init() {
	register(command{name: "plot", summary: "draw a run's metrics.jsonl as training curves (PNG)", run: runPlot})
}

func runPlot(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("plot", "RUN_DIR", `Draws RUN_DIR/metrics.jsonl (written by finetune or pretrain) as a PNG of loss, accuracy and
learning rate per epoch.`, stderr)
	out := fs.String("out", "", "output PNG (default RUN_DIR/train_curves.png)")
	title := fs.String("title", "", "plot title (default: the run directory's name)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errUsage
	}
	dir := fs.Arg(0)
	if *out == "" {
		*out = filepath.Join(dir, "train_curves.png")
	}
	if *title == "" {
		*title = filepath.Base(dir)
	}
	if err := train.PlotRun(dir, *out, *title); err != nil {
		return err
	}
	fmt.Fprintln(stdout, *out)
	return nil
}
