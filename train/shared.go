package train

import (
	"fmt"
	"sync"

	"github.com/pointpeft/pointpeft/checkpoint"
	"github.com/pointpeft/pointpeft/model"
)

// SharedBackbone is a pre-trained backbone read once, for loading many adapters onto
// it: every adapter model's frozen tensors (those its file does not hold) point at one
// copy of the backbone's weights instead of each holding its own, so N adapters cost
// the backbone once plus N times their own tensors. The shared weights are read-only:
// the models built on it are for inference (training would change them for all).
type SharedBackbone struct {
	sd   *checkpoint.StateDict
	name string

	mu sync.Mutex
	// base holds the shared storage by architecture (the class count only changes
	// the head, which adapters carry); no model uses it.
	base map[model.Config]*model.PointTransformer
}

// OpenSharedBackbone reads the backbone at path (empty: the shipped one).
func OpenSharedBackbone(path string) (*SharedBackbone, error) {
	sd, name, err := ReadBackbone(path)
	if err != nil {
		return nil, err
	}
	return &SharedBackbone{sd: sd, name: name, base: map[model.Config]*model.PointTransformer{}}, nil
}

// Name is the backbone's file, or the shipped backbone's name.
func (b *SharedBackbone) Name() string { return b.name }

// ModelFromStateDict is the package's ModelFromStateDict with this backbone: an
// adapter file is loaded onto it, sharing its frozen weights; a full checkpoint holds
// its own and is loaded as it is. path names the file in errors.
func (b *SharedBackbone) ModelFromStateDict(sd *checkpoint.StateDict, path string) (*Model, error) {
	return modelFromStateDict(sd, path, b.build)
}

// build makes a backbone for cfg whose tensors outside the adapter point at the
// shared storage. It shares before the model is wrapped, so that the Point-PEFT prior
// encoder (which shares the backbone's untrained tensors) points there too.
func (b *SharedBackbone) build(cfg model.Config, adapter *checkpoint.StateDict) (*model.PointTransformer, string, error) {
	bb, _, err := BackboneFromStateDict(b.sd, b.name, cfg.Classes, cfg.NumGroup, cfg.GroupSize)
	if err != nil {
		return nil, "", err
	}
	key := bb.Cfg
	key.Classes = 0
	b.mu.Lock()
	defer b.mu.Unlock()
	base, ok := b.base[key]
	if !ok {
		// A copy of its own: the models' copies get their adapters' tensors.
		if base, _, err = BackboneFromStateDict(b.sd, b.name, cfg.Classes, cfg.NumGroup, cfg.GroupSize); err != nil {
			return nil, "", err
		}
		b.base[key] = base
	}
	mine, theirs := bb.Params(), base.Params()
	if len(mine) != len(theirs) {
		return nil, "", fmt.Errorf("shared backbone %s: %d tensors, %d in the first one built", b.name, len(mine), len(theirs))
	}
	for i, p := range mine {
		q := theirs[i]
		if _, own := adapter.Tensors[p.Name()]; own || p.Name() != q.Name() || len(p.Data) != len(q.Data) {
			continue
		}
		p.Data = q.Data
	}
	return bb, b.name, nil
}
