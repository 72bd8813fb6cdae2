package bench

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/pointpeft/pointpeft/geom"
	"github.com/pointpeft/pointpeft/internal/blas"
	"github.com/pointpeft/pointpeft/model"
	"github.com/pointpeft/pointpeft/nn"
	"github.com/pointpeft/pointpeft/peft"
	"github.com/pointpeft/pointpeft/tensor"
	"github.com/pointpeft/pointpeft/train"
)

// Options are the run settings shared by both sides of a comparison.
type Options struct {
	Batch  int
	Steps  int // timed steps; the median is reported
	Warmup int // untimed steps first (buffers, page faults, optimizer state)
	// Threads sets tensor.SetThreads when positive.
	Threads int
	// Mode overrides the configuration's Point-PEFT mode when set.
	Mode peft.Mode
}

// Result is one measurement. The JSON names are those tools/bench/reference.py prints.
type Result struct {
	Config       string  `json:"config"`
	SamplesPerS  float64 `json:"samples_per_s"`
	StepSeconds  float64 `json:"step_seconds"` // median
	PeakRSSMB    float64 `json:"peak_rss_mb"`  // MiB; set by Isolated
	GEMMShare    float64 `json:"gemm_share,omitempty"`
	GroupShare   float64 `json:"group_share,omitempty"`
	GroupSeconds float64 `json:"group_seconds,omitempty"`
}

// Run builds cfg's model once, runs opt.Warmup untimed and opt.Steps timed steps on one
// random batch, and reports the median step. GEMMShare is the wall time during which a
// GEMM ran over the timed steps' wall time. GroupShare is the time of the FPS+kNN
// groupings a step makes, run alone on the same batch, over the median step.
func Run(cfg Config, opt Options) (Result, error) {
	if opt.Batch < 1 || opt.Steps < 1 || opt.Warmup < 0 {
		return Result{}, fmt.Errorf("bench %s: batch %d, steps %d, warm-up %d: need batch, steps >= 1", cfg.Name, opt.Batch, opt.Steps, opt.Warmup)
	}
	if cfg.Kind == Train && opt.Batch < 2 {
		return Result{}, fmt.Errorf("bench %s: a training step needs batch >= 2 (the head's BatchNorm uses batch statistics)", cfg.Name)
	}
	if opt.Threads > 0 {
		tensor.SetThreads(opt.Threads)
	}
	if opt.Mode != "" {
		cfg.PEFT.Mode = opt.Mode
	}
	rng := rand.New(rand.NewPCG(1, 1))
	b, n := opt.Batch, cfg.Points
	pts := make([]float32, b*n*3)
	for i := range pts {
		pts[i] = float32(rng.NormFloat64() * 0.5)
	}
	step, err := newStep(cfg, pts, b, rng)
	if err != nil {
		return Result{}, fmt.Errorf("bench %s: %w", cfg.Name, err)
	}
	for i := 0; i < opt.Warmup; i++ {
		if err := step(); err != nil {
			return Result{}, fmt.Errorf("bench %s: warm-up step: %w", cfg.Name, err)
		}
	}
	times := make([]float64, opt.Steps)
	blas.StartTimer()
	start := time.Now()
	for i := range times {
		t0 := time.Now()
		if err := step(); err != nil {
			blas.StopTimer()
			return Result{}, fmt.Errorf("bench %s: step %d: %w", cfg.Name, i, err)
		}
		times[i] = time.Since(t0).Seconds()
	}
	total := time.Since(start).Seconds()
	gemm := blas.StopTimer().Seconds()
	med := median(times)
	grp, err := groupSeconds(cfg, pts, b)
	if err != nil {
		return Result{}, fmt.Errorf("bench %s: grouping alone: %w", cfg.Name, err)
	}
	return Result{Config: cfg.Name, SamplesPerS: float64(b) / med, StepSeconds: med,
		GEMMShare: gemm / total, GroupShare: grp / med, GroupSeconds: grp}, nil
}

