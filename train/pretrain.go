package train

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pointpeft/pointpeft/internal/atomicfile"

	"gopkg.in/yaml.v3"

	"github.com/pointpeft/pointpeft/checkpoint"
	"github.com/pointpeft/pointpeft/dataset"
	"github.com/pointpeft/pointpeft/model"
	"github.com/pointpeft/pointpeft/nn"
	"github.com/pointpeft/pointpeft/optim"
	"github.com/pointpeft/pointpeft/plots"
	"github.com/pointpeft/pointpeft/tensor"
)

// MetaMAEConfig holds a pre-training run's model.MAEConfig as JSON.
const MetaMAEConfig = "mae_config"

// PretrainRun is a Point-MAE pre-training run (labels unused).
type PretrainRun struct {
	Dir      string
	Cfg      Config
	Model    *model.PointMAEPretrain
	Data     dataset.Dataset
	Log      *slog.Logger
	Progress io.Writer
	Resume   bool
	// TimeLimit stops the run at the first step that ends after it, as Run's does.
	TimeLimit time.Duration
	// KeepEvery, if positive, also keeps the encoder of every KeepEvery-th epoch as
	// backbone-epochNNN.safetensors (epochs counted from 1), for probing the backbone's
	// quality along the way.
	KeepEvery int
}

// Fit pre-trains, writing config.yaml, metrics.jsonl (train_loss is the Chamfer-L2
// loss), last.safetensors (with the optimizer state) and backbone.safetensors (the
// encoder under the fine-tuning names, what `finetune --backbone` reads) every epoch.
func (r *PretrainRun) Fit(ctx context.Context) ([]EpochMetrics, error) {
	st, err := prepare(r.Cfg, r.Dir, &r.Log, r.Model.Params())
	if err != nil {
		return nil, err
	}
	defer st.Close()
	opt := st.Optimizer()
	stopAt := deadline(r.TimeLimit)
	var history []EpochMetrics
	start := 0
	var from *partialEpoch
	if r.Resume {
		if start, history, from, err = r.restore(opt); err != nil {
			return nil, err
		}
		r.Log.Info("resuming pre-training", "dir", r.Dir, "next_epoch", start)
	} else {
		doc := map[string]any{"train": r.Cfg, "model": r.Model.Cfg, "mae": r.Model.MAE}
		out, err := yaml.Marshal(doc)
		if err != nil {
			return nil, err
		}
		if err := atomicfile.WriteBytes(filepath.Join(r.Dir, "config.yaml"), out); err != nil {
			return nil, err
		}
	}
	loader, err := dataset.NewLoader(r.Data, dataset.LoaderConfig{BatchSize: r.Cfg.BatchSize, Shuffle: true, DropLast: true,
		Seed: r.Cfg.Seed, Workers: r.Cfg.Workers, Transform: Augmentations[r.Cfg.Augment]})
	if err != nil {
		return nil, err
	}
	if loader.NumBatches() == 0 {
		return nil, fmt.Errorf("pre-training set has %d samples, fewer than one batch of %d", r.Data.Len(), r.Cfg.BatchSize)
	}
	sched, err := r.Cfg.schedule(loader.NumBatches())
	if err != nil {
		return nil, err
	}
	loop := epochLoop{dir: r.Dir, cfg: r.Cfg, progress: r.Progress, deadline: stopAt}
	for epoch := start; epoch < r.Cfg.Epochs; epoch++ {
		if epoch > start && past(stopAt) {
			return history, timeLimitError(r.Dir, nil, epoch)
		}
		m, part, err := runEpoch(ctx, loop, epoch, loader, st, sched, from, func(b *dataset.Batch) LossFunc {
			return MAELoss(r.Model, b.Points, b.Size, b.N)
		})
		from = nil
		if part != nil && part.stopped {
			if err := r.writeLast(epoch-1, opt, history, part); err != nil {
				return history, err
			}
			return history, timeLimitError(r.Dir, part, epoch)
		}
		if err != nil {
			return history, err
		}
		m.TrainAcc = 0
		history = append(history, m)
		r.Log.Info("pre-training epoch", "epoch", epoch, "lr", m.LR, "chamfer_l2", m.TrainLoss, "samples_per_s", m.SamplesPerS)
		if err := r.save(epoch, opt, history); err != nil {
			return history, err
		}
	}
	return history, nil
}

// MAELoss is pre-training's LossFunc: the Point-MAE model's Chamfer-L2 on a batch.
func MAELoss(m *model.PointMAEPretrain, points []float32, b, n int) LossFunc {
	return func(ctx *nn.Ctx) (*tensor.Tensor, int, error) {
		out, err := m.Forward(ctx, points, b, n, nil)
		if err != nil {
			return nil, 0, err
		}
		return out.Loss, 0, nil
	}
}

