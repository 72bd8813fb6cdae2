package checkpoint

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Layout names returned by DetectFormat.
const (
	LayoutPointMAEPretrain  = "point-mae-pretrain"
	LayoutPointMAEFinetuned = "point-mae-finetuned"
	LayoutPointBERT         = "point-bert"
	LayoutPointPEFT         = "pointpeft-safetensors"
	// LayoutPointPEFTAuthors is the authors' fine-tuned Point-PEFT checkpoint
	// (PointTransformer_best: prompt_cor, prompts, adapters, blocks.attn1), whose
	// frozen prior encoder and memory bank live in other files.
	LayoutPointPEFTAuthors = "point-peft-authors-finetuned"
	// LayoutMemoryBank is a Point-PEFT memory bank written by pointpeft.
	LayoutMemoryBank = "pointpeft-memory-bank"
	LayoutUnknown    = "unknown"
)

// MetaFormatKey and MetaFormatValue mark safetensors files written by this
// project; DetectFormat recognises them.
const (
	MetaFormatKey   = "format"
	MetaFormatValue = "pointpeft"
)

// StripModule removes every occurrence of "module." from a key, exactly as
// the official loaders do with k.replace("module.", "") to undo
// DataParallel / DistributedDataParallel wrapping.
func StripModule(key string) string { return strings.ReplaceAll(key, "module.", "") }

// DetectFormat names the layout of a state dict: "pointpeft-safetensors" when
// its metadata says format=pointpeft, "point-bert" for transformer_q.* /
// dvae.* keys (pre-training) or cls_head_finetune.* together with
// reduce_dim.* (Point-BERT's fine-tuned backbone, which Point-MAE lacks),
// "point-mae-pretrain" for MAE_encoder.* / MAE_decoder.* keys,
// "point-peft-authors-finetuned" for the authors' Point-PEFT model (prompt_cor),
// "point-mae-finetuned" for cls_head_finetune.*, "pointpeft-memory-bank" for our
// banks, else "unknown". Keys are compared after StripModule.
func DetectFormat(sd *StateDict) string {
	switch sd.Meta[MetaFormatKey] {
	case MetaFormatValue:
		return LayoutPointPEFT
	case LayoutMemoryBank:
		return LayoutMemoryBank
	}
	has := func(prefixes ...string) bool {
		for _, k := range sd.Keys {
			k = StripModule(k)
			for _, p := range prefixes {
				if strings.HasPrefix(k, p) {
					return true
				}
			}
		}
		return false
	}
	switch {
	case has("transformer_q.", "dvae."):
		return LayoutPointBERT
	case has("MAE_encoder.", "MAE_decoder."):
		return LayoutPointMAEPretrain
	case has("prompt_cor", "base_model.prompt_cor"):
		return LayoutPointPEFTAuthors
	case has("cls_head_finetune.") && has("reduce_dim."):
		return LayoutPointBERT
	case has("cls_head_finetune."):
		return LayoutPointMAEFinetuned
	}
	return LayoutUnknown
}

// MapPointMAEKeys renames keys as Point-MAE's PointTransformer.load_model_from_ckpt
// does: strip every "module.", then a leading "MAE_encoder." or
// "base_model.". Other keys are kept (they show up as unexpected in Match).
// Tensors are shared, not copied; order is kept.
func MapPointMAEKeys(sd *StateDict) *StateDict {
	return renameKeys(sd, func(k string) (string, bool) {
		k = StripModule(k)
		for _, p := range []string{"MAE_encoder.", "base_model."} {
			if strings.HasPrefix(k, p) {
				return k[len(p):], true
			}
		}
		return k, true
	})
}

// MapPointBERTKeys renames keys as Point-BERT's PointTransformer.load_model_from_ckpt
// does: strip every "module.", keep "transformer_q.*" (minus the prefix,
// except the pre-training transformer_q.cls_head.*) and "base_model.*" (minus
// the prefix), and drop everything else (transformer_k.*, dvae.*, ...). The
// kept backbone keys are encoder.*, reduce_dim.*, cls_token, cls_pos,
// pos_embed.*, blocks.blocks.* and norm.*.
func MapPointBERTKeys(sd *StateDict) *StateDict {
	return renameKeys(sd, func(k string) (string, bool) {
		k = StripModule(k)
		switch {
		case strings.HasPrefix(k, "transformer_q.") && !strings.HasPrefix(k, "transformer_q.cls_head"):
			return k[len("transformer_q."):], true
		case strings.HasPrefix(k, "base_model."):
			return k[len("base_model."):], true
		}
		return "", false
	})
}

// MapKeys applies the renaming for a DetectFormat layout: Point-BERT's for
// "point-bert", Point-MAE's for the Point-MAE layouts, and StripModule
// otherwise.
func MapKeys(sd *StateDict, layout string) *StateDict {
	switch layout {
	case LayoutPointBERT:
		return MapPointBERTKeys(sd)
	case LayoutPointMAEPretrain, LayoutPointMAEFinetuned, LayoutPointPEFTAuthors:
		return MapPointMAEKeys(sd)
	}
	return renameKeys(sd, func(k string) (string, bool) { return StripModule(k), true })
}

// renameKeys builds a new StateDict with renamed keys; when two keys map to
// the same name the later one wins, as with Python dict assignment.
func renameKeys(sd *StateDict, f func(string) (string, bool)) *StateDict {
	out := NewStateDict()
	for k, v := range sd.Meta {
		out.Meta[k] = v
	}
	for _, k := range sd.Keys {
		if nk, keep := f(k); keep {
			out.Set(nk, sd.Tensors[k])
		}
	}
	return out
}

// ShapeMismatch describes one key whose checkpoint shape differs from the
// model's.
type ShapeMismatch struct {
	Key        string
	Checkpoint []int
	Model      []int
}

// ShapeMismatchError lists every shape mismatch found by Match, like the
// "size mismatch for ..." errors of PyTorch's load_state_dict.
type ShapeMismatchError struct{ Mismatches []ShapeMismatch }

func (e *ShapeMismatchError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d shape mismatch(es)", len(e.Mismatches))
	for _, m := range e.Mismatches {
		fmt.Fprintf(&b, "; %s: checkpoint has %v, model wants %v", m.Key, m.Checkpoint, m.Model)
	}
	return b.String()
}

// Match compares a model's expected parameter shapes with a (renamed) state
// dict, like load_state_dict(strict=False): loaded keys are in both with
// equal shapes (in have's order), missing keys are wanted but absent
// (sorted), unexpected keys are present but not wanted (in have's order).
// Keys whose shapes differ are neither loaded nor missing; they make err a
// *ShapeMismatchError naming each key and both shapes.
func Match(want map[string][]int, have *StateDict) (loaded, missing, unexpected []string, err error) {
	var mm []ShapeMismatch
	for _, k := range have.Keys {
		ws, ok := want[k]
		if !ok {
			unexpected = append(unexpected, k)
			continue
		}
		hs := have.Tensors[k].Shape
		if !slices.Equal(ws, hs) {
			mm = append(mm, ShapeMismatch{Key: k, Checkpoint: slices.Clone(hs), Model: slices.Clone(ws)})
			continue
		}
		loaded = append(loaded, k)
	}
	for k := range want {
		if _, ok := have.Tensors[k]; !ok {
			missing = append(missing, k)
		}
	}
	sort.Strings(missing)
	if len(mm) > 0 {
		err = &ShapeMismatchError{Mismatches: mm}
	}
	return loaded, missing, unexpected, err
}
