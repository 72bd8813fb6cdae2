package train

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pointpeft/pointpeft/dataset"
	"github.com/pointpeft/pointpeft/model"
	"github.com/pointpeft/pointpeft/peft"
	"github.com/pointpeft/pointpeft/progress"
)

// RunOptions say how a run (fine-tuning or pre-training) is carried out; its spec
// says what it is.
type RunOptions struct {
	// Dir is the run directory (see DefaultRunDir).
	Dir string
	// Resume continues the run in Dir; Overwrite replaces the run files a non-empty Dir
	// holds. Without either, a non-empty Dir is an error.
	Resume, Overwrite bool
	// TimeLimit, if positive, stops the run cleanly (see Run.TimeLimit).
	TimeLimit time.Duration
	Log       *slog.Logger
	// Progress receives the resolved settings, the parameter summary and the progress
	// bars; nil shows none.
	Progress io.Writer
}

// DefaultRunDir is runs/<name>-<local time>, a new directory for each run.
func DefaultRunDir(name string) string {
	return filepath.Join("runs", name+"-"+time.Now().Format("20060102-150405"))
}

// Finetune resolves and checks spec, opens its data, builds its model (loading the
// backbone, and for point-peft the memory bank) and trains it in opt.Dir. Every setting
// and the run directory are checked before anything is written. The model is returned
// with the result, also when the run stops early.
func Finetune(ctx context.Context, spec Spec, opt RunOptions) (*Result, *Model, error) {
	spec, notes := spec.Resolve()
	if opt.Dir == "" {
		return nil, nil, fmt.Errorf("no run directory")
	}
	if err := spec.Validate(); err != nil {
		return nil, nil, err
	}
	if err := CheckRunDir(opt.Dir, opt.Resume, opt.Overwrite); err != nil {
		return nil, nil, err
	}
	spec, trainSet, testSet, dataNotes, err := OpenRunData(spec)
	if err != nil {
		return nil, nil, err
	}
	if opt.Progress != nil {
		for _, n := range append(notes, dataNotes...) {
			fmt.Fprintln(opt.Progress, "note:", n)
		}
		if err := spec.Write(opt.Progress); err != nil {
			return nil, nil, err
		}
	}
	var fit, val dataset.Dataset = trainSet, nil
	var split *dataset.Split
	if spec.Val > 0 {
		if split, err = dataset.NewSplit(trainSet, spec.Val, spec.ValSeed); err != nil {
			return nil, nil, err
		}
		a, b, err := split.Apply(trainSet)
		if err != nil {
			return nil, nil, err
		}
		fit, val = a, b
		if spec.Train.FPSPool > 0 {
			if val, err = fpsEval(b, spec.Points); err != nil {
				return nil, nil, fmt.Errorf("validation split: %w", err)
			}
		}
	}
	if fit.Len() < spec.Train.BatchSize {
		return nil, nil, fmt.Errorf("batch size %d is larger than the %d training samples of %s", spec.Train.BatchSize, fit.Len(), spec.Data)
	}
	resumeDir := ""
	if opt.Resume {
		resumeDir = opt.Dir
	}
	// The memory bank comes from the part trained on: validation shapes stay unseen.
	m, err := NewRunModel(spec, fit, resumeDir, opt.Log, opt.Progress)
	if err != nil {
		return nil, nil, err
	}
	if opt.Overwrite {
		if err := ClearRunDir(opt.Dir); err != nil {
			return nil, m, err
		}
	}
	if split != nil {
		if err := os.MkdirAll(opt.Dir, 0o755); err != nil {
			return nil, m, err
		}
		if err := split.Save(filepath.Join(opt.Dir, "split.json")); err != nil {
			return nil, m, err
		}
	}
	run := &Run{Dir: opt.Dir, Cfg: spec.Train, Model: m, Train: fit, Val: val, Test: testSet, Log: opt.Log, Progress: opt.Progress,
		Resume: opt.Resume, Spec: &spec, TimeLimit: opt.TimeLimit, Points: spec.Points}
	res, err := run.Fit(ctx)
	return res, m, err
}

// runFiles are the files fine-tuning and pre-training runs write (ClearRunDir).
var runFiles = []string{"config.yaml", "metrics.jsonl", "train_curves.png", "confusion.png", "last.safetensors",
	"best.safetensors", "adapter.safetensors", "split.json", "backbone.safetensors", "backbone-epoch*.safetensors"}

