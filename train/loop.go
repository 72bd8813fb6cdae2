package train

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pointpeft/pointpeft/internal/atomicfile"

	"gopkg.in/yaml.v3"

	"github.com/pointpeft/pointpeft/checkpoint"
	"github.com/pointpeft/pointpeft/dataset"
	"github.com/pointpeft/pointpeft/nn"
	"github.com/pointpeft/pointpeft/optim"
	"github.com/pointpeft/pointpeft/peft"
	"github.com/pointpeft/pointpeft/plots"
	"github.com/pointpeft/pointpeft/progress"
	"github.com/pointpeft/pointpeft/tensor"
)

// Run is one fine-tuning run: a model, its data, a recipe and the directory its files
// go to.
type Run struct {
	Dir         string
	Cfg         Config
	Model       *Model
	Train, Test dataset.Dataset
	// Val, if set, is evaluated every epoch too (val_acc in metrics.jsonl), and the best
	// epoch (best.safetensors, Result.Best) is the one with the best validation
	// accuracy, so that nothing is chosen on the test set. It is usually carved from the
	// training set with dataset.NewSplit, and Train is then the split's other part.
	Val dataset.Dataset
	Log *slog.Logger
	// Progress receives the progress bar; nil shows none.
	Progress io.Writer
	// Resume continues from Dir's last.safetensors instead of starting afresh.
	Resume bool
	// TimeLimit, if positive, stops the run at the first step that ends after it: the
	// run's state, mid-epoch included, goes to last.safetensors, Fit returns
	// ErrTimeLimit, and Resume continues with the numbers an uninterrupted run has.
	TimeLimit time.Duration
	// Spec, if set, is saved in config.yaml under "spec": what Finetune needs to
	// rebuild the run (data and backbone paths, settings).
	Spec *Spec
	// Points is how many points per cloud the model sees when Cfg.FPSPool resamples
	// the training clouds: each batch's pool is thinned to it (Spec.Points; unused
	// without a pool). Train's clouds must then hold at least Cfg.FPSPool points; Val
	// and Test are evaluated as they are (OpenRunData reduces them to the FPS of Points).
	Points int
}

// EpochMetrics is one line of metrics.jsonl.
type EpochMetrics struct {
	Epoch        int     `json:"epoch"`
	LR           float64 `json:"lr"`
	TrainLoss    float64 `json:"train_loss"`
	TrainAcc     float64 `json:"train_acc"`
	TestAcc      float64 `json:"test_acc"`
	MeanClassAcc float64 `json:"mean_class_acc"`
	// ValAcc and ValMeanClassAcc are on Run.Val; absent without one.
	ValAcc          *float64 `json:"val_acc,omitempty"`
	ValMeanClassAcc *float64 `json:"val_mean_class_acc,omitempty"`
	GradNorm        float64  `json:"grad_norm"`
	Seconds         float64  `json:"seconds"`
	SamplesPerS     float64  `json:"samples_per_s"`
}

// Result summarises a finished run.
type Result struct {
	Best    EpochMetrics // the epoch with the best validation accuracy (test accuracy without Run.Val)
	Last    EpochMetrics
	History []EpochMetrics
	// Confusion is the best epoch's confusion matrix (rows: true class).
	Confusion [][]int
}

// ErrInterrupted is returned when the context is cancelled (Ctrl-C, SIGTERM): the run
// stops after the current step and saves its state as a time limit does, so that
// --resume continues with the numbers of an uninterrupted run.
var ErrInterrupted = errors.New("interrupted")

// ErrTimeLimit is returned when a run's TimeLimit has passed: its state was saved after
// the last step, and resuming continues exactly where it stopped.
var ErrTimeLimit = errors.New("time limit reached")

