package pointgst

import (
	"cmp"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"

	"gonum.org/v1/gonum/mat"
)

// Spectra are the fixed (gradient-free) spectral bases of one batch, computed once per
// forward pass from the token centres and shared by every block's adapter.
type Spectra struct {
	// U [B, G, G] holds the global graph's Laplacian eigenvectors as columns, in
	// ascending eigenvalue order.
	U []float32
	// SubU [B·G/L, L, L] holds the same for every local graph: L consecutive tokens of
	// the cloud's z-order.
	SubU []float32
	// Order lists, for each z-order position, the flat row (b·G + token) it takes;
	// Inverse maps each flat token row back to its z-order position.
	Order, Inverse []int32
	B, G, L        int
}

// NewSpectra computes the bases of b clouds of g centres (center [B·G·3]) with local
// graphs of l tokens.
func NewSpectra(center []float32, b, g, l int, mode Mode) (*Spectra, error) {
	switch {
	case len(center) != b*g*3:
		return nil, fmt.Errorf("pointgst: %d centre coordinates for %d clouds of %d centres", len(center), b, g)
	case l < 2 || g%l != 0:
		return nil, fmt.Errorf("pointgst: %d tokens do not split into local graphs of %d", g, l)
	}
	s := &Spectra{B: b, G: g, L: l, Order: make([]int32, b*g), Inverse: make([]int32, b*g)}
	sub := make([]float32, len(center))
	for bi := 0; bi < b; bi++ {
		order := zOrder(center[bi*g*3 : (bi+1)*g*3])
		for pos, tok := range order {
			row := bi*g + tok
			s.Order[bi*g+pos] = int32(row)
			s.Inverse[row] = int32(bi*g + pos)
			copy(sub[(bi*g+pos)*3:(bi*g+pos+1)*3], center[row*3:row*3+3])
		}
	}
	var err error
	if s.U, err = bases(center, b, g, mode); err != nil {
		return nil, fmt.Errorf("pointgst: global graph: %w", err)
	}
	if s.SubU, err = bases(sub, b*g/l, l, mode); err != nil {
		return nil, fmt.Errorf("pointgst: local graph: %w", err)
	}
	return s, nil
}

// zOrder sorts g centres (xyz, flat) along the Morton curve of the authors' code: the
// coordinates ×100 truncated to integers, y's bits highest in each triple, then x, then
// z; equal keys keep their index order.
func zOrder(xyz []float32) []int {
	g := len(xyz) / 3
	keys := make([]int64, g)
	order := make([]int, g)
	for i := range keys {
		c := func(d int) int64 { return int64(float32(xyz[i*3+d] * 100)) }
		keys[i] = mortonKey(c(1), c(0), c(2))
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(keys[a], keys[b]) })
	return order
}

// mortonKey interleaves the 16 low bits of x, y, z (two's complement, so negative
// coordinates wrap as in the authors' lookup tables): bit i of x goes to 3i+2, of y to
// 3i+1, of z to 3i. The authors build the key from two 8-bit halves, the high one
// shifted by 24; that is the same interleaving.
func mortonKey(x, y, z int64) int64 {
	var key int64
	for i := 0; i < 16; i++ {
		key |= (x>>i&1)<<(3*i+2) | (y>>i&1)<<(3*i+1) | (z>>i&1)<<(3*i)
	}
	return key
}

// bases computes the Laplacian eigenvectors of n graphs of k nodes (xyz [n·k·3]) as
// float32 [n, k, k], eigenvectors in columns. Each graph is complete, with edge weights
// s/d_ij and self-loops of weight 1 (the authors' 1/(D/s + I)), s the smallest positive
// distance: over the whole batch in Faithful mode, per graph in Fixed mode. The
// Laplacian is the normalised I − D^(−1/2) A D^(−1/2), D_i = Σ_j A_ij (+1e-6).
func bases(xyz []float32, n, k int, mode Mode) ([]float32, error) {
	dist := make([]float64, n*k*k)
	mins := make([]float64, n)
	for gi := 0; gi < n; gi++ {
		p := xyz[gi*k*3 : (gi+1)*k*3]
		mins[gi] = math.Inf(1)
		for i := 0; i < k; i++ {
			for j := 0; j < k; j++ {
				var d2 float64
				for c := 0; c < 3; c++ {
					v := float64(p[i*3+c]) - float64(p[j*3+c])
					d2 += v * v
				}
				d := math.Sqrt(d2)
				if i != j && d == 0 {
					return nil, fmt.Errorf("graph %d: nodes %d and %d coincide", gi, i, j)
				}
				dist[(gi*k+i)*k+j] = d
				if i != j {
					mins[gi] = min(mins[gi], d)
				}
			}
		}
	}
	if mode == Faithful {
		all := slices.Min(mins)
		for i := range mins {
			mins[i] = all
		}
	}
	out := make([]float32, n*k*k)
	errs := make([]error, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for gi := 0; gi < n; gi++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			errs[gi] = laplacianBasis(out[gi*k*k:(gi+1)*k*k], dist[gi*k*k:(gi+1)*k*k], k, mins[gi])
			if errs[gi] != nil {
				errs[gi] = fmt.Errorf("graph %d: %w", gi, errs[gi])
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// laplacianBasis writes into dst [k, k] the eigenvectors (columns, ascending
// eigenvalues) of the normalised Laplacian of the graph with distances dist [k, k] and
// scale s. Each eigenvector's sign is fixed so that its largest-magnitude component is
// positive (the first such on ties): eigensolvers (LAPACK, cuSOLVER, gonum) choose signs
// arbitrarily, and the adapter is not invariant to them.
func laplacianBasis(dst []float32, dist []float64, k int, s float64) error {
	a := make([]float64, k*k)
	dis := make([]float64, k)
	for i := 0; i < k; i++ {
		var deg float64
		for j := 0; j < k; j++ {
			v := dist[i*k+j] / s
			if i == j {
				v++
			}
			a[i*k+j] = 1 / v
			deg += a[i*k+j]
		}
		dis[i] = 1 / math.Sqrt(deg+1e-6)
	}
	lap := mat.NewSymDense(k, nil)
	for i := 0; i < k; i++ {
		for j := i; j < k; j++ {
			v := -dis[i] * a[i*k+j] * dis[j]
			if i == j {
				v++
			}
			lap.SetSym(i, j, v)
		}
	}
	var es mat.EigenSym
	if !es.Factorize(lap, true) {
		return fmt.Errorf("eigendecomposition of the %d×%d Laplacian did not converge", k, k)
	}
	var vec mat.Dense
	es.VectorsTo(&vec)
	for c := 0; c < k; c++ {
		best := 0
		for r := 1; r < k; r++ {
			if math.Abs(vec.At(r, c)) > math.Abs(vec.At(best, c)) {
				best = r
			}
		}
		sign := 1.0
		if vec.At(best, c) < 0 {
			sign = -1
		}
		for r := 0; r < k; r++ {
			dst[r*k+c] = float32(sign * vec.At(r, c))
		}
	}
	return nil
}
