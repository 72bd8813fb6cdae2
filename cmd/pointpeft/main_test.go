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
	for _, c := range commands {
		if !strings.Contains(out.String(), c.name) {
			t.Errorf("help does not list %q", c.name)
		}
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
	for _, c := range commands {
		var out, errb bytes.Buffer
		if code := run([]string{c.name, "--help"}, &out, &errb); code != 0 {
			t.Errorf("%s --help exited %d", c.name, code)
		}
		if !strings.Contains(errb.String(), "Usage: pointpeft "+c.name) {
			t.Errorf("%s --help printed %q", c.name, errb.String())
		}
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
