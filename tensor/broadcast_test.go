package tensor

import "testing"

// TestBroadcastMaps checks every broadcast mapping against a direct computation of the
// operand index from the output coordinates, through idxOf and the incremental cursor.
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
		cur := newCursor(m, 0)
		for i := 0; i < n; i++ {
			rem, want, stride := i, 0, 1
			coords := make([]int, len(out))
			for d := len(out) - 1; d >= 0; d-- {
				coords[d] = rem % out[d]
				rem /= out[d]
			}
			for d := len(out) - 1; d >= 0; d-- {
				if pad[d] != 1 {
					want += coords[d] * stride
				}
				stride *= pad[d]
			}
			if got := idxOf(m, i); got != want {
				t.Fatalf("%v→%v: idxOf(%d) = %d, want %d (map %+v)", op, out, i, got, want, m)
			}
			if got := cur.at(); got != want {
				t.Fatalf("%v→%v: cursor at %d = %d, want %d", op, out, i, got, want)
			}
			if j, l, step := m.run(i, n); j != want || l < 1 || (l > 1 && idxOf(m, i+1) != j+step) {
				t.Fatalf("%v→%v: run at %d = (%d, %d, %d), want start %d", op, out, i, j, l, step, want)
			}
			cur.next()
			if mid := newCursor(m, i); mid.at() != want {
				t.Fatalf("%v→%v: cursor started at %d gives %d, want %d", op, out, i, mid.at(), want)
			}
		}
	}
}
