// Package bench measures the throughput and memory of training and inference steps at
// the papers' shapes, next to a PyTorch reference run on the same machine, shapes, batch
// and thread count (tools/bench/reference.py).
package bench

import (
	"fmt"
	"strings"

	"github.com/pointpeft/pointpeft/model"
	"github.com/pointpeft/pointpeft/nn"
	"github.com/pointpeft/pointpeft/peft"
	"github.com/pointpeft/pointpeft/train"
)

// Kind says what one step of a configuration does.
type Kind string

const (
	// Train is forward, cross-entropy, backward and an AdamW update.
	Train Kind = "train"
	// Infer is an evaluation-mode forward pass without a graph.
	Infer Kind = "infer"
	// Bank is what memory-bank building does per batch: the frozen prior encoder's
	// feature of every cloud.
	Bank Kind = "bank"
)

// Config is one benchmarked workload.
type Config struct {
	// Name is the identifier shared with the reference script.
	Name  string
	Title string
	Kind  Kind
	// Method is peft.MethodPointPEFT for the Point-PEFT model and peft.MethodFull for the
	// plain Point-MAE classifier (trained in full, or evaluated).
	Method   peft.Method
	Backbone model.Config
	// PEFT sizes the Point-PEFT modules and, for Bank, the prior encoder's grouping.
	PEFT   peft.Config
	Points int
	// BankSize is the number of memory-bank entries, the training split's size.
	BankSize int
	// SpeedTarget is the wanted ratio of our samples/s to the reference's and RSSTarget
	// the largest wanted ratio of our peak RSS to the reference's; zero means none.
	SpeedTarget, RSSTarget float64
	// Recompute is the training steps' nn.Ctx.Recompute: finetune's default
	// (train.DefaultConfig) unless the name says otherwise.
	Recompute nn.Recompute
	// RefName is the reference configuration it is compared with, when not its own
	// name (the reference has no recompute mode).
	RefName string
	// NoReference marks a workload the reference script does not have (the peer
	// methods): only our side is measured.
	NoReference bool
}

// Ref is the reference configuration c is compared with.
func (c Config) Ref() string {
	if c.RefName != "" {
		return c.RefName
	}
	return c.Name
}

// Bank sizes are the training splits of ScanObjectNN PB_T50_RS (as in
// tools/oracle/make_fixtures.py) and ModelNet40.
const (
	pbBankSize   = 11392
	mn40BankSize = 9843
)

// pb is the PB_T50_RS shape: 2048 points, 128×32 groups, 15 classes.
func pb(name, title string, kind Kind, method peft.Method, speed, rss float64) Config {
	return Config{Name: name, Title: title, Kind: kind, Method: method, Backbone: model.PointMAE(15, 128, 32),
		PEFT: peft.ScanObjectNN(peft.Faithful), Points: 2048, BankSize: pbBankSize, SpeedTarget: speed, RSSTarget: rss,
		Recompute: train.DefaultConfig().Recompute}
}

// mn40 is the ModelNet40 shape: 1024 points, 64×32 groups, 40 classes.
func mn40(name, title string, kind Kind, method peft.Method, speed, rss float64) Config {
	return Config{Name: name, Title: title, Kind: kind, Method: method, Backbone: model.PointMAE(40, 64, 32),
		PEFT: peft.ModelNet40(peft.Faithful), Points: 1024, BankSize: mn40BankSize, SpeedTarget: speed, RSSTarget: rss,
		Recompute: train.DefaultConfig().Recompute}
}

// Configs lists the standard workloads with the performance issue's targets, then a
// training step and inference for every registered peer method (peft.RegisterMethod)
// at the same shape, which the reference does not have.
func Configs() []Config {
	cs := []Config{
		pb("peft-train-pb", "Point-PEFT train step, PB_T50_RS shape", Train, peft.MethodPointPEFT, 3.5, 1.0/3),
		recompute(pb("peft-train-pb-keep", "Point-PEFT train step, PB_T50_RS shape, every activation kept", Train, peft.MethodPointPEFT, 0, 0), nn.RecomputeNone),
		recompute(pb("peft-train-pb-recompute", "Point-PEFT train step, PB_T50_RS shape, both branches recomputed", Train, peft.MethodPointPEFT, 0, 1.0/3), nn.RecomputeAll),
		pb("full-train-pb", "Point-MAE full fine-tuning step, PB_T50_RS shape", Train, peft.MethodFull, 2, 0),
		pb("peft-infer-pb", "Point-PEFT inference, PB_T50_RS shape", Infer, peft.MethodPointPEFT, 3.5, 0),
		pb("mae-infer-pb", "Point-MAE inference, PB_T50_RS shape", Infer, peft.MethodFull, 1.5, 0),
		mn40("peft-train-mn40", "Point-PEFT train step, ModelNet40 shape", Train, peft.MethodPointPEFT, 3.5, 1.0/3),
		mn40("full-train-mn40", "Point-MAE full fine-tuning step, ModelNet40 shape", Train, peft.MethodFull, 2, 0),
		pb("bank-pb", "memory-bank building (prior encoder 64×32), 2048 points", Bank, peft.MethodPointPEFT, 0, 0),
	}
	for _, m := range peft.Methods() {
		if _, ok := peft.LookupMethod(m); !ok {
			continue
		}
		for _, c := range []Config{
			pb(string(m)+"-train-pb", string(m)+" train step, PB_T50_RS shape", Train, m, 0, 0),
			pb(string(m)+"-infer-pb", string(m)+" inference, PB_T50_RS shape", Infer, m, 0, 0),
		} {
			c.NoReference = true
			cs = append(cs, c)
		}
	}
	return cs
}

// recompute is c with another recompute mode, compared with the reference's step of
// the same shape (the name's first three parts).
func recompute(c Config, r nn.Recompute) Config {
	parts := strings.SplitN(c.Name, "-", 4)
	c.Recompute, c.RefName = r, strings.Join(parts[:3], "-")
	return c
}

// Names lists the standard configurations' names.
func Names() []string {
	var names []string
	for _, c := range Configs() {
		names = append(names, c.Name)
	}
	return names
}

// Lookup returns the standard configuration called name.
func Lookup(name string) (Config, error) {
	for _, c := range Configs() {
		if c.Name == name {
			return c, nil
		}
	}
	return Config{}, fmt.Errorf("bench: unknown configuration %q (have %s)", name, strings.Join(Names(), ", "))
}

// Select resolves a comma-separated list of names, or "all".
func Select(list string) ([]Config, error) {
	if list == "all" || list == "" {
		return Configs(), nil
	}
	var out []Config
	for _, name := range strings.Split(list, ",") {
		c, err := Lookup(strings.TrimSpace(name))
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// WithPoints rescales c to n points per cloud the way users do: n/16 groups of the same
// size (64 for 1024 points, 128 for 2048), so that groups still cover the cloud.
func WithPoints(c Config, n int) (Config, error) {
	g := n / 16
	if g < 2 || g < c.PEFT.PriorGroups || n < c.Backbone.GroupSize {
		return Config{}, fmt.Errorf("bench: %d points are too few for %s (need at least %d)", n, c.Name, 16*max(2, c.PEFT.PriorGroups))
	}
	c.Points = n
	c.Backbone.NumGroup = g
	return c, nil
}