// partialEpoch is how far an epoch cut short by the time limit got: saved under
// MetaPartial in last.safetensors so that a resumed run finishes that epoch with the
// same batches, steps and totals.
type partialEpoch struct {
	Epoch    int     `json:"epoch"`
	Steps    int     `json:"steps"` // completed steps of Epoch
	LossSum  float64 `json:"loss_sum"`
	Correct  int     `json:"correct"`
	Seen     int     `json:"seen"`
	Seconds  float64 `json:"seconds"`
	GradNorm float64 `json:"grad_norm"`
	// stopped: the epoch was cut short (steps or its evaluation still to do), by a
	// cancelled context (interrupted) or the time limit.
	stopped, interrupted bool
}

// MetaPartial records a partial epoch (JSON) in last.safetensors.
const MetaPartial = "partial_epoch"

// deadline is when a run that starts now must stop (zero: never).
func deadline(limit time.Duration) time.Time {
	if limit <= 0 {
		return time.Time{}
	}
	return time.Now().Add(limit)
}

func past(t time.Time) bool { return !t.IsZero() && time.Now().After(t) }

// readPartial returns the partial epoch recorded in a checkpoint, if any.
func readPartial(sd *checkpoint.StateDict, path string) (*partialEpoch, error) {
	raw, ok := sd.Meta[MetaPartial]
	if !ok {
		return nil, nil
	}
	var p partialEpoch
	if err := json.Unmarshal([]byte(raw), &p); err != nil {
		return nil, fmt.Errorf("resume %s: partial epoch: %w", path, err)
	}
	return &p, nil
}

// putPartial records p (nil: none) in a checkpoint's metadata.
func putPartial(sd *checkpoint.StateDict, p *partialEpoch) error {
	if p == nil {
		return nil
	}
	js, err := json.Marshal(p)
	if err != nil {
		return err
	}
	sd.Meta[MetaPartial] = string(js)
	return nil
}

// timeLimitError says where a run stopped and how to go on.
func timeLimitError(dir string, p *partialEpoch, next int) error {
	if p != nil && p.interrupted {
		return fmt.Errorf("%w after epoch %d step %d, state saved; continue with --resume (%s)", ErrInterrupted, p.Epoch, p.Steps, dir)
	}
	if p != nil {
		return fmt.Errorf("%w after epoch %d step %d; continue with --resume (%s)", ErrTimeLimit, p.Epoch, p.Steps, dir)
	}
	return fmt.Errorf("%w before epoch %d; continue with --resume (%s)", ErrTimeLimit, next, dir)
}

