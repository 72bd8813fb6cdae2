package tensor

// Segment runs f, one piece of a forward pass such as a Transformer block, and then
// drops the data of the graph nodes made inside f that no recorded backward step reads:
// their buffers go back to the active arena (or to the garbage collector), and their
// Data becomes nil. Go has no reference counts to free an activation when its last
// reader is done, so without this every intermediate of a training step stays in memory
// until the step ends, although most of them (the input of a frozen Linear, the sum
// before a max, the output of a residual add) are never read again.
//
// The result of f is never dropped. Tensors made inside f other than the result must
// not be read after Segment returns, except through their gradients. Segments may nest.
// Without gradient recording nothing is read later, so it is Scratch: inside an arena
// step everything f made but its result goes back at once.
func Segment(f func() *Tensor) *Tensor {
	if !GradEnabled() {
		return Scratch(f)
	}
	mark, amark := nodeSeq.Load(), arenaMark()
	r := f()
	if r == nil || r.seq <= mark {
		return r
	}
	// The buffers that must survive: r's and those of kept nodes (a Reshape shares its
	// input's buffer).
	nodes := nodesSince(r, mark, nil)
	keep := map[*float32]bool{}
	for _, t := range nodes {
		if (t.kept || t == r) && len(t.Data) > 0 {
			keep[&t.Data[0]] = true
		}
	}
	for _, t := range nodes {
		if t.kept || t == r || len(t.Data) == 0 || keep[&t.Data[0]] {
			continue
		}
		releaseSince(t.Data, amark)
		t.Data = nil
	}
	return r
}

// nodesSince lists root and the graph nodes made after mark that root depends on, and
// calls older, when not nil, on each input of those made before mark.
func nodesSince(root *Tensor, mark uint64, older func(p *Tensor)) []*Tensor {
	nodes := []*Tensor{root}
	seen := map[*Tensor]bool{root: true}
	for i := 0; i < len(nodes); i++ {
		for _, p := range nodes[i].parents {
			switch {
			case p == nil || seen[p]:
			case p.seq > mark:
				seen[p] = true
				nodes = append(nodes, p)
			case older != nil:
				older(p)
			}
		}
	}
	return nodes
}

// Free gives t's data back now; the caller promises not to read t, or a view of it,
// again. It is for intermediates of a forward pass that are dead early (a block's
// output once the next block has consumed it, a frozen encoder's layer once the next
// layer has run). It does nothing to parameters, leaves, views and tensors whose data a
// recorded backward step reads.
func Free(t *Tensor) {
	if t == nil || t.param || t.view || len(t.Data) == 0 || t.kept || (t.requiresGrad && t.seq == 0) {
		return
	}
	release(t.Data)
	t.Data = nil
}
