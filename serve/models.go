package serve

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/pointpeft/pointpeft/checkpoint"
	"github.com/pointpeft/pointpeft/peft"
	"github.com/pointpeft/pointpeft/predict"
	"github.com/pointpeft/pointpeft/train"
)

// validName is what a model may be called: a file name without its extension, no
// path separators, no leading dot. Request names are only ever looked up among the
// loaded models, never joined to a path.
var validName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// runAdapter and runBest are the files of a run directory that are served under the
// directory's name: the adapter when there is one, otherwise the full checkpoint.
const (
	runAdapter = "adapter.safetensors"
	runBest    = "best.safetensors"
)

// Model is one served model.
type Model struct {
	Info
	pred  *predict.Predictor
	batch *batcher
	stamp stamp
}

// Info describes a model in the model list.
type Info struct {
	Name   string `json:"name"`
	Method string `json:"method"`
	// Mode is the method's forward pass, when it has several.
	Mode    string   `json:"mode,omitempty"`
	Classes []string `json:"classes"`
	// Trainable counts the parameters the fine-tuning trained (what the file holds
	// beyond the backbone); Total the model's parameters.
	Trainable    int    `json:"trainable_params"`
	Total        int    `json:"total_params"`
	BackboneHash string `json:"backbone_hash"`
	Points       int    `json:"points"`
	// Batched says whether concurrent requests share forward passes.
	Batched bool `json:"batched"`
	// File is the model's file, relative to the adapters directory.
	File     string    `json:"file"`
	LoadedAt time.Time `json:"loaded_at"`
}

// stamp is what the poller compares to notice a changed file.
type stamp struct {
	mod  time.Time
	size int64
}

// candidate is a model file found in the adapters directory.
type candidate struct {
	name, rel string
	stamp     stamp
}

// scan lists the model files of dir: every NAME.safetensors, and every run directory
// NAME/ holding adapter.safetensors (or else best.safetensors). Hidden files (such as
// the temporary files of an atomic write), symbolic links and names that are not
// valid model names are skipped.
func scan(dir string) ([]candidate, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []candidate
	for _, e := range entries {
		n := e.Name()
		switch {
		case e.Type().IsRegular() && strings.HasSuffix(n, ".safetensors"):
			name := strings.TrimSuffix(n, ".safetensors")
			if validName.MatchString(name) {
				if c, ok := stat(dir, name, n); ok {
					out = append(out, c)
				}
			}
		case e.IsDir() && validName.MatchString(n):
			for _, f := range []string{runAdapter, runBest} {
				if c, ok := stat(dir, n, filepath.Join(n, f)); ok {
					out = append(out, c)
					break
				}
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	// A file NAME.safetensors and a run directory NAME/: the file wins.
	uniq := out[:0]
	for i, c := range out {
		if i > 0 && c.name == out[i-1].name {
			continue
		}
		uniq = append(uniq, c)
	}
	return uniq, nil
}

func stat(dir, name, rel string) (candidate, bool) {
	fi, err := os.Lstat(filepath.Join(dir, rel))
	if err != nil || !fi.Mode().IsRegular() {
		return candidate{}, false
	}
	return candidate{name: name, rel: rel, stamp: stamp{fi.ModTime(), fi.Size()}}, true
}

// load reads one model file onto the shared backbone and checks whether its answers
// depend on the batch.
func load(bb *train.SharedBackbone, dir string, c candidate, opt Options) (*Model, error) {
	path := filepath.Join(dir, c.rel)
	sd, err := checkpoint.Load(path)
	if err != nil {
		return nil, err
	}
	if sd.Meta[checkpoint.MetaFormatKey] != checkpoint.MetaFormatValue {
		return nil, fmt.Errorf("read %s: not a pointpeft adapter or run checkpoint", path)
	}
	m, err := bb.ModelFromStateDict(sd, path)
	if err != nil {
		return nil, err
	}
	p := predict.FromModel(m, predict.Options{Normalize: !opt.NoNormalize, Batch: opt.MaxBatch})
	s := peft.Summarize(m.Net.Params())
	mode := string(p.Mode)
	if mode == "" {
		mode = string(m.Mode)
	}
	info := Info{Name: c.name, Method: string(m.Method), Mode: mode, Classes: m.Classes, Trainable: s.Trainable, Total: s.Total,
		BackboneHash: m.BackboneHash, Points: p.Points, File: filepath.ToSlash(c.rel), LoadedAt: time.Now().UTC()}
	if p.Mode != peft.Faithful {
		if info.Batched, err = batchIndependent(p); err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
	}
	return &Model{Info: info, pred: p, stamp: c.stamp}, nil
}

// batchIndependent checks that the model gives a cloud the same logits alone and
// next to another cloud, so that batching cannot change an answer.
func batchIndependent(p *predict.Predictor) (bool, error) {
	n := p.Points * 3
	rng := rand.New(rand.NewPCG(7, 7))
	two := make([]float32, 2*n)
	for i := range two {
		two[i] = float32(rng.NormFloat64()) * 0.5
	}
	alone, err := p.Logits(two[:n], 1)
	if err != nil {
		return false, err
	}
	both, err := p.Logits(two, 2)
	if err != nil {
		return false, err
	}
	for i, v := range alone {
		if math.Abs(float64(v-both[i])) > 1e-4*(1+math.Abs(float64(v))) {
			return false, nil
		}
	}
	return true, nil
}
