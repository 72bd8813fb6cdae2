package train

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"

	"github.com/pointpeft/pointpeft/checkpoint"
	"github.com/pointpeft/pointpeft/dataset"
	"github.com/pointpeft/pointpeft/model"
	"github.com/pointpeft/pointpeft/nn"
	"github.com/pointpeft/pointpeft/peft"
)

// PretrainPresets are the Point-MAE model sizes Pretrain offers.
var PretrainPresets = map[string]func() (model.Config, model.MAEConfig){
	// The authors' ViT-S encoder: what a GPU user runs on ShapeNet-55.
	"full": func() (model.Config, model.MAEConfig) {
		return model.PointMAEPretrainConfig(), model.DefaultMAEConfig()
	},
	// The shipped backbone: 6 blocks of width 192, pre-trained in about an hour on two
	// CPU cores.
	"small": func() (model.Config, model.MAEConfig) {
		c := model.PointMAEPretrainConfig()
		c.TransDim, c.EncoderDims, c.Depth = 192, 192, 6
		c.EncoderHidden = [3]int{64, 128, 256}
		m := model.DefaultMAEConfig()
		m.DecoderDepth = 2
		return c, m
	},
}

// PretrainSpec is what a pre-training run is made from.
type PretrainSpec struct {
	Data   string
	Preset string // a PretrainPresets key
	// Points, Groups and GroupSize of 0 take the data source's reference settings.
	Points, Groups, GroupSize int
	Train                     Config
	// Init, if set, names weights to start from instead of a random initialisation: a
	// pre-training checkpoint or snapshot (MAE_encoder.*, MAE_decoder.*, ...; its
	// optimizer state is not used) or a backbone file (the encoder only; the decoder
	// starts afresh). The optimizer and the schedule start anew, warm-up included: how
	// a pre-training continues when its run directory is lost.
	Init string
}

// DefaultPretrainSpec is the small preset with Point-MAE's recipe (lr 1e-3, 300
// epochs, batch 32, per-epoch cosine).
func DefaultPretrainSpec() PretrainSpec {
	cfg := DefaultConfig()
	cfg.LR, cfg.Epochs, cfg.BatchSize, cfg.Schedule = 1e-3, 300, 32, "epoch"
	return PretrainSpec{Preset: "small", Train: cfg}
}

// PretrainOptions say how a pre-training run is carried out.
type PretrainOptions struct {
	RunOptions
	// KeepEvery keeps the encoder of every KeepEvery-th epoch (PretrainRun.KeepEvery).
	KeepEvery int
}

// Pretrain checks spec and the run directory, opens the training split, builds the
// Point-MAE model of the preset and pre-trains it in opt.Dir.
func Pretrain(ctx context.Context, spec PretrainSpec, opt PretrainOptions) ([]EpochMetrics, error) {
	mk, ok := PretrainPresets[spec.Preset]
	if !ok {
		names := make([]string, 0, len(PretrainPresets))
		for k := range PretrainPresets {
			names = append(names, k)
		}
		sort.Strings(names)
		return nil, fmt.Errorf("unknown preset %q (known: %v)", spec.Preset, names)
	}
	ref := dataset.Reference(spec.Data)
	spec.Points, spec.Groups, spec.GroupSize = cmp.Or(spec.Points, ref.Points), cmp.Or(spec.Groups, ref.Groups), cmp.Or(spec.GroupSize, ref.GroupSize)
	if spec.Train.Augment == "" {
		spec.Train.Augment = ref.Augment
	}
	switch {
	case spec.Data == "":
		return nil, fmt.Errorf("no data source (--data)")
	case opt.Dir == "":
		return nil, fmt.Errorf("no run directory")
	case opt.KeepEvery < 0:
		return nil, fmt.Errorf("keep every %d epochs: want 0 (none) or more", opt.KeepEvery)
	case spec.Groups > spec.Points || spec.GroupSize > spec.Points || spec.Groups < 1 || spec.GroupSize < 1:
		return nil, fmt.Errorf("%d groups of %d points do not fit clouds of %d points", spec.Groups, spec.GroupSize, spec.Points)
	case spec.Train.FPSPool != 0:
		return nil, fmt.Errorf("fps_pool %d: pre-training reads its clouds at their points and draws from no pool", spec.Train.FPSPool)
	}
	if err := spec.Train.Validate(); err != nil {
		return nil, err
	}
	if err := CheckRunDir(opt.Dir, opt.Resume, opt.Overwrite); err != nil {
		return nil, err
	}
	ds, err := dataset.Open(spec.Data, "train", dataset.OpenOptions{NumPoints: spec.Points})
	if err != nil {
		return nil, err
	}
	if ds.Len() < spec.Train.BatchSize {
		return nil, fmt.Errorf("batch size %d is larger than the %d training samples of %s", spec.Train.BatchSize, ds.Len(), spec.Data)
	}
	mcfg, mae := mk()
	mcfg.NumGroup, mcfg.GroupSize = spec.Groups, spec.GroupSize
	m, err := model.NewPointMAEPretrain(mcfg, mae, rand.New(rand.NewPCG(spec.Train.Seed, 1)))
	if err != nil {
		return nil, err
	}
	if spec.Init != "" {
		if opt.Resume {
			return nil, fmt.Errorf("--init starts a new run from %s; --resume continues one: choose one", spec.Init)
		}
		fresh, err := InitPretrain(m, spec.Init)
		if err != nil {
			return nil, err
		}
		if opt.Progress != nil && len(fresh) > 0 {
			fmt.Fprintf(opt.Progress, "note: %s has no %d tensors of the pre-training model (the decoder's); they start afresh\n", spec.Init, len(fresh))
		}
	}
	if opt.Progress != nil {
		fmt.Fprintf(opt.Progress, "settings: pre-training preset %s on %s, %d points, %d groups of %d; %d epochs (%d warm-up), batch %d, lr %g, seed %d\n",
			spec.Preset, spec.Data, spec.Points, spec.Groups, spec.GroupSize, spec.Train.Epochs, spec.Train.WarmupEpochs,
			spec.Train.BatchSize, spec.Train.LR, spec.Train.Seed)
	}
	if opt.Overwrite {
		if err := ClearRunDir(opt.Dir); err != nil {
			return nil, err
		}
	}
	run := &PretrainRun{Dir: opt.Dir, Cfg: spec.Train, Model: m, Data: ds, Log: opt.Log, Progress: opt.Progress,
		Resume: opt.Resume, TimeLimit: opt.TimeLimit, KeepEvery: opt.KeepEvery}
	return run.Fit(ctx)
}

