package train

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/pointpeft/pointpeft/checkpoint"
	"github.com/pointpeft/pointpeft/dataset"
	"github.com/pointpeft/pointpeft/model"
	"github.com/pointpeft/pointpeft/nn"
	"github.com/pointpeft/pointpeft/peft"
	"github.com/pointpeft/pointpeft/tensor"
)

// Classifier is what the loop trains: a backbone alone or with a method's modules.
type Classifier = peft.Classifier

// Model is a classifier together with what is needed to save and restore it.
type Model struct {
	Net      Classifier
	Method   peft.Method
	Backbone *model.PointTransformer
	PEFT     *peft.PointPEFT // nil unless Method is point-peft
	// Mode is the mode a registered method (peft.RegisterMethod) runs in.
	Mode    peft.Mode
	Classes []string
	// BackboneHash names the pre-trained weights the run started from.
	BackboneHash string
	// prior holds the pre-trained values of the backbone's trainable tensors, which the
	// Point-PEFT prior encoder needs when the model is restored from a checkpoint.
	prior *checkpoint.StateDict
}

// NewModel builds method's model on a pre-trained backbone. For point-peft the prior
// encoder snapshots the backbone now, and bank (may be nil) is attached; a registered
// method (peft.RegisterMethod) runs in pcfg.Mode, or its default mode when that is empty.
func NewModel(bb *model.PointTransformer, method peft.Method, pcfg peft.Config, classes []string, bank *peft.MemoryBank, seed uint64) (*Model, error) {
	m := &Model{Net: bb, Method: method, Backbone: bb, Classes: classes, BackboneHash: peft.BackboneHash(bb)}
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b9))
	if method == peft.MethodPointPEFT {
		p, err := peft.New(bb, pcfg, rng)
		if err != nil {
			return nil, err
		}
		p.Bank = bank
		m.Net, m.PEFT = p, p
	} else if spec, ok := peft.LookupMethod(method); ok {
		mode, err := peft.ResolveMode(method, pcfg.Mode)
		if err != nil {
			return nil, err
		}
		if m.Net, err = spec.New(bb, mode, rng); err != nil {
			return nil, err
		}
		m.Mode = mode
	}
	if err := peft.SetTrainable(m.Net.Params(), method); err != nil {
		return nil, err
	}
	if m.PEFT != nil {
		// What the prior encoder copied rather than shared (peft.NewPriorEncoder): the
		// pre-trained values of what trains, and the pre-trained BatchNorm statistics.
		m.prior = checkpoint.NewStateDict()
		snap := nn.StateDictOf(bb, (*tensor.Tensor).RequiresGrad)
		for _, k := range snap.Keys {
			m.prior.Set("prior."+k, snap.Tensors[k])
		}
	}
	return m, nil
}

// Meta is the metadata that lets a checkpoint rebuild its model.
func (m *Model) Meta() (map[string]string, error) {
	meta := map[string]string{
		checkpoint.MetaFormatKey: checkpoint.MetaFormatValue,
		MetaMethod:               string(m.Method),
		MetaBackbone:             m.BackboneHash,
	}
	js, err := json.Marshal(m.Backbone.Cfg)
	if err != nil {
		return nil, err
	}
	meta[MetaModelConfig] = string(js)
	if js, err = json.Marshal(m.Classes); err != nil {
		return nil, err
	}
	meta[MetaClasses] = string(js)
	if m.PEFT != nil {
		if js, err = json.Marshal(m.PEFT.Cfg); err != nil {
			return nil, err
		}
		meta[MetaPEFTConfig] = string(js)
	}
	if m.Mode != "" {
		meta[MetaMode] = string(m.Mode)
	}
	return meta, nil
}

// bankKey holds the memory bank inside checkpoints and adapter files, so one file
// restores a Point-PEFT model.
const bankKey = "pointpeft.memory_bank"