func (r *PretrainRun) save(epoch int, opt *optim.AdamW, history []EpochMetrics) error {
	if err := writeMetrics(r.Dir, history); err != nil {
		return err
	}
	if err := plots.TrainCurves(filepath.Join(r.Dir, "train_curves.png"), curves(history, "Point-MAE pre-training (Chamfer-L2)")); err != nil {
		return err
	}
	if err := ExportBackbone(r.Model, filepath.Join(r.Dir, "backbone.safetensors"), false); err != nil {
		return err
	}
	if r.KeepEvery > 0 && (epoch+1)%r.KeepEvery == 0 {
		if err := ExportBackbone(r.Model, filepath.Join(r.Dir, fmt.Sprintf("backbone-epoch%03d.safetensors", epoch+1)), false); err != nil {
			return err
		}
	}
	return r.writeLast(epoch, opt, history, nil)
}

// writeLast writes last.safetensors: weights, optimizer state, history, the last
// completed epoch and, for a run stopped mid-epoch, how far the next one got.
func (r *PretrainRun) writeLast(epoch int, opt *optim.AdamW, history []EpochMetrics, p *partialEpoch) error {
	sd := nn.StateDict(r.Model, false)
	cfg, err := json.Marshal(r.Model.Cfg)
	if err != nil {
		return err
	}
	mae, err := json.Marshal(r.Model.MAE)
	if err != nil {
		return err
	}
	hist, err := json.Marshal(history)
	if err != nil {
		return err
	}
	sd.Meta[MetaModelConfig], sd.Meta[MetaMAEConfig], sd.Meta[MetaEpoch], sd.Meta["result"] =
		string(cfg), string(mae), strconv.Itoa(epoch), string(hist)
	putOptimState(sd, opt)
	if err := putPartial(sd, p); err != nil {
		return err
	}
	return checkpoint.WriteSafetensors(filepath.Join(r.Dir, "last.safetensors"), sd)
}

func (r *PretrainRun) restore(opt *optim.AdamW) (int, []EpochMetrics, *partialEpoch, error) {
	path := filepath.Join(r.Dir, "last.safetensors")
	sd, err := checkpoint.ReadSafetensors(path)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("resume: %w", err)
	}
	epoch, err := strconv.Atoi(sd.Meta[MetaEpoch])
	if err != nil {
		return 0, nil, nil, fmt.Errorf("resume %s: no epoch recorded", path)
	}
	part, err := readPartial(sd, path)
	if err != nil {
		return 0, nil, nil, err
	}
	state, rest := splitOptimState(sd)
	if _, err := nn.LoadState(r.Model, rest); err != nil {
		return 0, nil, nil, fmt.Errorf("resume %s: %w", path, err)
	}
	if err := opt.LoadState(state); err != nil {
		return 0, nil, nil, fmt.Errorf("resume %s: %w", path, err)
	}
	var history []EpochMetrics
	if err := json.Unmarshal([]byte(sd.Meta["result"]), &history); err != nil {
		return 0, nil, nil, fmt.Errorf("resume %s: history: %w", path, err)
	}
	return epoch + 1, history, part, nil
}

// splitOptimState separates the optim.* tensors of a checkpoint (AdamW moments and step
// counts by parameter name) from the model's.
func splitOptimState(sd *checkpoint.StateDict) (map[string]optim.ParamState, *checkpoint.StateDict) {
	state := map[string]optim.ParamState{}
	rest := checkpoint.NewStateDict()
	for _, k := range sd.Keys {
		t := sd.Tensors[k]
		switch {
		case strings.HasPrefix(k, "optim.m."):
			st := state[k[8:]]
			st.M = t.F32
			state[k[8:]] = st
		case strings.HasPrefix(k, "optim.v."):
			st := state[k[8:]]
			st.V = t.F32
			state[k[8:]] = st
		case strings.HasPrefix(k, "optim.step."):
			st := state[k[11:]]
			if len(t.I64) == 1 {
				st.Step = t.I64[0]
			}
			state[k[11:]] = st
		default:
			rest.Set(k, t)
		}
	}
	return state, rest
}

// ExportBackbone writes the pre-trained encoder under the fine-tuning names (encoder.*,
// pos_embed.*, blocks.blocks.*, norm.*) with its architecture in the metadata, the file
// `finetune --backbone` takes. With half set, weights are stored as float16 (half the
// size; the loader converts back to float32).
func ExportBackbone(m *model.PointMAEPretrain, path string, half bool) error {
	full := nn.StateDict(m, false)
	sd := checkpoint.NewStateDict()
	for _, k := range full.Keys {
		if !strings.HasPrefix(k, "MAE_encoder.") {
			continue
		}
		t := full.Tensors[k]
		if half && t.DType == "F32" {
			t = &checkpoint.Tensor{DType: "F16", Shape: t.Shape, F32: t.F32}
		}
		sd.Set(strings.TrimPrefix(k, "MAE_encoder."), t)
	}
	cfg, err := json.Marshal(m.Cfg)
	if err != nil {
		return err
	}
	sd.Meta[checkpoint.MetaFormatKey] = checkpoint.MetaFormatValue
	sd.Meta[MetaModelConfig] = string(cfg)
	sd.Meta["content"] = "Point-MAE pre-trained encoder"
	return checkpoint.WriteSafetensors(path, sd)
}
