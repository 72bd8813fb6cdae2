package tensor

// Recompute returns f(x) but keeps only x for the backward pass: the activations made
// inside f are dropped as soon as f returns, and f runs a second time, recording, when
// its output's gradient arrives. It trades a second forward pass of f for its memory,
// which pays where f is cheap and its activations are large (Point-PEFT's local
// attention over every neighbourhood: a LayerNorm, two narrow projections and 16×16
// attention, whose inputs are the gathered neighbourhoods).
//
// f must compute the same values both times: no dropout or other randomness. It may use
// parameters, which get their gradients from the second run, and x, which may or may
// not require a gradient; any other tensor it reads must not require one (Recompute
// panics otherwise: the second run would reach into the rest of the graph).
func Recompute(x *Tensor, f func(*Tensor) *Tensor) *Tensor {
	if !GradEnabled() {
		return f(x)
	}
	mark, amark := nodeSeq.Load(), arenaMark()
	in := standIn(x)
	z := f(in)
	if !z.requiresGrad {
		return z
	}
	dropGraph(z, in, mark, amark)
	out := &Tensor{shape: z.shape, Data: z.Data, requiresGrad: true, parents: []*Tensor{x}, seq: nodeSeq.Add(1)}
	x.kept = true
	out.backward = func() {
		xd := standIn(x)
		if x.requiresGrad {
			xd.Grad, xd.gradShared = x.grad(), true
		}
		amark := arenaMark()
		z := f(xd)
		// The output's gradient seeds the second run's graph, which then owns it (an
		// input of z may take it over), so out's own step must not recycle it.
		z.Grad, out.gradGiven = out.Grad, true
		sweep(z)
		if !z.view { // a view's data goes with the tensor it views
			releaseSince(z.Data, amark)
		}
	}
	return out
}

// standIn is a leaf sharing x's data, through which f of Recompute reaches x.
func standIn(x *Tensor) *Tensor {
	return &Tensor{shape: x.shape, Data: x.Data, requiresGrad: x.requiresGrad}
}

// dropGraph cuts z from the graph recorded since mark and gives back the data of the
// nodes made since then, other than z's (buffers lent before amark are not theirs). It
// panics when that graph reads a gradient-requiring tensor other than in and parameters.
func dropGraph(z, in *Tensor, mark uint64, amark int) {
	nodes := nodesSince(z, mark, func(p *Tensor) {
		if p.requiresGrad && !p.param && p != in {
			shapeErr("Recompute", "f reads a tensor that requires a gradient other than its input and parameters", p)
		}
	})
	for _, t := range nodes {
		if t != z && len(t.Data) > 0 && (len(z.Data) == 0 || &t.Data[0] != &z.Data[0]) {
			releaseSince(t.Data, amark)
			t.Data = nil
		}
		t.parents, t.backward = nil, nil
	}
}
