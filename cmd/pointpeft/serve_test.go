package main

import (
	"os"
	"strings"
	"testing"
)

// TestServeMistakes checks that serve refuses bad flags and explains a missing demo.
func TestServeMistakes(t *testing.T) {
	wd, _ := os.Getwd()
	t.Cleanup(func() { os.Chdir(wd) })
	if err := os.Chdir(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"serve"}, 1, "run 'pointpeft demo' first"},
		{[]string{"serve", "--adapters", "nowhere"}, 1, "adapters directory"},
		{[]string{"serve", "--adapters", ".", "--max-batch", "0"}, 2, "--max-batch"},
		{[]string{"serve", "--adapters", ".", "--poll", "0s"}, 2, "--poll"},
		{[]string{"serve", "extra"}, 2, ""},
	} {
		code, _, stderr := runCLI(tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, %q; want %d with %q", tc.args, code, stderr, tc.code, tc.want)
		}
	}
}