// Fit trains and evaluates every epoch, writing the run's files as it goes.
func (r *Run) Fit(ctx context.Context) (*Result, error) {
	net := r.Model.Net
	resample, err := r.resample()
	if err != nil {
		return nil, err
	}
	st, err := prepare(r.Cfg, r.Dir, &r.Log, net.Params())
	if err != nil {
		return nil, err
	}
	defer st.Close()
	opt := st.Optimizer()
	stopAt := deadline(r.TimeLimit)
	res := &Result{}
	start := 0
	var from *partialEpoch
	if r.Resume {
		if start, from, err = r.restore(opt, res); err != nil {
			return nil, err
		}
		r.Log.Info("resuming", "dir", r.Dir, "next_epoch", start)
	} else if err := r.writeConfig(); err != nil {
		return nil, err
	}
	loader, err := dataset.NewLoader(r.Train, dataset.LoaderConfig{BatchSize: r.Cfg.BatchSize, Shuffle: true, DropLast: true,
		Seed: r.Cfg.Seed, Workers: r.Cfg.Workers, Resample: resample, Transform: Augmentations[r.Cfg.Augment]})
	if err != nil {
		return nil, err
	}
	steps := loader.NumBatches()
	if steps == 0 {
		return nil, fmt.Errorf("training set has %d samples, fewer than one batch of %d", r.Train.Len(), r.Cfg.BatchSize)
	}
	sched, err := r.Cfg.schedule(steps)
	if err != nil {
		return nil, err
	}
	loop := epochLoop{dir: r.Dir, cfg: r.Cfg, progress: r.Progress, deadline: stopAt}
	for epoch := start; epoch < r.Cfg.Epochs; epoch++ {
		if epoch > start && past(stopAt) {
			return res, timeLimitError(r.Dir, nil, epoch)
		}
		m, part, err := runEpoch(ctx, loop, epoch, loader, st, sched, from, func(b *dataset.Batch) LossFunc {
			return CrossEntropyLoss(net, b.Points, b.Size, b.N, b.Labels, r.Cfg.Smoothing)
		})
		from = nil
		if part != nil && part.stopped {
			if err := r.saveLast(opt, res, part); err != nil {
				return res, err
			}
			return res, timeLimitError(r.Dir, part, epoch)
		}
		if err != nil {
			return res, err
		}
		ev, err := Evaluate(ctx, net, r.Test, r.Cfg.EvalBatch, r.Cfg.Vote, r.Cfg.Seed)
		var vev *Evaluation
		if err == nil && r.Val != nil {
			if vev, err = Evaluate(ctx, net, r.Val, r.Cfg.EvalBatch, r.Cfg.Vote, r.Cfg.Seed); err != nil {
				err = fmt.Errorf("validation: %w", err)
			}
		}
		if errors.Is(err, ErrInterrupted) {
			// The epoch is trained: keep it, and evaluate it on resuming.
			part.stopped, part.interrupted = true, true
			if err := r.saveLast(opt, res, part); err != nil {
				return res, err
			}
			return res, timeLimitError(r.Dir, part, epoch)
		}
		if err != nil {
			return res, err
		}
		m.TestAcc, m.MeanClassAcc = ev.Acc, ev.MeanClassAcc
		if vev != nil {
			m.ValAcc, m.ValMeanClassAcc = &vev.Acc, &vev.MeanClassAcc
		}
		res.History = append(res.History, m)
		res.Last = m
		improved := len(res.History) == 1 || selectionAcc(m) > selectionAcc(res.Best)
		if improved {
			res.Best, res.Confusion = m, ev.Confusion
		}
		r.Log.Info("epoch", "epoch", epoch, "lr", m.LR, "loss", m.TrainLoss, "train_acc", m.TrainAcc,
			"test_acc", m.TestAcc, "mean_class_acc", m.MeanClassAcc, "samples_per_s", m.SamplesPerS)
		if err := r.saveEpoch(epoch, opt, res, improved); err != nil {
			return res, err
		}
	}
	return res, nil
}

// selectionAcc is what the best epoch is chosen on: the validation accuracy when there
// is a validation set, the test accuracy otherwise.
func selectionAcc(m EpochMetrics) float64 {
	if m.ValAcc != nil {
		return *m.ValAcc
	}
	return m.TestAcc
}

// prepare validates the recipe, makes the run directory and the step over params, and
// gives a nil logger a silent one.
func prepare(cfg Config, dir string, log **slog.Logger, params []*tensor.Tensor) (*Stepper, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if *log == nil {
		*log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("run directory: %w", err)
	}
	return NewStepper(cfg, params)
}

// writeMetrics writes metrics.jsonl: one JSON line per epoch of history.
func writeMetrics(dir string, history []EpochMetrics) error {
	var lines []byte
	for _, m := range history {
		js, err := json.Marshal(m)
		if err != nil {
			return err
		}
		lines = append(append(lines, js...), '\n')
	}
	return atomicfile.WriteBytes(filepath.Join(dir, "metrics.jsonl"), lines)
}

// putOptimState adds the AdamW state to a checkpoint as optim.{m,v,step}.<parameter>.
func putOptimState(sd *checkpoint.StateDict, opt *optim.AdamW) {
	for name, st := range opt.State() {
		sd.Set("optim.m."+name, checkpoint.NewF32([]int{len(st.M)}, st.M))
		sd.Set("optim.v."+name, checkpoint.NewF32([]int{len(st.V)}, st.V))
		sd.Set("optim.step."+name, checkpoint.NewI64([]int{}, []int64{st.Step}))
	}
}