// CheckRunDir refuses a run directory that holds anything unless the run resumes (then
// it must hold a run) or overwrites it.
func CheckRunDir(dir string, resume, overwrite bool) error {
	if resume && overwrite {
		return fmt.Errorf("run directory %s: --resume and --overwrite exclude each other", dir)
	}
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if resume {
			return fmt.Errorf("resume: %s does not exist", dir)
		}
		return nil
	case err != nil:
		return fmt.Errorf("run directory: %w", err)
	case resume:
		if _, err := os.Stat(filepath.Join(dir, "last.safetensors")); err != nil {
			return fmt.Errorf("resume: %s holds no last.safetensors to continue from", dir)
		}
	case len(entries) > 0 && !overwrite:
		return fmt.Errorf("run directory %s is not empty: continue it with --resume, replace its run files with --overwrite, or choose another --out", dir)
	}
	return nil
}

// ClearRunDir removes the run files in dir (so that no stale adapter or checkpoint
// stays beside a new run's), leaving anything else.
func ClearRunDir(dir string) error {
	for _, pat := range runFiles {
		matches, err := filepath.Glob(filepath.Join(dir, pat))
		if err != nil {
			return err
		}
		for _, f := range matches {
			if err := os.Remove(f); err != nil {
				return fmt.Errorf("overwrite: %w", err)
			}
		}
	}
	return nil
}

// NewRunModel loads spec's backbone and builds its method on it; for Point-PEFT it
// loads spec.Bank, takes the bank of the run resumed in resumeDir (when not empty and
// the run saved one), or builds one from the training split. progress, if not nil,
// gets the bank's progress bar and the parameter summary.
func NewRunModel(spec Spec, trainSet dataset.Dataset, resumeDir string, log *slog.Logger, progress io.Writer) (*Model, error) {
	method := peft.Method(spec.Method)
	if _, err := method.Trains(""); err != nil {
		return nil, err
	}
	classes := trainSet.Classes()
	bb, rep, err := LoadBackbone(spec.Backbone, len(classes), spec.Groups, spec.GroupSize)
	if err != nil {
		return nil, err
	}
	if err := checkUnused(rep, backboneName(spec.Backbone)); err != nil {
		if !spec.AllowPartial {
			return nil, err
		}
		if progress != nil {
			fmt.Fprintf(progress, "warning: partial load of %s, unused: %s\n", backboneName(spec.Backbone), strings.Join(Unused(rep), ", "))
		}
	}
	if log != nil {
		log.Info("backbone loaded", "file", backboneName(spec.Backbone), "tensors", len(rep.Loaded), "new", len(rep.Missing), "ignored", len(rep.Unexpected))
	}
	var bank *peft.MemoryBank
	if method == peft.MethodPointPEFT {
		spec.PEFT = spec.PEFT.Resolve(bb.Cfg.Depth)
		if err := spec.PEFT.Validate(bb.Cfg.Depth, bb.Cfg.TransDim); err != nil {
			return nil, err
		}
		if bank, err = runBank(spec, bb, trainSet, resumeDir, progress); err != nil {
			return nil, err
		}
	}
	m, err := NewModel(bb, method, spec.PEFT, classes, bank, spec.Train.Seed)
	if err != nil {
		return nil, err
	}
	if progress != nil {
		if err := peft.Summarize(m.Net.Params()).Write(progress); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// runBank is the memory bank policy of NewRunModel.
func runBank(spec Spec, bb *model.PointTransformer, trainSet dataset.Dataset, resumeDir string, progress io.Writer) (*peft.MemoryBank, error) {
	hash := peft.BackboneHash(bb)
	if spec.Bank != "" {
		return peft.LoadBank(spec.Bank, bb.Cfg.TransDim, hash)
	}
	if resumeDir != "" {
		if bank, err := RunBank(resumeDir, bb.Cfg.TransDim); err != nil || bank != nil {
			return bank, err
		}
	}
	prior, err := peft.NewPriorEncoder(bb, spec.PEFT.PriorGroups, spec.PEFT.PriorGroupSize)
	if err != nil {
		return nil, err
	}
	if spec.Train.FPSPool > 0 {
		// The clouds are read at the pool's size; the bank sees what evaluation sees.
		if trainSet, err = dataset.NewFPSView(trainSet, spec.Points); err != nil {
			return nil, err
		}
	}
	return BuildBank(prior, trainSet, spec.Points, map[string]string{"backbone": hash, "dataset": spec.Data, "split": "train"}, progress)
}

// BuildBank runs the prior encoder over every cloud of ds (points each) and returns
// the memory bank, with meta recorded in it; w, if not nil, shows its progress.
func BuildBank(prior *peft.PriorEncoder, ds dataset.Dataset, points int, meta map[string]string, w io.Writer) (*peft.MemoryBank, error) {
	bar := progress.New(w, "memory bank", ds.Len(), "shapes")
	defer bar.Done()
	done := 0
	return peft.BuildBank(prior, BankSource(ds), points, 64, meta, func(n int) {
		bar.Add(n - done)
		done = n
	})
}
