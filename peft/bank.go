package peft

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pointpeft/pointpeft/checkpoint"
	"github.com/pointpeft/pointpeft/nn"
	"github.com/pointpeft/pointpeft/pcio"
	"github.com/pointpeft/pointpeft/tensor"
)

// MemoryBank is the Point-prior Bank: the L2-normalised prior features of the training
// shapes, one row each ([N, Dim]; the authors store the transpose). Meta records how it
// was built; "backbone" is the hash of the pre-trained weights it came from.
type MemoryBank struct {
	Features []float32
	Dim      int
	Meta     map[string]string
}

// Len is the number of stored features.
func (b *MemoryBank) Len() int { return len(b.Features) / max(b.Dim, 1) }

// BackboneHash identifies pre-trained weights: SHA-256 over the parameters' names,
// shapes and values in state-dict order (buffers excluded, since fine-tuning moves
// them). A bank or adapter names the backbone it belongs to by this hash.
func BackboneHash(m nn.Stateful) string {
	h := sha256.New()
	// Hashed through a small buffer: a copy of each tensor would cost as much memory as
	// the weights themselves, for a moment, at every start.
	var buf [4096]byte
	for _, p := range m.Params() {
		fmt.Fprintf(h, "%s%v;", p.Name(), p.Shape())
		for lo := 0; lo < len(p.Data); lo += len(buf) / 4 {
			chunk := p.Data[lo:min(lo+len(buf)/4, len(p.Data))]
			for i, v := range chunk {
				binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
			}
			h.Write(buf[:4*len(chunk)])
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// BankSource gives the clouds a bank is built from: Len clouds of NumPoints points.
type BankSource interface {
	Len() int
	// Cloud returns sample i's points (NumPoints·3 values).
	Cloud(i int) ([]float32, error)
}

// BuildBank runs the prior encoder over every cloud of src, in order and without
// augmentation, in batches, and L2-normalises each feature (spec §9.3: the authors'
// build code is missing; normalising and not augmenting are our assumptions).
// progress, if set, is called after each batch with the clouds done so far.
func BuildBank(prior *PriorEncoder, src BankSource, numPoints, batch int, meta map[string]string, progress func(done int)) (*MemoryBank, error) {
	n := src.Len()
	if n == 0 {
		return nil, fmt.Errorf("memory bank: the data set is empty")
	}
	c := prior.Dim()
	bank := &MemoryBank{Features: make([]float32, 0, n*c), Dim: c, Meta: map[string]string{}}
	for k, v := range meta {
		bank.Meta[k] = v
	}
	start := time.Now()
	arena := tensor.NewArena()
	defer arena.Close()
	for lo := 0; lo < n; lo += batch {
		hi := min(lo+batch, n)
		pts := make([]float32, 0, (hi-lo)*numPoints*3)
		for i := lo; i < hi; i++ {
			p, err := src.Cloud(i)
			if err != nil {
				return nil, fmt.Errorf("memory bank: sample %d: %w", i, err)
			}
			if len(p) != numPoints*3 {
				return nil, fmt.Errorf("memory bank: sample %d has %d points, want %d", i, len(p)/3, numPoints)
			}
			pts = append(pts, p...)
		}
		// The features are the arena's until the step ends: normalised into the bank
		// inside it.
		var err error
		arena.Step(func() {
			var f []float32
			if f, err = prior.Feature(pts, hi-lo, numPoints); err != nil {
				err = fmt.Errorf("memory bank: samples %d-%d: %w", lo, hi-1, err)
				return
			}
			for i := 0; i < hi-lo && err == nil; i++ {
				err = appendUnit(bank, f[i*c:(i+1)*c], lo+i)
			}
		})
		if err != nil {
			return nil, err
		}
		if progress != nil {
			progress(hi)
		}
	}
	bank.Meta["n"] = strconv.Itoa(n)
	bank.Meta["dim"] = strconv.Itoa(c)
	bank.Meta["normalised"] = "l2"
	bank.Meta["augmentation"] = "none"
	bank.Meta["build_seconds"] = strconv.FormatFloat(time.Since(start).Seconds(), 'f', 1, 64)
	return bank, nil
}

// Save writes the bank as safetensors ("features" [N, Dim] plus the metadata),
// atomically.
func (b *MemoryBank) Save(path string) error {
	sd := checkpoint.NewStateDict()
	sd.Set("features", checkpoint.NewF32([]int{b.Len(), b.Dim}, b.Features))
	sd.Meta[checkpoint.MetaFormatKey] = checkpoint.LayoutMemoryBank
	for k, v := range b.Meta {
		sd.Meta[k] = v
	}
	if err := checkpoint.WriteSafetensors(path, sd); err != nil {
		return fmt.Errorf("save memory bank: %w", err)
	}
	return nil
}

// LoadBank reads a bank written by Save, the authors' raw tensor file (a torch.save
// of a [Dim, N] tensor, e.g. train_f_pos_shape_scan.pt), or a .npy array ([N, Dim] as
// ours, or [Dim, N] as the authors'; a square one is read as ours), and checks it fits
// a model of width dim. backbone, if not empty, must equal the bank's recorded backbone
// hash.
func LoadBank(path string, dim int, backbone string) (*MemoryBank, error) {
	var sd *checkpoint.StateDict
	if strings.EqualFold(filepath.Ext(path), ".npy") {
		data, shape, err := pcio.ReadNPY(path)
		if err != nil {
			return nil, fmt.Errorf("load memory bank %s: %w", path, err)
		}
		if len(shape) != 2 {
			return nil, fmt.Errorf("load memory bank %s: array of shape %v, want [N, %d] or [%d, N]", path, shape, dim, dim)
		}
		sd = checkpoint.NewStateDict()
		if shape[1] == dim {
			sd.Meta[checkpoint.MetaFormatKey] = checkpoint.LayoutMemoryBank
			sd.Set("features", checkpoint.NewF32(shape, data))
		} else {
			sd.Set("bank", checkpoint.NewF32(shape, data))
		}
	} else {
		var err error
		if sd, err = checkpoint.Load(path); err != nil {
			return nil, fmt.Errorf("load memory bank: %w", err)
		}
	}
	bank := &MemoryBank{Meta: map[string]string{}}
	if t, ok := sd.Tensors["features"]; ok && sd.Meta[checkpoint.MetaFormatKey] == checkpoint.LayoutMemoryBank {
		if len(t.Shape) != 2 || !t.IsFloat() {
			return nil, fmt.Errorf("load memory bank %s: features have shape %v", path, t.Shape)
		}
		bank.Features, bank.Dim = t.F32, t.Shape[1]
		for k, v := range sd.Meta {
			bank.Meta[k] = v
		}
	} else {
		if len(sd.Keys) != 1 {
			return nil, fmt.Errorf("load memory bank %s: neither a pointpeft bank nor a single [dim, N] tensor (%d tensors)", path, len(sd.Keys))
		}
		t := sd.Tensors[sd.Keys[0]]
		if len(t.Shape) != 2 || !t.IsFloat() {
			return nil, fmt.Errorf("load memory bank %s: tensor has shape %v, want [dim, N]", path, t.Shape)
		}
		c, n := t.Shape[0], t.Shape[1]
		bank.Dim = c
		bank.Features = make([]float32, n*c)
		for i := 0; i < c; i++ {
			for j := 0; j < n; j++ {
				bank.Features[j*c+i] = t.F32[i*n+j]
			}
		}
		bank.Meta["source"] = "authors' [dim, N] tensor"
	}
	if bank.Dim != dim {
		return nil, fmt.Errorf("load memory bank %s: features are %d-dimensional, the model is %d wide", path, bank.Dim, dim)
	}
	if bank.Len() == 0 {
		return nil, fmt.Errorf("load memory bank %s: the bank is empty", path)
	}
	if !tensor.AllFinite(bank.Features) {
		return nil, fmt.Errorf("load memory bank %s: features contain NaN or Inf", path)
	}
	if backbone != "" && bank.Meta["backbone"] != "" && bank.Meta["backbone"] != backbone {
		return nil, fmt.Errorf("load memory bank %s: built from backbone %s, but the model's backbone is %s", path, bank.Meta["backbone"], backbone)
	}
	return bank, nil
}

// appendUnit appends the feature of sample i, scaled to unit length, to the bank.
func appendUnit(bank *MemoryBank, row []float32, i int) error {
	start := len(bank.Features)
	bank.Features = append(bank.Features, row...)
	if norm, ok := unitInto(bank.Features[start:], row); !ok {
		return fmt.Errorf("memory bank: sample %d has a feature of norm %g", i, norm)
	}
	return nil
}

// unitInto writes row scaled to unit length (summed in float64) into dst; ok is false,
// with the norm, when the norm is zero or not finite.
func unitInto(dst, row []float32) (norm float64, ok bool) {
	var ss float64
	for _, v := range row {
		ss += float64(v) * float64(v)
	}
	if ss == 0 || math.IsNaN(ss) || math.IsInf(ss, 0) {
		return math.Sqrt(ss), false
	}
	inv := float32(1 / math.Sqrt(ss))
	for j, v := range row {
		dst[j] = v * inv
	}
	return math.Sqrt(ss), true
}
