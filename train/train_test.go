package train

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pointpeft/pointpeft/checkpoint"
	"github.com/pointpeft/pointpeft/dataset"
	"github.com/pointpeft/pointpeft/model"
	"github.com/pointpeft/pointpeft/nn"
	"github.com/pointpeft/pointpeft/peft"
)

// smallBackbone is a 2-block, 48-wide Point-MAE for tests, randomly initialised.
func smallBackbone(t testing.TB, classes int) *model.PointTransformer {
	t.Helper()
	cfg := model.Config{Arch: "point-mae", TransDim: 48, Depth: 2, Heads: 6, MLPRatio: 2, EncoderDims: 48,
		NumGroup: 16, GroupSize: 16, Classes: classes, DropPath: 0.1, HeadDropout: 0.5,
		EncoderHidden: [3]int{32, 64, 96}, PosHidden: 32, HeadHidden: 64}
	m, err := model.New(cfg, rand.New(rand.NewPCG(3, 3)))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func smallPEFT() peft.Config {
	c := peft.ScanObjectNN(peft.Fixed)
	c.NumTokens, c.PromptLayers, c.AdapterDim, c.CPReduction = 4, []int{0}, 8, 4
	c.PriorGroups, c.PriorGroupSize = 8, 16
	return c
}

func shapes(t testing.TB, train, test, points int) (dataset.Dataset, dataset.Dataset) {
	t.Helper()
	cfg := dataset.DefaultShapesConfig()
	cfg.Train, cfg.Test, cfg.NumPoints = train, test, points
	tr, err := dataset.NewShapes(cfg, "train")
	if err != nil {
		t.Fatal(err)
	}
	te, err := dataset.NewShapes(cfg, "test")
	if err != nil {
		t.Fatal(err)
	}
	a, err := dataset.Preload(tr, 2)
	if err != nil {
		t.Fatal(err)
	}
	b, err := dataset.Preload(te, 2)
	if err != nil {
		t.Fatal(err)
	}
	return a, b
}

func quickConfig(epochs int) Config {
	c := DefaultConfig()
	c.Epochs, c.BatchSize, c.LR, c.WarmupEpochs, c.Schedule, c.Augment, c.Seed, c.Workers = epochs, 16, 2e-3, 1, "step", "scan-z", 7, 2
	return c
}

func newRun(t testing.TB, dir string, method peft.Method, epochs int, tr, te dataset.Dataset) *Run {
	t.Helper()
	bb := smallBackbone(t, len(tr.Classes()))
	var bank *peft.MemoryBank
	if method == peft.MethodPointPEFT {
		prior, err := peft.NewPriorEncoder(bb, 8, 16)
		if err != nil {
			t.Fatal(err)
		}
		if bank, err = peft.BuildBank(prior, BankSource(tr), 256, 64, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	m, err := NewModel(bb, method, smallPEFT(), tr.Classes(), bank, 1)
	if err != nil {
		t.Fatal(err)
	}
	return &Run{Dir: dir, Cfg: quickConfig(epochs), Model: m, Train: tr, Test: te}
}

// TestTrainingLearns: a few epochs on the procedural shapes must beat chance (1/14)
// by a wide margin for both Point-PEFT and full fine-tuning.
func TestTrainingLearns(t *testing.T) {
	tr, te := shapes(t, 448, 224, 256)
	for _, method := range []peft.Method{peft.MethodPointPEFT, peft.MethodFull} {
		r := newRun(t, t.TempDir(), method, 4, tr, te)
		res, err := r.Fit(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: best test acc %.3f (epoch %d), train loss %.3f → %.3f", method, res.Best.TestAcc, res.Best.Epoch,
			res.History[0].TrainLoss, res.Last.TrainLoss)
		if res.Best.TestAcc < 0.35 {
			t.Errorf("%s reached %.3f test accuracy, want ≥ 0.35 (chance 0.07)", method, res.Best.TestAcc)
		}
		for _, f := range []string{"config.yaml", "metrics.jsonl", "last.safetensors", "best.safetensors"} {
			if _, err := os.Stat(filepath.Join(r.Dir, f)); err != nil {
				t.Errorf("%s: %v", method, err)
			}
		}
	}
}

// TestResumeMatchesUninterrupted: stopping after epoch 1 and resuming gives exactly the
// numbers of an uninterrupted 3-epoch run.
func TestResumeMatchesUninterrupted(t *testing.T) {
	tr, te := shapes(t, 96, 48, 256)
	full := newRun(t, t.TempDir(), peft.MethodPointPEFT, 3, tr, te)
	want, err := full.Fit(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	part := newRun(t, dir, peft.MethodPointPEFT, 3, tr, te)
	part.Cfg.Epochs = 3
	ctx, cancel := context.WithCancel(context.Background())
	// Cancel once two epochs are saved: the loop stops at the next step.
	stopAfter := 2
	part.Log = nil
	go func() {
		for {
			b, _ := os.ReadFile(filepath.Join(dir, "metrics.jsonl"))
			if countLines(b) >= stopAfter {
				cancel()
				return
			}
		}
	}()
	if _, err := part.Fit(ctx); err == nil {
		t.Log("run finished before the cancel arrived; resuming from its end")
	}
	// A resumed run can take the bank it trained with from its checkpoint.
	pb := part.Model.PEFT.Bank
	if bank, err := RunBank(dir, pb.Dim); err != nil || bank == nil || !slices.Equal(bank.Features, pb.Features) {
		t.Fatalf("RunBank: %v, bank %v", err, bank != nil)
	}
	if bank, err := RunBank(t.TempDir(), pb.Dim); bank != nil || err != nil {
		t.Fatalf("RunBank of a directory without a run: %v, %v", bank, err)
	}
	resumed := newRun(t, dir, peft.MethodPointPEFT, 3, tr, te)
	resumed.Resume = true
	got, err := resumed.Fit(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	strip := func(h []EpochMetrics) []EpochMetrics {
		out := append([]EpochMetrics(nil), h...)
		for i := range out {
			out[i].Seconds, out[i].SamplesPerS = 0, 0
		}
		return out
	}
	if !reflect.DeepEqual(strip(got.History), strip(want.History)) {
		a, _ := json.Marshal(strip(want.History))
		b, _ := json.Marshal(strip(got.History))
		t.Fatalf("resumed run differs:\nwant %s\ngot  %s", a, b)
	}
}

func countLines(b []byte) int {
	n := 0
	for _, c := range b {
		if c == '\n' {
			n++
		}
	}
	return n
}

// TestTimeLimitResumesMidEpoch: a run that stops at its time limit after every single
// step and is resumed each time ends with exactly the history and weights of an
// uninterrupted run, for fine-tuning and for pre-training.
func TestTimeLimitResumesMidEpoch(t *testing.T) {
	tr, te := shapes(t, 48, 32, 256)
	strip := func(h []EpochMetrics) []EpochMetrics {
		out := append([]EpochMetrics(nil), h...)
		for i := range out {
			out[i].Seconds, out[i].SamplesPerS = 0, 0
		}
		return out
	}
	t.Run("finetune", func(t *testing.T) {
		want, err := newRun(t, t.TempDir(), peft.MethodFull, 2, tr, te).Fit(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		got, stops := untilDone(t, func(resume bool, _ int) (*Result, error) {
			r := newRun(t, dir, peft.MethodFull, 2, tr, te)
			r.Resume, r.TimeLimit = resume, time.Nanosecond
			return r.Fit(context.Background())
		}, func(err error) bool { return errors.Is(err, ErrTimeLimit) })
		// 3 steps an epoch: stops after steps 1 and 2 of each epoch, and at the epoch boundary.
		if stops != 5 {
			t.Errorf("%d stops, want 5", stops)
		}
		if !reflect.DeepEqual(strip(got.History), strip(want.History)) {
			a, _ := json.Marshal(strip(want.History))
			b, _ := json.Marshal(strip(got.History))
			t.Fatalf("resumed run differs:\nwant %s\ngot  %s", a, b)
		}
	})
	t.Run("pretrain", func(t *testing.T) {
		fit := func(dir string, limit time.Duration, resume bool) ([]EpochMetrics, *model.PointMAEPretrain, error) {
			mcfg := model.PointMAEPretrainConfig()
			mcfg.TransDim, mcfg.EncoderDims, mcfg.Depth, mcfg.Heads = 48, 48, 1, 4
			mcfg.EncoderHidden, mcfg.NumGroup, mcfg.GroupSize = [3]int{32, 64, 96}, 16, 16
			mae := model.DefaultMAEConfig()
			mae.DecoderDepth, mae.DecoderHeads = 1, 4
			m, err := model.NewPointMAEPretrain(mcfg, mae, rand.New(rand.NewPCG(1, 1)))
			if err != nil {
				t.Fatal(err)
			}
			cfg := quickConfig(2)
			cfg.Augment = "scale-translate"
			r := &PretrainRun{Dir: dir, Cfg: cfg, Model: m, Data: tr, Resume: resume, TimeLimit: limit, KeepEvery: 1}
			h, err := r.Fit(context.Background())
			return h, m, err
		}
		want, wm, err := fit(t.TempDir(), 0, false)
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		var got []EpochMetrics
		var gm *model.PointMAEPretrain
		for resume, stops := false, 0; ; resume = true {
			h, m, err := fit(dir, time.Nanosecond, resume)
			if err == nil {
				got, gm = h, m
				break
			}
			if !errors.Is(err, ErrTimeLimit) {
				t.Fatal(err)
			}
			if stops++; stops > 20 {
				t.Fatal("the run never finished")
			}
		}
		if !reflect.DeepEqual(strip(got), strip(want)) {
			t.Fatalf("resumed pre-training differs:\nwant %+v\ngot  %+v", strip(want), strip(got))
		}
		a, b := nn.StateDict(wm, false), nn.StateDict(gm, false)
		for _, k := range a.Keys {
			if !slices.Equal(a.Tensors[k].F32, b.Tensors[k].F32) {
				t.Fatalf("%s differs after resuming", k)
			}
		}
		for _, f := range []string{"backbone-epoch001.safetensors", "backbone-epoch002.safetensors"} {
			if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
				t.Error(err)
			}
		}
	})
}

// untilDone calls attempt (resuming from the second call on, i counting the calls)
// until it succeeds, each failure having to be a planned stop; it returns the last
// result and the number of stops.
func untilDone(t *testing.T, attempt func(resume bool, i int) (*Result, error), planned func(error) bool) (*Result, int) {
	t.Helper()
	for i := 0; i <= 20; i++ {
		res, err := attempt(i > 0, i)
		if err == nil {
			return res, i
		}
		if !planned(err) {
			t.Fatalf("stop %d: %v", i, err)
		}
	}
	t.Fatal("the run never finished")
	return nil, 0
}

// cancelAfter is a context that a signal cancels once its holder has checked it allow
// times: a run under it gets that far, then sees the interruption.
type cancelAfter struct {
	context.Context
	allow, checks int32
}

func (c *cancelAfter) Err() error {
	if atomic.AddInt32(&c.checks, 1) > c.allow {
		return context.Canceled
	}
	return nil
}

// TestInterruptResumesMidEpoch: a run stopped by a signal (a cancelled context) saves
// its state after the step in progress, or after its epoch's training when the signal
// comes during evaluation, and resuming gives the numbers of a run that was never
// stopped, as after a time limit.
func TestInterruptResumesMidEpoch(t *testing.T) {
	tr, te := shapes(t, 48, 32, 256)
	want, err := newRun(t, t.TempDir(), peft.MethodFull, 2, tr, te).Fit(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	got, stops := untilDone(t, func(resume bool, i int) (*Result, error) {
		r := newRun(t, dir, peft.MethodFull, 2, tr, te)
		r.Resume = resume
		// Each run gets one check further than the last, so that the signals fall on
		// every kind of place: between steps, after an epoch's last step, in evaluation.
		return r.Fit(&cancelAfter{Context: context.Background(), allow: int32(i + 1)})
	}, func(err error) bool {
		t.Log(err)
		// Between epochs the last checkpoint is already the current state.
		return errors.Is(err, ErrInterrupted) && (strings.Contains(err.Error(), "state saved") || strings.Contains(err.Error(), "last good checkpoint"))
	})
	if stops < 3 {
		t.Errorf("%d stops, want at least 3", stops)
	}
	for i := range want.History {
		want.History[i].Seconds, want.History[i].SamplesPerS = 0, 0
		got.History[i].Seconds, got.History[i].SamplesPerS = 0, 0
	}
	if !reflect.DeepEqual(got.History, want.History) {
		t.Fatalf("resumed run differs:\nwant %+v\ngot  %+v", want.History, got.History)
	}
}

// TestValidationSelectsBest: with a validation set carved from the training set, every
// epoch records its validation accuracy and the best epoch is the best on validation.
func TestValidationSelectsBest(t *testing.T) {
	all, te := shapes(t, 112, 56, 256)
	split, err := dataset.NewSplit(all, 0.25, 3)
	if err != nil {
		t.Fatal(err)
	}
	tr, val, err := split.Apply(all)
	if err != nil {
		t.Fatal(err)
	}
	r := newRun(t, t.TempDir(), peft.MethodLinear, 3, tr, te)
	r.Val = val
	res, err := r.Fit(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	best := -1.0
	for _, m := range res.History {
		if m.ValAcc == nil || m.ValMeanClassAcc == nil {
			t.Fatalf("epoch %d has no validation accuracy", m.Epoch)
		}
		best = math.Max(best, *m.ValAcc)
	}
	if *res.Best.ValAcc != best {
		t.Fatalf("best epoch %d has validation accuracy %v, the best is %v", res.Best.Epoch, *res.Best.ValAcc, best)
	}
	raw, err := os.ReadFile(filepath.Join(r.Dir, "metrics.jsonl"))
	if err != nil || !strings.Contains(string(raw), `"val_acc"`) {
		t.Fatalf("metrics.jsonl lacks val_acc: %v", err)
	}
}

// TestInitPretrain: a pre-training continues from a weights-only snapshot of a run (every
// tensor, optimizer state left out) or from a backbone file (encoder; decoder fresh), and
// refuses a file whose tensors do not fit.
func TestInitPretrain(t *testing.T) {
	tr, _ := shapes(t, 32, 16, 256)
	newMAE := func(seed uint64) *model.PointMAEPretrain {
		mcfg := model.PointMAEPretrainConfig()
		mcfg.TransDim, mcfg.EncoderDims, mcfg.Depth, mcfg.Heads = 48, 48, 1, 4
		mcfg.EncoderHidden, mcfg.NumGroup, mcfg.GroupSize = [3]int{32, 64, 96}, 16, 16
		mae := model.DefaultMAEConfig()
		mae.DecoderDepth, mae.DecoderHeads = 1, 4
		m, err := model.NewPointMAEPretrain(mcfg, mae, rand.New(rand.NewPCG(seed, 1)))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	dir := t.TempDir()
	trained := newMAE(1)
	cfg := quickConfig(1)
	cfg.Augment, cfg.WarmupEpochs = "scale-translate", 0
	if _, err := (&PretrainRun{Dir: dir, Cfg: cfg, Model: trained, Data: tr}).Fit(context.Background()); err != nil {
		t.Fatal(err)
	}
	snap := filepath.Join(dir, "snapshot.safetensors")
	sd, err := checkpoint.ConvertWeights(filepath.Join(dir, "last.safetensors"), snap, false, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range sd.Keys {
		if strings.HasPrefix(k, "optim.") {
			t.Fatalf("weights-only snapshot holds %s", k)
		}
	}
	want := nn.StateDict(trained, false)
	m := newMAE(2)
	if fresh, err := InitPretrain(m, snap); err != nil || len(fresh) != 0 {
		t.Fatalf("from the snapshot: fresh %v, %v", fresh, err)
	}
	got := nn.StateDict(m, false)
	for _, k := range want.Keys {
		if !slices.Equal(want.Tensors[k].F32, got.Tensors[k].F32) {
			t.Fatalf("%s differs after init from the snapshot", k)
		}
	}
	m = newMAE(3)
	fresh, err := InitPretrain(m, filepath.Join(dir, "backbone.safetensors"))
	if err != nil || len(fresh) == 0 {
		t.Fatalf("from the backbone: fresh %v, %v", fresh, err)
	}
	for _, k := range fresh {
		if strings.HasPrefix(k, "MAE_encoder.") {
			t.Errorf("encoder tensor %s left fresh", k)
		}
	}
	got = nn.StateDict(m, false)
	if k := "MAE_encoder.blocks.blocks.0.attn.qkv.weight"; !slices.Equal(want.Tensors[k].F32, got.Tensors[k].F32) {
		t.Errorf("%s not taken from the backbone", k)
	}
	// A file of another model does not fit.
	other := checkpoint.NewStateDict()
	other.Set("MAE_encoder.norm.weight", checkpoint.NewF32([]int{7}, make([]float32, 7)))
	bad := filepath.Join(dir, "bad.safetensors")
	if err := checkpoint.WriteSafetensors(bad, other); err != nil {
		t.Fatal(err)
	}
	if _, err := InitPretrain(newMAE(4), bad); err == nil {
		t.Error("a tensor of the wrong shape was accepted")
	}
}
