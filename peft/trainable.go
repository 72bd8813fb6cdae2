package peft

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/pointpeft/pointpeft/tensor"
)

// Method names a fine-tuning method, i.e. which parameters it trains.
type Method string

const (
	// MethodPointPEFT trains what the authors' name filter selects (spec §5).
	MethodPointPEFT Method = "point-peft"
	// MethodFull trains every parameter.
	MethodFull Method = "full"
	// MethodLinear trains the classification head only (linear probing of the frozen
	// features, with the reference's MLP head).
	MethodLinear Method = "linear"
	// MethodBitFit trains every bias, the normalisation layers' shifts and the head.
	MethodBitFit Method = "bitfit"
)

// authorsTrainable are the substrings of the authors' filter (runner_cache_prompt.py),
// matched against DataParallel names, i.e. with a leading "module.".
var authorsTrainable = []string{
	"attn_free_linear", "cp", "adapter1", "norm3", "attn1.", "out_transform", ".adapter.", "proj.bias",
	"fc2.bias", "fc1.bias", "norm2.bias", "norm1.bias", "prompt_cor", "cache_gate", "cls_pos", "cls_token",
	"cls_head_", "norm.", ".gate", "ad_gate", "prompt_embedding",
}

// AuthorsTrainable reports whether the authors' filter trains the named parameter.
func AuthorsTrainable(name string) bool {
	n := "module." + name
	for _, s := range authorsTrainable {
		if strings.Contains(n, s) {
			return true
		}
	}
	return false
}

// Trains reports whether method trains the named parameter.
func (m Method) Trains(name string) (bool, error) {
	switch m {
	case MethodPointPEFT:
		return AuthorsTrainable(name), nil
	case MethodFull:
		return true, nil
	case MethodLinear:
		return strings.HasPrefix(name, "cls_head_finetune."), nil
	case MethodBitFit:
		return strings.HasSuffix(name, ".bias") || strings.HasPrefix(name, "cls_head_finetune."), nil
	}
	if s, ok := LookupMethod(m); ok {
		return s.Trains(name), nil
	}
	return false, fmt.Errorf("unknown method %q (known: %v)", m, Methods())
}

// SetTrainable freezes or unfreezes every parameter as method says.
func SetTrainable(params []*tensor.Tensor, method Method) error {
	for _, p := range params {
		on, err := method.Trains(p.Name())
		if err != nil {
			return err
		}
		p.SetTrainable(on)
	}
	return nil
}

// Summary counts parameters, trainable and total, overall and per module group.
type Summary struct {
	Trainable, Total int
	Groups           []GroupCount
}

// GroupCount is one module group's count.
type GroupCount struct {
	Group            string
	Trainable, Total int
}

// groupOf names the module group of a parameter for the summary, with the paper's
// vocabulary where it applies.
func groupOf(name string) string {
	switch {
	case strings.Contains(name, "prompt_embeddings"):
		return "prompt tokens (Point-prior Prompt)"
	case strings.Contains(name, "cp_adapter"):
		return "cache-prompt adapters (Point-prior Prompt)"
	case name == "prompt_cor":
		return "prompt coordinates"
	case strings.Contains(name, ".adapter1."):
		return "residual adapters (GA-Adapter)"
	case strings.Contains(name, ".adapter."):
		return "FFN adapters (GA-Adapter)"
	case strings.Contains(name, "attn1") || strings.Contains(name, "norm3"):
		return "local attention (GA-Adapter)"
	case strings.Contains(name, "out_transform"):
		return "pooling BatchNorm (GA-Adapter)"
	case strings.Contains(name, "ad_gate"):
		return "ad_gate (unused)"
	case strings.HasPrefix(name, "cls_head_finetune"):
		return "head"
	case strings.HasPrefix(name, "encoder.") || strings.HasPrefix(name, "reduce_dim"):
		return "token encoder"
	case strings.HasPrefix(name, "pos_embed"):
		return "positional embedding"
	case name == "cls_token" || name == "cls_pos":
		return "cls token"
	case strings.HasPrefix(name, "norm."):
		return "final norm"
	case strings.HasPrefix(name, "blocks.blocks.") && strings.HasSuffix(name, ".bias"):
		return "backbone block biases"
	case strings.HasPrefix(name, "blocks.blocks."):
		return "backbone block weights"
	}
	return "other"
}

// Summarize counts params.
func Summarize(params []*tensor.Tensor) Summary {
	var s Summary
	idx := map[string]int{}
	for _, p := range params {
		g := groupOf(p.Name())
		i, ok := idx[g]
		if !ok {
			i = len(s.Groups)
			idx[g] = i
			s.Groups = append(s.Groups, GroupCount{Group: g})
		}
		s.Groups[i].Total += p.Numel()
		s.Total += p.Numel()
		if p.RequiresGrad() {
			s.Groups[i].Trainable += p.Numel()
			s.Trainable += p.Numel()
		}
	}
	sort.SliceStable(s.Groups, func(a, b int) bool { return s.Groups[a].Trainable > s.Groups[b].Trainable })
	return s
}

// Write prints the summary as a table.
func (s Summary) Write(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "module group\ttrainable\ttotal\t")
	for _, g := range s.Groups {
		fmt.Fprintf(tw, "%s\t%d\t%d\t\n", g.Group, g.Trainable, g.Total)
	}
	fmt.Fprintf(tw, "all\t%d\t%d\t\n", s.Trainable, s.Total)
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "trainable share: %.2f%%\n", 100*float64(s.Trainable)/float64(max(s.Total, 1)))
	return err
}
