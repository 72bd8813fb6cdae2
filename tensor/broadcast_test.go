package tensor

import "testing"

// TestBroadcastMaps checks every broadcast mapping against a direct computation of the
// operand index from the output coordinates, through the runs the broadcast ops walk.
func TestBroadcastMaps(t *testing.T) {
	cases := [][2][]int{
		{{4}, {2, 3, 4}}, {{2, 3, 1}, {2, 3, 4}}, {{2, 1, 4}, {2, 3, 4}}, {{1, 3, 1}, {2, 3, 4}},
		{{3, 1}, {3, 4}}, {{1, 4}, {3, 4}}, {{}, {2, 3}}, {{2, 1, 1, 5}, {2, 3, 4, 5}},
		{{2, 1, 4, 1}, {2, 3, 4, 5}}, {{1, 3, 1, 5}, {2, 3, 4, 5}}, {{5, 1, 3}, {5, 7, 3}},
	}
	for _, c := range cases {
		op, out := c[0], c[1]
		m := mapOperand(op, out)
		pad := make([]int, len(out))
		for i := range pad {
			pad[i] = 1
		}
		copy(pad[len(out)-len(op):], op)
		n := prod(out)
		want := make([]int, n)
		for i := range want {
			rem, stride := i, 1
			coords := make([]int, len(out))
			for d := len(out) - 1; d >= 0; d-- {
				coords[d] = rem % out[d]
				rem /= out[d]
			}
			for d := len(out) - 1; d >= 0; d-- {
				if pad[d] != 1 {
					want[i] += coords[d] * stride
				}
				stride *= pad[d]
			}
		}
		// Every run, started anywhere and cut anywhere, reads exactly those elements.
		for i := 0; i < n; i++ {
			for _, hi := range []int{n, min(i+3, n)} {
				j, l, step := m.run(i, hi)
				if l < 1 || i+l > hi {
					t.Fatalf("%v→%v: run at %d up to %d has length %d", op, out, i, hi, l)
				}
				for u := 0; u < l; u++ {
					if j+u*step != want[i+u] {
						t.Fatalf("%v→%v: run at %d = (%d, %d, %d) reads %d at %d, want %d (map %+v)",
							op, out, i, j, l, step, j+u*step, i+u, want[i+u], m)
					}
				}
			}
		}
	}
}