// schedule returns the lr of (epoch, step within epoch) for epochs of steps steps.
func (c Config) schedule(steps int) (func(epoch, step int) float64, error) {
	if c.Schedule == "step" {
		s := optim.StepCosine{BaseLR: c.LR, MinLR: c.MinLR, WarmupLRInit: c.WarmupLR,
			WarmupSteps: c.WarmupEpochs * steps, TotalSteps: c.Epochs * steps}
		if err := s.Validate(); err != nil {
			return nil, err
		}
		return func(e, i int) float64 { return s.LR(e*steps + i) }, nil
	}
	s := optim.CosineLR{BaseLR: c.LR, MinLR: c.MinLR, TInitial: c.Epochs, WarmupT: c.WarmupEpochs, WarmupLRInit: c.WarmupLR}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return func(e, _ int) float64 { return s.LR(e) }, nil
}

// stepRNG seeds the dropout / drop-path generator of one step from (seed, epoch, step),
// so a resumed run draws exactly what an uninterrupted one would.
func stepRNG(seed uint64, epoch, step int) *rand.Rand {
	return rand.New(rand.NewPCG(seed^0x51ed, uint64(epoch)<<32|uint64(step)))
}

// epochLoop is what runEpoch needs of a run.
type epochLoop struct {
	dir      string
	cfg      Config
	progress io.Writer
	deadline time.Time // zero: no time limit
}

// runEpoch is one epoch of optimisation shared by fine-tuning and pre-training: the lr
// schedule, the step's RNG, st's step per batch, progress, cancellation. It starts where
// from (if not nil) stopped. It returns the epoch's state as well: marked stopped, in
// place of metrics, when the loop's deadline passed before the last step or the context
// was cancelled (ctx.Err()), and whole otherwise, for a caller that is interrupted later.
func runEpoch(ctx context.Context, r epochLoop, epoch int, loader *dataset.Loader, st *Stepper,
	lr func(e, i int) float64, from *partialEpoch, lossOf func(*dataset.Batch) LossFunc) (EpochMetrics, *partialEpoch, error) {
	m := EpochMetrics{Epoch: epoch, LR: lr(epoch, 0)}
	p := partialEpoch{Epoch: epoch}
	if from != nil {
		p = *from
	}
	nb := loader.NumBatches()
	it := loader.EpochFrom(epoch, p.Steps)
	defer it.Close()
	label := fmt.Sprintf("epoch %d/%d", epoch+1, r.cfg.Epochs)
	if p.Steps > 0 {
		label += fmt.Sprintf(" (resumed at step %d)", p.Steps)
	}
	bar := progress.New(r.progress, label, (nb-p.Steps)*r.cfg.BatchSize, "samples")
	defer bar.Done()
	start := time.Now()
	// The arena's memory goes back at the epoch's end, before evaluation takes its own.
	defer st.Close()
	for step := p.Steps; ; step++ {
		// An interruption after the epoch's last step saves it whole, its evaluation
		// still to come; a time limit there is left to the caller, after evaluation.
		stop := ctx.Err() != nil
		if step > p.Steps && (stop && step <= nb || step < nb && past(r.deadline)) {
			p.Steps = step
			p.Seconds += time.Since(start).Seconds()
			p.stopped, p.interrupted = true, stop
			return m, &p, nil
		}
		if stop {
			return m, nil, fmt.Errorf("%w at epoch %d step %d; %s", ErrInterrupted, epoch, step, keptMessage(r.dir))
		}
		b, err := it.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return m, nil, fmt.Errorf("epoch %d: %w", epoch, err)
		}
		rate := lr(epoch, step)
		nctx := &nn.Ctx{Train: true, RNG: stepRNG(r.cfg.Seed, epoch, step), Recompute: r.cfg.Recompute}
		res, err := st.Step(nctx, rate, lossOf(b))
		if errors.Is(err, ErrNotFinite) {
			return m, nil, fmt.Errorf("%w at epoch %d step %d (lr %.3g): stopping; %s", err, epoch, step, rate, keptMessage(r.dir))
		}
		if err != nil {
			return m, nil, fmt.Errorf("epoch %d step %d: %w", epoch, step, err)
		}
		p.LossSum += res.Loss * float64(b.Size)
		p.Correct += res.Correct
		p.Seen += b.Size
		p.GradNorm = res.GradNorm
		bar.Add(b.Size)
	}
	m.GradNorm = p.GradNorm
	m.Seconds = p.Seconds + time.Since(start).Seconds()
	m.TrainLoss = p.LossSum / float64(max(p.Seen, 1))
	m.TrainAcc = float64(p.Correct) / float64(max(p.Seen, 1))
	m.SamplesPerS = float64(p.Seen) / m.Seconds
	p.Steps, p.Seconds = nb, m.Seconds
	return m, &p, nil
}