// StateDict is the full checkpoint content: every parameter and buffer, and for
// Point-PEFT the prior's pre-trained tensors and the memory bank.
func (m *Model) StateDict(trainableOnly bool) (*checkpoint.StateDict, error) {
	sd := nn.StateDict(m.Net, false)
	if trainableOnly {
		sd = nn.StateDictOf(m.Net, m.inAdapter())
	}
	if m.prior != nil && !trainableOnly {
		for _, k := range m.prior.Keys {
			sd.Set(k, m.prior.Tensors[k])
		}
	}
	if m.PEFT != nil && m.PEFT.Bank != nil {
		b := m.PEFT.Bank
		sd.Set(bankKey, checkpoint.NewF32([]int{b.Len(), b.Dim}, b.Features))
	}
	meta, err := m.Meta()
	if err != nil {
		return nil, err
	}
	for k, v := range meta {
		sd.Meta[k] = v
	}
	if trainableOnly {
		sd.Meta["content"] = "trainable parameters only: load onto backbone " + m.BackboneHash
	}
	return sd, nil
}

// inAdapter says which parameters an adapter file keeps: the trained ones and those the
// method added without training them (IDPT's prompt_pos keeps its random start), i.e.
// every parameter but the backbone's frozen ones, which the backbone file restores. A
// method may rename backbone tensors (PointLoRA's qkv.linear): they are recognised by
// sharing the backbone's memory.
func (m *Model) inAdapter() func(p *tensor.Tensor) bool {
	frozen := map[*float32]bool{}
	for _, p := range m.Backbone.Params() {
		if len(p.Data) > 0 {
			frozen[&p.Data[0]] = true
		}
	}
	return func(p *tensor.Tensor) bool {
		return p.RequiresGrad() || len(p.Data) == 0 || !frozen[&p.Data[0]]
	}
}

// LoadModel restores a model from one of our checkpoints (last/best.safetensors), or
// from an adapter file together with the backbone it was trained on (empty: the
// shipped backbone).
func LoadModel(path, backbonePath string) (*Model, error) {
	sd, err := checkpoint.Load(path)
	if err != nil {
		return nil, err
	}
	return ModelFromStateDict(sd, path, backbonePath)
}

// ModelFromStateDict is LoadModel for a file already read; path names it in errors.
func ModelFromStateDict(sd *checkpoint.StateDict, path, backbonePath string) (*Model, error) {
	return modelFromStateDict(sd, path, func(cfg model.Config, _ *checkpoint.StateDict) (*model.PointTransformer, string, error) {
		bb, _, err := LoadBackbone(backbonePath, cfg.Classes, cfg.NumGroup, cfg.GroupSize)
		if err != nil {
			return nil, "", err
		}
		return bb, backboneName(backbonePath), nil
	})
}

// backboneFunc builds the pre-trained backbone an adapter (whose tensors are given) is
// loaded onto, and names it for messages.
type backboneFunc func(cfg model.Config, adapter *checkpoint.StateDict) (*model.PointTransformer, string, error)

