package main

import (
	"bytes"
	"github.com/pointpeft/pointpeft/tensor"
	"strings"
	"testing"
)

func TestHelpListsCommands(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"help"}, &out, &errb); code != 0 {
		t.Fatalf("help exited %d: %s", code, errb.String())
	}
	for _, c := range newRoot(&out, &errb).Commands() {
		if !strings.Contains(out.String(), c.Name()) {
			t.Errorf("help does not list %q", c.Name())
		}
	}
}

// TestNoCommandIsUsageError: `pointpeft` alone prints the usage and fails.
func TestNoCommandIsUsageError(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(nil, &out, &errb); code != 2 {
		t.Fatalf("exit %d, want 2", code)
	}
	if !strings.Contains(errb.String(), "Available Commands") {
		t.Fatalf("stderr %q", errb.String())
	}
}

func TestUnknownCommandFails(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"frobnicate"}, &out, &errb); code != 2 {
		t.Fatalf("exit %d, want 2", code)
	}
	if !strings.Contains(errb.String(), `unknown command "frobnicate"`) {
		t.Fatalf("stderr %q", errb.String())
	}
}

func TestEveryCommandHasHelp(t *testing.T) {
	var out, errb bytes.Buffer
	for _, c := range newRoot(&out, &errb).Commands() {
		out.Reset()
		if code := run([]string{c.Name(), "--help"}, &out, &errb); code != 0 {
			t.Errorf("%s --help exited %d", c.Name(), code)
		}
		if !strings.Contains(out.String(), "pointpeft "+c.Name()) {
			t.Errorf("%s --help printed %q", c.Name(), out.String())
		}
	}
}

// TestCompletion: cobra's shell completion is there.
func TestCompletion(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"completion", "bash"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "pointpeft") {
		t.Fatalf("completion exited %d: %.200s %s", code, out.String(), errb.String())
	}
}

func TestVersion(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"version"}, &out, &errb); code != 0 {
		t.Fatalf("version exited %d", code)
	}
	g := tensor.GEMM()
	for _, want := range []string{"cpu ", "gemm     " + g.Library + ", kernel " + g.Kernel + ": "} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("version output %q lacks %q", out.String(), want)
		}
	}
}

func TestBadFlagIsUsageError(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"version", "--nope"}, &out, &errb); code != 2 {
		t.Fatalf("exit %d, want 2", code)
	}
}