// newStep builds the model of cfg and returns one step on the batch pts.
func newStep(cfg Config, pts []float32, b int, rng *rand.Rand) (func() error, error) {
	n := cfg.Points
	bb, err := model.New(cfg.Backbone, rng)
	if err != nil {
		return nil, err
	}
	if cfg.Kind == Bank {
		prior, err := peft.NewPriorEncoder(bb, cfg.PEFT.PriorGroups, cfg.PEFT.PriorGroupSize)
		if err != nil {
			return nil, err
		}
		src := batchSource{pts: pts, n: n}
		return func() error {
			_, err := peft.BuildBank(prior, src, n, b, nil, nil)
			return err
		}, nil
	}
	var bank *peft.MemoryBank
	if cfg.Method == peft.MethodPointPEFT {
		bank = randomBank(cfg.BankSize, cfg.Backbone.TransDim, rng)
	}
	// The model finetune and predict build, with the method's trainable set.
	m, err := train.NewModel(bb, cfg.Method, cfg.PEFT, make([]string, cfg.Backbone.Classes), bank, 1)
	if err != nil {
		return nil, err
	}
	net := m.Net
	if cfg.Kind == Infer {
		arena := tensor.NewArena()
		probs := make([]float32, b*cfg.Backbone.Classes)
		return func() error { return train.Probabilities(arena, net, pts, b, n, 1, probs) }, nil
	}
	// The step finetune runs: the reference recipe's weight decay and clipping.
	recipe := train.DefaultConfig()
	st, err := train.NewStepper(recipe, net.Params())
	if err != nil {
		return nil, err
	}
	labels := make([]int, b)
	for i := range labels {
		labels[i] = rng.IntN(cfg.Backbone.Classes)
	}
	ctx := &nn.Ctx{Train: true, RNG: rng, Recompute: cfg.Recompute}
	loss := train.CrossEntropyLoss(net, pts, b, n, labels, recipe.Smoothing)
	return func() error {
		_, err := st.Step(ctx, recipe.LR, loss)
		return err
	}, nil
}

// batchSource is one batch of clouds as a memory-bank source.
type batchSource struct {
	pts []float32
	n   int
}

func (s batchSource) Len() int { return len(s.pts) / (3 * s.n) }
func (s batchSource) Cloud(i int) ([]float32, error) {
	return s.pts[i*s.n*3 : (i+1)*s.n*3], nil
}

// randomBank is a bank of unit-norm random features: retrieval costs the same whatever
// the features are.
func randomBank(size, dim int, rng *rand.Rand) *peft.MemoryBank {
	f := make([]float32, size*dim)
	for i := 0; i < size; i++ {
		row := f[i*dim : (i+1)*dim]
		var ss float64
		for j := range row {
			v := rng.NormFloat64()
			row[j] = float32(v)
			ss += v * v
		}
		inv := float32(1 / math.Sqrt(ss))
		for j := range row {
			row[j] *= inv
		}
	}
	return &peft.MemoryBank{Features: f, Dim: dim}
}

// groupSeconds times, alone, the FPS+kNN work one step of cfg does on the batch (the
// median of three runs): the backbone's grouping, and for Point-PEFT the prior
// encoder's grouping and the level-2 groupings of the Geometry-aware Adapter (see
// peft.PointPEFT.geometry).
func groupSeconds(cfg Config, pts []float32, b int) (float64, error) {
	n, g, m := cfg.Points, cfg.Backbone.NumGroup, cfg.Backbone.GroupSize
	pc := cfg.PEFT
	once := func() error {
		if cfg.Kind == Bank {
			_, err := geom.Group(pts, b, n, pc.PriorGroups, pc.PriorGroupSize)
			return err
		}
		grp, err := geom.Group(pts, b, n, g, m)
		if err != nil || cfg.Method != peft.MethodPointPEFT {
			return err
		}
		if _, err := geom.Group(pts, b, n, pc.PriorGroups, pc.PriorGroupSize); err != nil {
			return err
		}
		if _, err := geom.Group(grp.Center, b, g, g/2, m/2); err != nil {
			return err
		}
		// The prompt layers' grouping runs over T more rows per cloud. Zeros stand in for
		// the prompt coordinates (near zero at initialisation): the cost does not depend
		// on the values, and FPS skips near-origin points either way.
		t := pc.NumTokens
		if pc.Mode == peft.Faithful {
			if _, err := geom.FPS(append(make([]float32, b*t*3), pts...), b, t+n, g); err != nil {
				return err
			}
			_, err := geom.Group(grp.Center, b, g, g/2, m/2)
			return err
		}
		_, err = geom.Group(append(make([]float32, b*t*3), grp.Center...), b, t+g, g/2, m/2)
		return err
	}
	times := make([]float64, 3)
	for i := range times {
		t0 := time.Now()
		if err := once(); err != nil {
			return 0, err
		}
		times[i] = time.Since(t0).Seconds()
	}
	return median(times), nil
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
