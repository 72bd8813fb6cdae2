package main

import (
	"io"
	"log/slog"

	"github.com/pointpeft/pointpeft/dataset"
	"github.com/pointpeft/pointpeft/model"
	"github.com/pointpeft/pointpeft/peft"
	"github.com/pointpeft/pointpeft/train"
)

// buildModel loads the backbone and builds the spec's method on it; for Point-PEFT it
// loads the memory bank, takes the one of the run resumed in resumeDir, or builds it
// from the training split.
func buildModel(spec runSpec, trainSet dataset.Dataset, resumeDir string, log *slog.Logger, progress io.Writer) (*train.Model, error) {
	method := peft.Method(spec.Method)
	if _, err := method.Trains(""); err != nil {
		return nil, err
	}
	classes := trainSet.Classes()
	bb, rep, err := train.LoadBackbone(spec.Backbone, len(classes), spec.Groups, spec.GroupSize)
	if err != nil {
		return nil, err
	}
	log.Info("backbone loaded", "file", spec.Backbone, "tensors", len(rep.Loaded), "new", len(rep.Missing), "ignored", len(rep.Unexpected))
	var bank *peft.MemoryBank
	if method == peft.MethodPointPEFT {
		spec.PEFT = spec.PEFT.Resolve(bb.Cfg.Depth)
		if err := spec.PEFT.Validate(bb.Cfg.Depth, bb.Cfg.TransDim); err != nil {
			return nil, err
		}
		if bank, err = memoryBank(spec, bb, trainSet, resumeDir, progress); err != nil {
			return nil, err
		}
	}
	m, err := train.NewModel(bb, method, spec.PEFT, classes, bank, spec.Train.Seed)
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

// memoryBank loads spec.Bank, or the bank of the run being resumed in resumeDir (when
// not empty and the run has saved one), or builds a bank from the training split.
func memoryBank(spec runSpec, bb *model.PointTransformer, trainSet dataset.Dataset, resumeDir string, progress io.Writer) (*peft.MemoryBank, error) {
	hash := peft.BackboneHash(bb)
	if spec.Bank != "" {
		return peft.LoadBank(spec.Bank, bb.Cfg.TransDim, hash)
	}
	if resumeDir != "" {
		if bank, err := train.RunBank(resumeDir, bb.Cfg.TransDim); err != nil || bank != nil {
			return bank, err
		}
	}
	prior, err := peft.NewPriorEncoder(bb, spec.PEFT.PriorGroups, spec.PEFT.PriorGroupSize)
	if err != nil {
		return nil, err
	}
	return buildBank(prior, trainSet, spec.Points, map[string]string{"backbone": hash, "dataset": spec.Data, "split": "train"}, progress)
}

func buildBank(prior *peft.PriorEncoder, ds dataset.Dataset, points int, meta map[string]string, progress io.Writer) (*peft.MemoryBank, error) {
	return peft.BuildBank(prior, train.BankSource(ds), points, 64, meta, progressFunc(progress, ds.Len(), "memory bank", "shapes"))
}