func modelFromStateDict(sd *checkpoint.StateDict, path string, backbone backboneFunc) (*Model, error) {
	if sd.Meta[checkpoint.MetaFormatKey] != checkpoint.MetaFormatValue || sd.Meta[MetaModelConfig] == "" {
		return nil, fmt.Errorf("read %s: not a pointpeft run checkpoint or adapter", path)
	}
	if sd.Meta[MetaClasses] == "" {
		return nil, fmt.Errorf("read %s: a pre-trained backbone, not a fine-tuned model (no classes, no head): fine-tune it first (pointpeft finetune --backbone %s)", path, path)
	}
	var cfg model.Config
	if err := json.Unmarshal([]byte(sd.Meta[MetaModelConfig]), &cfg); err != nil {
		return nil, fmt.Errorf("read %s: model config: %w", path, err)
	}
	var classes []string
	if err := json.Unmarshal([]byte(sd.Meta[MetaClasses]), &classes); err != nil {
		return nil, fmt.Errorf("read %s: class names: %w", path, err)
	}
	method := peft.Method(sd.Meta[MetaMethod])
	if _, err := method.Trains(""); err != nil {
		return nil, fmt.Errorf("read %s: %w (a program links the methods it imports, e.g. github.com/pointpeft/pointpeft/peft/pointlora)", path, err)
	}
	pcfg := peft.Config{Mode: peft.Mode(sd.Meta[MetaMode])}
	if method == peft.MethodPointPEFT {
		if err := json.Unmarshal([]byte(sd.Meta[MetaPEFTConfig]), &pcfg); err != nil {
			return nil, fmt.Errorf("read %s: point-peft config: %w", path, err)
		}
	}
	adapterOnly := strings.HasPrefix(sd.Meta["content"], "trainable parameters only")
	var bb *model.PointTransformer
	var err error
	if adapterOnly {
		var name string
		if bb, name, err = backbone(cfg, modelTensors(sd)); err != nil {
			return nil, err
		}
		if h := peft.BackboneHash(bb); h != sd.Meta[MetaBackbone] {
			return nil, fmt.Errorf("read %s: the adapter was trained on backbone %s, but %s is backbone %s (pass the backbone it was trained on with --backbone)",
				path, sd.Meta[MetaBackbone], name, h)
		}
	} else {
		if bb, err = model.New(cfg, rand.New(rand.NewPCG(0, 1))); err != nil {
			return nil, err
		}
	}
	if !adapterOnly && method == peft.MethodPointPEFT {
		// The prior encoder snapshots the backbone at NewModel: give it the pre-trained
		// values first (stored as prior.*), the fine-tuned ones after. (Other methods
		// get every tensor below, by their own names.)
		pre := checkpoint.NewStateDict()
		for _, k := range sd.Keys {
			if strings.HasPrefix(k, "prior.") {
				pre.Set(strings.TrimPrefix(k, "prior."), sd.Tensors[k])
			} else if _, ok := sd.Tensors["prior."+k]; !ok && k != bankKey {
				pre.Set(k, sd.Tensors[k])
			}
		}
		if _, err := nn.LoadState(bb, pre); err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
	}
	bank, err := storedBank(sd, path, cfg.TransDim)
	if err != nil {
		return nil, err
	}
	m, err := NewModel(bb, method, pcfg, classes, bank, 0)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	m.BackboneHash = sd.Meta[MetaBackbone]
	rep, err := nn.LoadState(m.Net, modelTensors(sd))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(rep.Unexpected) > 0 {
		return nil, fmt.Errorf("read %s: tensors the %s model does not have: %v", path, method, rep.Unexpected)
	}
	if !adapterOnly && len(rep.Missing) > 0 {
		return nil, fmt.Errorf("read %s: tensors missing: %v", path, rep.Missing)
	}
	return m, nil
}

// BankSource adapts a data set to peft.BankSource, for building memory banks.
func BankSource(ds dataset.Dataset) peft.BankSource { return bankSource{ds} }

type bankSource struct{ ds dataset.Dataset }

func (c bankSource) Len() int { return c.ds.Len() }
func (c bankSource) Cloud(i int) ([]float32, error) {
	s, err := c.ds.Get(i)
	return s.Points, err
}

// modelTensors is the network's part of a run file: without the frozen prior encoder,
// the memory bank and the optimizer state stored beside it.
func modelTensors(sd *checkpoint.StateDict) *checkpoint.StateDict {
	out := checkpoint.NewStateDict()
	for _, k := range sd.Keys {
		if !strings.HasPrefix(k, "prior.") && k != bankKey && !strings.HasPrefix(k, "optim.") {
			out.Set(k, sd.Tensors[k])
		}
	}
	return out
}

// storedBank is the memory bank a run file holds (nil when it holds none), for a model
// dim wide; path names the file in errors.
func storedBank(sd *checkpoint.StateDict, path string, dim int) (*peft.MemoryBank, error) {
	t, ok := sd.Tensors[bankKey]
	if !ok {
		return nil, nil
	}
	if len(t.Shape) != 2 || t.Shape[1] != dim {
		return nil, fmt.Errorf("read %s: memory bank has shape %v, the model is %d wide", path, t.Shape, dim)
	}
	return &peft.MemoryBank{Features: t.F32, Dim: t.Shape[1], Meta: map[string]string{}}, nil
}

// RunBank is the memory bank a run directory's last checkpoint holds, so that a resumed
// run uses the bank it trained with instead of building it again; nil when the run
// has no checkpoint or no bank yet.
func RunBank(dir string, dim int) (*peft.MemoryBank, error) {
	path := filepath.Join(dir, "last.safetensors")
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	sd, err := checkpoint.Load(path)
	if err != nil {
		return nil, err
	}
	return storedBank(sd, path, dim)
}

// backboneName is what messages call a backbone path.
func backboneName(path string) string {
	if path == "" {
		return "the shipped " + shippedName
	}
	return path
}