func clipOrInf(c float64) float64 {
	if c <= 0 {
		return math.Inf(1)
	}
	return c
}

func keptMessage(dir string) string {
	last := filepath.Join(dir, "last.safetensors")
	if _, err := os.Stat(last); err == nil {
		return "the last good checkpoint is " + last + " (continue with --resume " + dir + ")"
	}
	return "no epoch had completed, so no checkpoint was written"
}

func countCorrect(logits *tensor.Tensor, labels []int) int {
	c := logits.Dim(1)
	n := 0
	for i, l := range labels {
		if argmax(logits.Data[i*c:(i+1)*c]) == l {
			n++
		}
	}
	return n
}

// argmax is the index of the first largest value of row.
func argmax(row []float32) int {
	best := 0
	for j, v := range row {
		if v > row[best] {
			best = j
		}
	}
	return best
}

// writeConfig saves the resolved settings so the run can be repeated.
func (r *Run) writeConfig() error {
	doc := map[string]any{"train": r.Cfg, "method": string(r.Model.Method), "backbone_hash": r.Model.BackboneHash,
		"classes": r.Model.Classes, "model": r.Model.Backbone.Cfg}
	if r.Model.PEFT != nil {
		doc["point_peft"] = r.Model.PEFT.Cfg
	}
	if r.Spec != nil {
		doc["spec"] = r.Spec
	}
	out, err := yaml.Marshal(doc)
	if err != nil {
		return err
	}
	return atomicfile.WriteBytes(filepath.Join(r.Dir, "config.yaml"), out)
}

// saveEpoch writes metrics.jsonl, last.safetensors (with the optimizer state) and, when
// the epoch improved, best.safetensors and (for methods that freeze the backbone)
// adapter.safetensors, each atomically.
func (r *Run) saveEpoch(epoch int, opt *optim.AdamW, res *Result, improved bool) error {
	if err := writeMetrics(r.Dir, res.History); err != nil {
		return err
	}
	if err := plots.TrainCurves(filepath.Join(r.Dir, "train_curves.png"), curves(res.History, "fine-tuning: "+string(r.Model.Method))); err != nil {
		return err
	}
	if improved {
		title := fmt.Sprintf("%s, epoch %d: %.2f%% overall, %.2f%% mean class", r.Model.Method, epoch, 100*res.Best.TestAcc, 100*res.Best.MeanClassAcc)
		if err := plots.Confusion(filepath.Join(r.Dir, "confusion.png"), r.Model.Classes, res.Confusion, title); err != nil {
			return err
		}
	}
	sd, err := r.Model.StateDict(false)
	if err != nil {
		return err
	}
	sd.Meta[MetaEpoch] = strconv.Itoa(epoch)
	if improved {
		if err := checkpoint.WriteSafetensors(filepath.Join(r.Dir, "best.safetensors"), sd); err != nil {
			return err
		}
		if r.Model.Method != peft.MethodFull {
			ad, err := r.Model.StateDict(true)
			if err != nil {
				return err
			}
			ad.Meta[MetaEpoch] = strconv.Itoa(epoch)
			if err := checkpoint.WriteSafetensors(filepath.Join(r.Dir, "adapter.safetensors"), ad); err != nil {
				return err
			}
		}
	}
	return r.writeLast(sd, opt, res, nil)
}

