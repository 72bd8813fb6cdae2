package nn

import (
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// TestRecomputeText: every mode reads back from its name, configurations written when
// the setting was a switch read as none and all, and a bad value is an error that lists
// the choices.
func TestRecomputeText(t *testing.T) {
	for _, r := range []Recompute{RecomputeNone, RecomputeMLP, RecomputeAll} {
		b, _ := r.MarshalText()
		var got Recompute
		if err := got.UnmarshalText(b); err != nil || got != r {
			t.Errorf("%v: read back %v, %v", r, got, err)
		}
	}
	for in, want := range map[string]Recompute{"false": RecomputeNone, "true": RecomputeAll} {
		if got, err := ParseRecompute(in); err != nil || got != want {
			t.Errorf("%q: %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := ParseRecompute("attn"); err == nil || !strings.Contains(err.Error(), "want none, mlp or all") {
		t.Errorf("attn: %v", err)
	}
}

// TestRecomputeFlag: as a flag, the mode takes a value, given either way.
func TestRecomputeFlag(t *testing.T) {
	for args, want := range map[string]Recompute{"": RecomputeMLP, "--recompute all": RecomputeAll, "--recompute=none": RecomputeNone} {
		fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
		r := RecomputeMLP
		fs.Var(&r, "recompute", "")
		if err := fs.Parse(strings.Fields(args)); err != nil || r != want || fs.NArg() != 0 {
			t.Errorf("%q: %v, %v; want %v", args, r, err, want)
		}
	}
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	var r Recompute
	fs.Var(&r, "recompute", "")
	if err := fs.Parse([]string{"--recompute=yes"}); err == nil {
		t.Error("--recompute=yes accepted")
	}
}

// TestRecomputeBranches: which branches each mode recomputes, in training only.
func TestRecomputeBranches(t *testing.T) {
	for _, c := range []struct {
		r         Recompute
		train     bool
		attn, mlp bool
	}{{RecomputeNone, true, false, false}, {RecomputeMLP, true, false, true}, {RecomputeAll, true, true, true}, {RecomputeAll, false, false, false}} {
		ctx := &Ctx{Train: c.train, Recompute: c.r}
		if ctx.RecomputeAttn() != c.attn || ctx.RecomputeHidden() != c.mlp {
			t.Errorf("%v train=%v: attn %v mlp %v", c.r, c.train, ctx.RecomputeAttn(), ctx.RecomputeHidden())
		}
	}
}
