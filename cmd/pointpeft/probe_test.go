package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pointpeft/pointpeft/probe"
)

func TestProbeCommand(t *testing.T) {
	dir := t.TempDir()
	bb := tinyBackbone(t, dir, 1)
	out := filepath.Join(dir, "probe.json")
	code, stdout, stderr := runCLI("probe", "--backbone", bb, "--data", "shapes:56:28", "--points", "256", "--groups", "16",
		"--group-size", "16", "--lambdas", "0.1,0.01", "--json", out)
	if code != 0 || !strings.Contains(stdout, "test accuracy") {
		t.Fatalf("probe exited %d: %s %s", code, stdout, stderr)
	}
	var rep probe.Report
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &rep); err != nil || rep.Train != 56 || rep.Test != 28 || len(rep.CVAcc) != 2 || rep.Acc <= 0 {
		t.Fatalf("report %+v (%v)", rep, err)
	}
	if code, _, stderr = runCLI("probe", "--backbone", bb, "--data", "shapes:56:28", "--lambdas", "0.1,x"); code == 0 || !strings.Contains(stderr, `"x"`) {
		t.Errorf("bad --lambdas: exit %d, %s", code, stderr)
	}
}
