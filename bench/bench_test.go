package bench

import (
	"bytes"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pointpeft/pointpeft/peft"
	_ "github.com/pointpeft/pointpeft/peft/dapt"
	_ "github.com/pointpeft/pointpeft/peft/idpt"
	_ "github.com/pointpeft/pointpeft/peft/pointgst"
	_ "github.com/pointpeft/pointpeft/peft/pointlora"
)

// tiny shrinks a standard configuration so a step takes milliseconds.
func tiny(t *testing.T, name string) Config {
	t.Helper()
	c, err := Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	c.Backbone.TransDim, c.Backbone.EncoderDims, c.Backbone.Depth = 36, 36, 6
	c.Backbone.EncoderHidden = [3]int{16, 32, 64}
	c.Backbone.PosHidden, c.Backbone.HeadHidden = 16, 32
	c.Backbone.NumGroup, c.Backbone.GroupSize = 16, 8
	c.PEFT.PriorGroups, c.PEFT.PriorGroupSize = 8, 8
	c.Points, c.BankSize = 128, 20
	return c
}

func checkResult(t *testing.T, r Result) {
	t.Helper()
	for name, v := range map[string]float64{"samples/s": r.SamplesPerS, "step seconds": r.StepSeconds,
		"GEMM share": r.GEMMShare, "FPS+kNN share": r.GroupShare} {
		if !(v > 0) || math.IsInf(v, 0) {
			t.Errorf("%s: %s = %v, want positive and finite", r.Config, name, v)
		}
	}
}

func TestRunTiny(t *testing.T) {
	for _, name := range []string{"peft-train-pb", "full-train-mn40", "peft-infer-pb", "bank-pb"} {
		for _, mode := range []peft.Mode{peft.Faithful, peft.Fixed} {
			if mode == peft.Fixed && name != "peft-train-pb" {
				continue
			}
			r, err := Run(tiny(t, name), Options{Batch: 2, Steps: 2, Warmup: 1, Threads: 2, Mode: mode})
			if err != nil {
				t.Fatal(err)
			}
			checkResult(t, r)
		}
	}
}

func TestRunRejectsBadOptions(t *testing.T) {
	if _, err := Run(tiny(t, "peft-train-pb"), Options{Batch: 0, Steps: 1}); err == nil {
		t.Fatal("batch 0 accepted")
	}
}

func TestSelectAndScale(t *testing.T) {
	if cs, err := Select("all"); err != nil || len(cs) != len(Configs()) {
		t.Fatalf("all: %d configs, %v", len(cs), err)
	}
	if _, err := Select("peft-train-pb,nope"); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("unknown name: %v", err)
	}
	c, _ := Lookup("peft-train-pb")
	s, err := WithPoints(c, 8192)
	if err != nil || s.Backbone.NumGroup != 512 || s.Points != 8192 {
		t.Fatalf("8192 points: %d groups, %v", s.Backbone.NumGroup, err)
	}
	if _, err := WithPoints(c, 512); err == nil {
		t.Fatal("512 points accepted with a 64-group prior encoder")
	}
}

func TestReportOutputs(t *testing.T) {
	c, _ := Lookup("peft-train-pb")
	rows := []Row{
		{Config: c, Ours: Result{SamplesPerS: 5, PeakRSSMB: 2000, GEMMShare: 0.8, GroupShare: 0.02},
			Ref: &Result{SamplesPerS: 1, PeakRSSMB: 8000}},
		{Config: c, Ours: Result{SamplesPerS: 5, PeakRSSMB: 2000}, RefNote: "skipped: torch not installed"},
	}
	if rows[0].Verdict() != "met" || rows[1].Verdict() != "n/a" {
		t.Fatalf("verdicts %q %q", rows[0].Verdict(), rows[1].Verdict())
	}
	var tb bytes.Buffer
	if err := WriteTable(&tb, rows); err != nil || !strings.Contains(tb.String(), "skipped: torch not installed") {
		t.Fatalf("table %q, %v", tb.String(), err)
	}
	sc := []ScalePoint{
		{Sweep: "batch", Batch: 8, Points: 2048, Groups: 128, GroupSize: 32, Result: Result{StepSeconds: 2, GroupSeconds: 0.1}},
		{Sweep: "batch", Batch: 16, Points: 2048, Groups: 128, GroupSize: 32, Result: Result{StepSeconds: 4, GroupSeconds: 0.2}},
		{Sweep: "points", Batch: 8, Points: 1024, Groups: 64, GroupSize: 32, Result: Result{StepSeconds: 1, GroupSeconds: 0.05}},
	}
	var md bytes.Buffer
	if err := WriteMarkdown(&md, Report{Rows: rows, Scaling: sc, ScalingConfig: c.Name, PNG: "scaling.png"}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| peft-train-pb | 5.00 | 1.00 | 5.00× |", "128×32", "![step time"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
	png := filepath.Join(t.TempDir(), "scaling.png")
	if err := WriteScalingPNG(png, c.Name, sc); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(png); err != nil || st.Size() == 0 {
		t.Fatalf("png: %v", err)
	}
}

// TestIsolated re-runs the test binary as the child; the child prints a result line
// and exits before the test framework adds its own output.
func TestIsolated(t *testing.T) {
	if os.Getenv("BENCH_TEST_CHILD") == "1" {
		os.Stdout.WriteString("log line\n{\"config\":\"child\",\"samples_per_s\":3,\"step_seconds\":0.5}\n")
		os.Exit(0)
	}
	t.Setenv("BENCH_TEST_CHILD", "1")
	r, err := Isolated(t.Context(), []string{os.Args[0], "-test.run=^TestIsolated$"}, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	if r.Config != "child" || r.SamplesPerS != 3 || !(r.PeakRSSMB > 0) {
		t.Fatalf("result %+v", r)
	}
	if _, err := Isolated(t.Context(), []string{os.Args[0], "-test.run=^$"}, io.Discard); err == nil {
		t.Fatal("a child without a result line was accepted")
	}
}

// TestPeerMethodRows: every registered method gets a training and an inference row,
// without a reference, and both run.
func TestPeerMethodRows(t *testing.T) {
	for _, name := range []string{"pointlora-train-pb", "pointlora-infer-pb", "pointgst-train-pb", "pointgst-infer-pb", "idpt-train-pb", "idpt-infer-pb", "dapt-train-pb", "dapt-infer-pb"} {
		c := tiny(t, name)
		if !c.NoReference {
			t.Errorf("%s has a reference", name)
		}
		// The peers' fixed sizes (token-selection scales up to 128 groups, graphs of 32
		// tokens) need a real cloud size.
		c.Points, c.Backbone.NumGroup, c.Backbone.GroupSize, c.Backbone.Depth = 1024, 64, 32, 2
		r, err := Run(c, Options{Batch: 2, Steps: 1, Warmup: 0, Threads: 2})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		checkResult(t, r)
	}
}
