package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/pointpeft/pointpeft/dataset"
)

// dataSpec says where a command's data comes from: "shapes" (the built-in procedural
// set), "scanobjectnn:VARIANT:ROOT" (h5 files), or a folder in any ModelNet40 layout or
// the generic <class>/<split>/<files> layout.
type dataSpec struct {
	path      string
	numPoints int
	shapes    dataset.ShapesConfig
}

const dataHelp = `data: "shapes" or "shapes:TRAIN:TEST" (built-in procedural shapes), a ModelNet40 folder (the 1024-point .npy
tree, Point-BERT's modelnet40_normal_resampled or its .dat caches), any <class>/<split>/<files>
folder (.npy .txt .xyz .ply .off .pcd), or scanobjectnn:OBJ_BG|OBJ_ONLY|PB_T50_RS:ROOT`

// open opens one split, loaded into memory (data sets here fit easily; training
// reads every sample each epoch).
func (d dataSpec) open(split string) (dataset.Dataset, error) {
	opts := dataset.Options{NumPoints: d.numPoints, Fewer: dataset.FewerResample, More: dataset.MoreFirst}
	var ds dataset.Dataset
	var err error
	switch {
	case d.path == "shapes" || strings.HasPrefix(d.path, "shapes:"):
		cfg := d.shapes
		cfg.NumPoints = d.numPoints
		if d.path != "shapes" {
			if _, serr := fmt.Sscanf(d.path, "shapes:%d:%d", &cfg.Train, &cfg.Test); serr != nil || cfg.Train < 1 || cfg.Test < 1 {
				return nil, fmt.Errorf("data %q: want shapes:TRAIN:TEST with two positive sizes", d.path)
			}
		}
		ds, err = dataset.NewShapes(cfg, split)
	case strings.HasPrefix(d.path, "scanobjectnn:"):
		parts := strings.SplitN(d.path, ":", 3)
		if len(parts) != 3 {
			return nil, fmt.Errorf("data %q: want scanobjectnn:VARIANT:ROOT", d.path)
		}
		return dataset.OpenScanObjectNN(parts[2], dataset.ScanVariant(parts[1]), split, opts)
	default:
		if _, serr := os.Stat(d.path); serr != nil {
			return nil, fmt.Errorf("data: %w", serr)
		}
		ds, err = dataset.OpenModelNet40(d.path, split, opts)
	}
	if err != nil {
		return nil, err
	}
	return dataset.Preload(ds, 0)
}

// openSplits opens the training and test splits.
func (d dataSpec) openSplits() (train, test dataset.Dataset, err error) {
	if train, err = d.open("train"); err != nil {
		return nil, nil, err
	}
	if test, err = d.open("test"); err != nil {
		return nil, nil, err
	}
	return train, test, nil
}

// signalContext is cancelled by the first Ctrl-C (or SIGTERM); a second one kills.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// newLogger logs through slog as text to w.
func newLogger(w io.Writer, verbose bool) *slog.Logger {
	level := slog.LevelInfo
	if !verbose {
		level = slog.LevelWarn
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}
