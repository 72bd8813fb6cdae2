package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/pointpeft/pointpeft/dataset"
	"github.com/pointpeft/pointpeft/plots"
	"github.com/pointpeft/pointpeft/train"
)

func init() {
	register(command{name: "eval", summary: "evaluate a fine-tuned model on a data set's test split", run: runEval})
}

func runEval(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("eval", "--checkpoint FILE --data PATH", `Evaluates a fine-tuned model (a run's best.safetensors, or an adapter.safetensors with the
--backbone it was trained on) on a data set's test split: overall and mean class accuracy,
and with --out a confusion matrix PNG.

`+dataHelp, stderr)
	ckpt := fs.String("checkpoint", "", "best.safetensors / last.safetensors of a run, or adapter.safetensors")
	backbone := fs.String("backbone", "", "the backbone an adapter file was trained on")
	data := fs.String("data", "", "data set")
	split := fs.String("split", "test", "split to evaluate")
	points := fs.Int("points", 1024, "points per cloud")
	vote := fs.Int("vote", 1, "views averaged (1: no voting)")
	batch := fs.Int("batch", 64, "batch size")
	out := fs.String("out", "", "directory for confusion.png (none when empty)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *ckpt == "" || *data == "" {
		fs.Usage()
		return fmt.Errorf("--checkpoint and --data are required")
	}
	m, err := train.LoadModel(*ckpt, *backbone)
	if err != nil {
		return err
	}
	ds, err := dataSpec{path: *data, numPoints: *points, shapes: dataset.DefaultShapesConfig()}.open(*split)
	if err != nil {
		return err
	}
	if len(ds.Classes()) != len(m.Classes) {
		return fmt.Errorf("the model knows %d classes, %s has %d", len(m.Classes), *data, len(ds.Classes()))
	}
	ev, err := train.Evaluate(context.Background(), m.Net, ds, *batch, *vote, 0)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s on %s (%s, %d shapes): overall accuracy %.2f%%, mean class accuracy %.2f%%\n",
		m.Method, *data, *split, ds.Len(), 100*ev.Acc, 100*ev.MeanClassAcc)
	if *out != "" {
		if err := os.MkdirAll(*out, 0o755); err != nil {
			return err
		}
		path := filepath.Join(*out, "confusion.png")
		if err := plots.Confusion(path, m.Classes, ev.Confusion, fmt.Sprintf("%s: %.2f%%", m.Method, 100*ev.Acc)); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "confusion matrix: %s\n", path)
	}
	return nil
}