// InitPretrain loads the weights of path into m: a pre-training checkpoint or snapshot
// (every tensor must fit; optimizer state is ignored) or a backbone file with the encoder
// alone, whose tensors go under MAE_encoder.* and must all fit. It returns the tensors of
// m the file did not have (the decoder's, for a backbone file).
func InitPretrain(m *model.PointMAEPretrain, path string) (fresh []string, err error) {
	sd, err := checkpoint.Load(path)
	if err != nil {
		return nil, err
	}
	_, rest := splitOptimState(sd)
	if checkpoint.DetectFormat(rest) != checkpoint.LayoutPointMAEPretrain {
		enc := checkpoint.NewStateDict()
		for _, k := range rest.Keys {
			enc.Set("MAE_encoder."+k, rest.Tensors[k])
		}
		rest = enc
	}
	rep, err := nn.LoadState(m, rest)
	if err != nil {
		return nil, fmt.Errorf("init from %s: %w", path, err)
	}
	if len(rep.Unexpected) > 0 {
		return nil, fmt.Errorf("init from %s: tensors the pre-training model does not have: %v", path, rep.Unexpected)
	}
	for _, k := range rep.Missing {
		if strings.HasPrefix(k, "MAE_encoder.") {
			return nil, fmt.Errorf("init from %s: the encoder's %s is missing", path, k)
		}
	}
	return rep.Missing, nil
}

// BuildDataBank builds the Point-prior Bank of one split of a data source with the
// prior encoder (groups × groupSize) of a backbone file (empty: the shipped one), at
// points per cloud (0: the source's reference).
func BuildDataBank(backbone, data, split string, points, groups, groupSize int, progress io.Writer) (*peft.MemoryBank, error) {
	if points == 0 {
		points = dataset.Reference(data).Points
	}
	if !slices.Contains([]string{"train", "test"}, split) {
		return nil, fmt.Errorf("split %q: train or test", split)
	}
	ds, err := dataset.Open(data, split, dataset.OpenOptions{NumPoints: points})
	if err != nil {
		return nil, err
	}
	bb, rep, err := LoadBackbone(backbone, len(ds.Classes()), groups, groupSize)
	if err != nil {
		return nil, err
	}
	if err := checkUnused(rep, backboneName(backbone)); err != nil {
		return nil, err
	}
	prior, err := peft.NewPriorEncoder(bb, groups, groupSize)
	if err != nil {
		return nil, err
	}
	return BuildBank(prior, ds, points, map[string]string{"backbone": peft.BackboneHash(bb), "dataset": data, "split": split}, progress)
}
