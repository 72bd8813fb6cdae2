package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/pointpeft/pointpeft/dataset"
	"github.com/pointpeft/pointpeft/pcio"
	"github.com/pointpeft/pointpeft/predict"
)

func init() { register(newPredictCmd) }

const modelHelp = `Models (--checkpoint): a run's best.safetensors; an adapter.safetensors with the --backbone it
was trained on (default: the shipped one); the authors' fine-tuned Point-PEFT .pth with the
pre-trained Point-MAE it started from (--backbone) and its memory bank (--bank, their .pt,
ours or .npy); an official fine-tuned Point-MAE / Point-BERT .pth classifier. .pth models need
--classes and their grouping (--groups, --group-size; the authors' ScanObjectNN models use
--groups 128 --points 2048). Loading is strict: tensors the model would ignore, or lacks, are an
error unless --allow-partial.`

// modelFlags binds what names a model and how to feed it.
type modelFlags struct {
	opt          predict.Options
	classes      string
	promptLayers []int
}

func (m *modelFlags) bind(fs *pflag.FlagSet) {
	fs.StringVar(&m.opt.Checkpoint, "checkpoint", "", "the model (see above)")
	fs.StringVar(&m.opt.Backbone, "backbone", "", "the backbone an adapter was trained on, or the pre-trained Point-MAE of the authors' Point-PEFT checkpoint (default: the shipped backbone)")
	fs.StringVar(&m.opt.Bank, "bank", "", "memory bank of the authors' Point-PEFT checkpoint (.pt, .safetensors or .npy)")
	fs.StringVar(&m.classes, "classes", "", "class names of a .pth model: modelnet40, scanobjectnn, shapes, or a file with one name per line")
	modeFlag(fs, &m.opt.Mode, "point-peft forward pass: faithful or fixed (default: a run's own; faithful for the authors' checkpoint)")
	fs.IntVar(&m.opt.Points, "points", 0, "points per cloud (default: 16 per group of the model: 1024 for 64 groups)")
	fs.IntVar(&m.opt.Groups, "groups", 64, "groups per cloud (.pth models)")
	fs.IntVar(&m.opt.GroupSize, "group-size", 32, "points per group (.pth models)")
	fs.IntVar(&m.opt.PriorGroups, "prior-groups", 64, "groups of the authors' prior encoder")
	fs.IntVar(&m.opt.PriorGroupSize, "prior-group-size", 32, "points per group of the authors' prior encoder")
	fs.IntSliceVar(&m.promptLayers, "prompt-layers", nil, "prompt layers of the authors' checkpoint (default: the first half of the blocks)")
	fs.BoolVar(&m.opt.AllowPartial, "allow-partial", false, "load a checkpoint with left-over or missing tensors on purpose (they are listed)")
	fs.IntVar(&m.opt.Batch, "batch", 32, "clouds per forward pass (faithful Point-PEFT: always 1)")
}

// load builds the predictor and says what it skipped.
func (m *modelFlags) load(cmd *cobra.Command, normalize bool) (*predict.Predictor, error) {
	if m.opt.Checkpoint == "" {
		return nil, usagef("name a model with --checkpoint")
	}
	if m.opt.Batch < 1 {
		return nil, usagef("--batch %d: want at least 1", m.opt.Batch)
	}
	if m.opt.Points < 0 {
		return nil, usagef("--points %d: want a positive count", m.opt.Points)
	}
	if m.classes != "" {
		c, err := dataset.ClassNames(m.classes)
		if err != nil {
			return nil, err
		}
		m.opt.Classes = c
	}
	m.opt.PromptLayers, m.opt.Normalize = m.promptLayers, normalize
	p, err := predict.Load(m.opt)
	if err != nil {
		return nil, err
	}
	if len(p.Skipped) > 0 {
		fmt.Fprintf(cmd.ErrOrStderr(), "warning: partial load of %s, %d tensors skipped:\n  %s\n", m.opt.Checkpoint, len(p.Skipped), strings.Join(p.Skipped, "\n  "))
	}
	return p, nil
}

func newPredictCmd() *cobra.Command {
	var mf modelFlags
	var noNormalize, asJSON bool
	var logitsOut string
	var topK int
	cmd := &cobra.Command{
		Use:   "predict --checkpoint FILE [flags] FILE...",
		Short: "classify point-cloud or mesh files",
		Long: `Classifies point clouds (.npy .txt .xyz .ply .pcd) and meshes (.off .ply with faces) and prints
each file's class with its top probabilities and how it was sampled. A cloud that already has the
model's point count is used as stored; a larger one is reduced by farthest point sampling, a
smaller one filled by drawing its points again; meshes are sampled on their surface. Clouds are
normalised to the unit sphere unless --no-normalize. In faithful Point-PEFT mode each file is
predicted alone, since the authors' forward pass mixes the samples of a batch. Every file is
read and checked before anything is printed or written.

` + modelHelp,
		Args: minArgs(1, "at least one file to classify"),
		RunE: func(cmd *cobra.Command, files []string) error {
			if topK < 1 {
				return usagef("--top %d: want at least 1", topK)
			}
			p, err := mf.load(cmd, !noNormalize)
			if err != nil {
				return err
			}
			preds, err := p.PredictFiles(files, topK)
			if err != nil {
				return err
			}
			if logitsOut != "" {
				var all []float32
				for _, pr := range preds {
					all = append(all, pr.Logits...)
				}
				if err := pcio.WriteNPY(logitsOut, all, []int{len(preds), len(p.Classes)}); err != nil {
					return err
				}
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(preds)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "model: %s, %d points per cloud\n", p.Kind, p.Points)
			for _, pr := range preds {
				var top []string
				for _, t := range pr.Top {
					top = append(top, fmt.Sprintf("%s %.1f%%", t.Class, 100*t.Prob))
				}
				fmt.Fprintf(out, "%s: %s (%.1f%%)   top: %s   [%s]\n", pr.File, pr.Class, 100*pr.Prob, strings.Join(top, ", "), pr.Sampler)
			}
			return nil
		},
	}
	fs := cmd.Flags()
	mf.bind(fs)
	fs.BoolVar(&noNormalize, "no-normalize", false, "keep coordinates as they are (ScanObjectNN-style data is not normalised)")
	fs.BoolVar(&asJSON, "json", false, "print JSON")
	fs.StringVar(&logitsOut, "logits", "", "also write the raw logits [files, classes] to this .npy file")
	fs.IntVar(&topK, "top", 5, "probabilities to show per file")
	return cmd
}