// saveLast writes last.safetensors in the middle of an epoch: the last completed
// epoch's number and history with the current weights, optimizer state and p.
func (r *Run) saveLast(opt *optim.AdamW, res *Result, p *partialEpoch) error {
	sd, err := r.Model.StateDict(false)
	if err != nil {
		return err
	}
	sd.Meta[MetaEpoch] = strconv.Itoa(p.Epoch - 1)
	return r.writeLast(sd, opt, res, p)
}

func (r *Run) writeLast(sd *checkpoint.StateDict, opt *optim.AdamW, res *Result, p *partialEpoch) error {
	putOptimState(sd, opt)
	hist, err := json.Marshal(res)
	if err != nil {
		return err
	}
	sd.Meta["result"] = string(hist)
	if err := putPartial(sd, p); err != nil {
		return err
	}
	return checkpoint.WriteSafetensors(filepath.Join(r.Dir, "last.safetensors"), sd)
}

// restore loads last.safetensors: weights, buffers, optimizer state and history. It
// returns the next epoch to run and, if the run stopped inside it, how far it got.
func (r *Run) restore(opt *optim.AdamW, res *Result) (int, *partialEpoch, error) {
	path := filepath.Join(r.Dir, "last.safetensors")
	sd, err := checkpoint.ReadSafetensors(path)
	if err != nil {
		return 0, nil, fmt.Errorf("resume: %w", err)
	}
	if h := sd.Meta[MetaBackbone]; h != r.Model.BackboneHash {
		return 0, nil, fmt.Errorf("resume %s: the run started from backbone %s, this model's is %s", path, h, r.Model.BackboneHash)
	}
	if m := sd.Meta[MetaMethod]; m != string(r.Model.Method) {
		return 0, nil, fmt.Errorf("resume %s: the run used method %s, not %s", path, m, r.Model.Method)
	}
	epoch, err := strconv.Atoi(sd.Meta[MetaEpoch])
	if err != nil {
		return 0, nil, fmt.Errorf("resume %s: no epoch recorded", path)
	}
	part, err := readPartial(sd, path)
	if err != nil {
		return 0, nil, err
	}
	state, _ := splitOptimState(sd)
	if _, err := nn.LoadState(r.Model.Net, modelTensors(sd)); err != nil {
		return 0, nil, fmt.Errorf("resume %s: %w", path, err)
	}
	if err := opt.LoadState(state); err != nil {
		return 0, nil, fmt.Errorf("resume %s: %w", path, err)
	}
	if err := json.Unmarshal([]byte(sd.Meta["result"]), res); err != nil {
		return 0, nil, fmt.Errorf("resume %s: history: %w", path, err)
	}
	return epoch + 1, part, nil
}

// PlotRun draws a run directory's metrics.jsonl as a training-curves PNG at out.
func PlotRun(dir, out, title string) error {
	raw, err := os.ReadFile(filepath.Join(dir, "metrics.jsonl"))
	if err != nil {
		return err
	}
	var history []EpochMetrics
	for i, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		var m EpochMetrics
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			return fmt.Errorf("%s line %d: %w", filepath.Join(dir, "metrics.jsonl"), i+1, err)
		}
		history = append(history, m)
	}
	return plots.TrainCurves(out, curves(history, title))
}

// curves turns a run's history into the plots package's series (accuracies in %).
func curves(h []EpochMetrics, title string) plots.Curves {
	c := plots.Curves{Title: title}
	for _, m := range h {
		c.Epochs = append(c.Epochs, m.Epoch)
		c.TrainLoss = append(c.TrainLoss, m.TrainLoss)
		c.LR = append(c.LR, m.LR)
		if m.TrainAcc > 0 || m.TestAcc > 0 {
			c.TrainAcc = append(c.TrainAcc, 100*m.TrainAcc)
			// The held-out curve is the validation set's when the run has one.
			held := m.TestAcc
			if m.ValAcc != nil {
				held = *m.ValAcc
			}
			c.ValAcc = append(c.ValAcc, 100*held)
		}
	}
	return c
}
