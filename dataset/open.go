package dataset

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// SourceHelp describes the data-source strings Open accepts.
const SourceHelp = `data: "shapes" or "shapes:TRAIN:TEST" (built-in procedural shapes), a ModelNet40 folder (the 1024-point .npy
tree, Point-BERT's modelnet40_normal_resampled or its .dat caches), any <class>/<split>/<files>
folder (.npy .txt .xyz .ply .off .pcd), or scanobjectnn:OBJ_BG|OBJ_ONLY|PB_T50_RS:ROOT`

// OpenOptions controls Open.
type OpenOptions struct {
	// NumPoints per sample; 0 takes the source's reference count (see Reference).
	NumPoints int
	// Shapes is the procedural set's configuration for "shapes" sources (zero: the
	// default); "shapes:TRAIN:TEST" overrides its sizes.
	Shapes ShapesConfig
	// KeepFewer reads a stored cloud with fewer than NumPoints points as it is instead
	// of filling it up by resampling, so that no point is made up; PointCounts tells
	// what the clouds hold.
	KeepFewer bool
}

// Settings are the sizes the authors' configs use with a data source.
type Settings struct {
	// Kind is the benchmark whose configs these are: KindScanObjectNN or
	// KindModelNet40.
	Kind                      string
	Points, Groups, GroupSize int
	// Augment names the training augmentation (train.Augmentations).
	Augment string
}

// The benchmark kinds of Settings.Kind.
const (
	KindScanObjectNN = "scanobjectnn"
	KindModelNet40   = "modelnet40"
)

// Reference returns the authors' settings for a data source: ScanObjectNN is read at
// 2048 points in 128 groups of 32 with the scale-and-rotate augmentation
// (cfgs/finetune_scan_*.yaml); everything else, being ModelNet40 or like it (clouds
// normalised to the unit sphere), at 1024 points in 64 groups of 32 with
// scale-and-translate (ModelNet40's config).
func Reference(spec string) Settings {
	if strings.HasPrefix(spec, "scanobjectnn:") {
		return Settings{Kind: KindScanObjectNN, Points: 2048, Groups: 128, GroupSize: 32, Augment: "scan"}
	}
	return Settings{Kind: KindModelNet40, Points: 1024, Groups: 64, GroupSize: 32, Augment: "scale-translate"}
}

// Open opens one split ("train" or "test") of the data source spec, loaded into
// memory (training reads every sample each epoch). spec is "shapes",
// "shapes:TRAIN:TEST", "scanobjectnn:VARIANT:ROOT", or a folder in any ModelNet40
// layout or the generic <class>/<split>/<files> layout (see SourceHelp).
func Open(spec, split string, opts OpenOptions) (*InMemory, error) {
	if opts.NumPoints == 0 {
		opts.NumPoints = Reference(spec).Points
	}
	if opts.NumPoints < 1 {
		return nil, fmt.Errorf("data %q: %d points per cloud", spec, opts.NumPoints)
	}
	o := Options{NumPoints: opts.NumPoints, Fewer: FewerResample, More: MoreFirst}
	if opts.KeepFewer {
		o.Fewer = FewerKeep
	}
	var ds Dataset
	var err error
	switch {
	case spec == "":
		return nil, fmt.Errorf("no data source given")
	case spec == "shapes" || strings.HasPrefix(spec, "shapes:"):
		cfg := opts.Shapes
		if cfg == (ShapesConfig{}) {
			cfg = DefaultShapesConfig()
		}
		cfg.NumPoints = opts.NumPoints
		if spec != "shapes" {
			parts := strings.Split(spec, ":")
			var e1, e2 error
			if len(parts) == 3 {
				cfg.Train, e1 = strconv.Atoi(parts[1])
				cfg.Test, e2 = strconv.Atoi(parts[2])
			}
			if len(parts) != 3 || e1 != nil || e2 != nil || cfg.Train < 1 || cfg.Test < 1 {
				return nil, fmt.Errorf("data %q: want shapes:TRAIN:TEST with two positive sizes", spec)
			}
		}
		ds, err = NewShapes(cfg, split)
	case strings.HasPrefix(spec, "scanobjectnn:"):
		parts := strings.SplitN(spec, ":", 3)
		if len(parts) != 3 || parts[2] == "" {
			return nil, fmt.Errorf("data %q: want scanobjectnn:VARIANT:ROOT", spec)
		}
		return OpenScanObjectNN(parts[2], ScanVariant(parts[1]), split, o)
	default:
		if _, serr := os.Stat(spec); serr != nil {
			return nil, fmt.Errorf("data: %w", serr)
		}
		ds, err = OpenModelNet40(spec, split, o)
	}
	if err != nil {
		return nil, err
	}
	return Preload(ds, 0)
}

// OpenSplits opens the training and test splits of spec (Open).
func OpenSplits(spec string, opts OpenOptions) (train, test *InMemory, err error) {
	if train, err = Open(spec, "train", opts); err != nil {
		return nil, nil, err
	}
	if test, err = Open(spec, "test", opts); err != nil {
		return nil, nil, err
	}
	return train, test, nil
}

// ClassNames resolves a class list by name (modelnet40, scanobjectnn, shapes) or reads
// it from a file with one name per line.
func ClassNames(s string) ([]string, error) {
	switch s {
	case "modelnet40":
		return ModelNet40Classes, nil
	case "scanobjectnn":
		return ScanObjectNNClasses, nil
	case "shapes":
		return ShapeClasses, nil
	}
	raw, err := os.ReadFile(s)
	if err != nil {
		return nil, fmt.Errorf("classes: %w", err)
	}
	var out []string
	for _, l := range strings.Split(string(raw), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	if len(out) < 2 {
		return nil, fmt.Errorf("classes %s: need at least two class names, one per line", s)
	}
	return out, nil
}
