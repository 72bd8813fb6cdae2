package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/pointpeft/pointpeft/internal/atomicfile"
	"github.com/pointpeft/pointpeft/peft"
	"github.com/pointpeft/pointpeft/sysinfo"
	"github.com/pointpeft/pointpeft/tensor"
)

// Sweeps of SuiteOptions.Scaling: batch sizes at the configuration's 2048 points, and
// point counts at ScalingBatch.
var (
	scalingBatches = []int{8, 16, 32, 64}
	scalingPoints  = []int{1024, 2048, 4096, 8192}
)

// ScalingConfig is the configuration the scaling sweeps measure.
const ScalingConfig = "peft-train-pb"

// SuiteOptions describe a benchmark suite: which configurations, how, against which
// reference, and where the report goes.
type SuiteOptions struct {
	Options
	Configs string // "all" or a comma-separated list
	// Reference is "auto" (run it when torch imports) or "skip".
	Reference string
	Ref       Reference
	// Scaling adds the batch and point-count sweeps of ScalingConfig, the point sweep
	// at batch ScalingBatch.
	Scaling      bool
	ScalingBatch int
	// Out is the markdown report ("" for none); the scaling PNG goes next to it.
	Out string
	// Command is the command line recorded in the report.
	Command string
	// Child is the command line that measures one configuration of ours in a fresh
	// process and prints its Result as a JSON line (see One).
	Child func(name string, points int, opt Options) []string
}

// Suite measures each configuration, ours and the reference's, each in its own process,
// prints a table to stdout and writes the report; progress goes to stderr.
func Suite(ctx context.Context, so SuiteOptions, stdout, stderr io.Writer) error {
	opt, ref := so.Options, so.Ref
	b := &harness{ctx: ctx, child: so.Child, stderr: stderr}
	var err error
	if so.Reference != "auto" && so.Reference != "skip" {
		return fmt.Errorf("bench: reference %q: want auto or skip", so.Reference)
	}
	if opt.Mode != peft.Faithful && opt.Mode != peft.Fixed {
		return fmt.Errorf("bench: mode %q: want faithful or fixed", opt.Mode)
	}
	cs, err := Select(so.Configs)
	if err != nil {
		return err
	}
	rep := Report{Command: so.Command, Date: time.Now(), CPU: sysinfo.Read().CPULine(),
		CPUs: runtime.NumCPU(), Threads: opt.Threads, Backend: tensor.GEMM().String(), Batch: opt.Batch, Steps: opt.Steps,
		Warmup: opt.Warmup, Mode: opt.Mode}
	if ref.Variant != "oracle" && ref.Variant != "authors" {
		return fmt.Errorf("bench: reference variant %q: want oracle or authors", ref.Variant)
	}
	// refNote, when set, is why the reference does not run; it fills its columns.
	refNote, torch := "", ""
	if so.Reference == "skip" {
		refNote = "skipped: --reference skip"
	} else if torch, err = ref.Check(ctx); err != nil {
		refNote = "skipped: " + err.Error()
		if errors.Is(err, ErrNoTorch) {
			refNote = "skipped: torch not installed"
		}
		fmt.Fprintf(stderr, "reference skipped: %v\n", err)
	}
	rep.Reference = refNote
	if refNote == "" {
		// The reference's BLAS is OpenBLAS: its kernel follows OPENBLAS_CORETYPE, which the
		// engine sets when it switched OpenBLAS to a wider kernel at start-up.
		core := "unset (OpenBLAS detects the CPU)"
		if v := os.Getenv("OPENBLAS_CORETYPE"); v != "" {
			core = v
		}
		rep.Reference = fmt.Sprintf("`%s %s --variant %s`, torch %s, OPENBLAS_CORETYPE %s", ref.Python, ref.Script, ref.Variant, torch, core)
	}
	refs := map[string]*Result{} // measured once per reference configuration
	for _, c := range cs {
		row := Row{Config: c, RefNote: refNote}
		if row.Ours, err = b.ours(c.Name, 0, opt); err != nil {
			return err
		}
		if c.NoReference {
			row.RefNote = "none (peer method)"
		} else if r, ok := refs[c.Ref()]; ok && refNote == "" {
			row.Ref = r
		} else if refNote == "" {
			r, err := b.measure(fmt.Sprintf("reference %s, batch %d", c.Ref(), opt.Batch), ref.Argv(c, opt))
			if err != nil {
				if ctx.Err() != nil {
					return err
				}
				row.RefNote = "failed (see stderr)"
				fmt.Fprintf(stderr, "reference %s failed: %v\n", c.Name, err)
			} else {
				row.Ref = &r
				refs[c.Ref()] = &r
			}
		}
		rep.Rows = append(rep.Rows, row)
	}
	if so.Scaling {
		if rep.Scaling, err = b.sweeps(opt, so.ScalingBatch); err != nil {
			return err
		}
		rep.ScalingConfig = ScalingConfig
	}
	if err := WriteTable(stdout, rep.Rows); err != nil {
		return err
	}
	if so.Out == "" {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(so.Out), 0o755); err != nil {
		return fmt.Errorf("report folder: %w", err)
	}
	if len(rep.Scaling) > 0 {
		png := filepath.Join(filepath.Dir(so.Out), "scaling.png")
		if err := WriteScalingPNG(png, ScalingConfig, rep.Scaling); err != nil {
			return err
		}
		rep.PNG = "scaling.png"
		fmt.Fprintf(stdout, "scaling plot → %s\n", png)
	}
	if err := atomicfile.Write(so.Out, func(w io.Writer) error { return WriteMarkdown(w, rep) }); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "report → %s\n", so.Out)
	return nil
}

// One is the child side of a measurement: it runs one configuration (at points per
// cloud, groups scaled to points/16, when positive) and prints its Result as a JSON line.
func One(name string, points int, opt Options, stdout io.Writer) error {
	c, err := Lookup(name)
	if err != nil {
		return err
	}
	if points > 0 {
		if c, err = WithPoints(c, points); err != nil {
			return err
		}
	}
	r, err := Run(c, opt)
	if err != nil {
		return err
	}
	return json.NewEncoder(stdout).Encode(r)
}

// harness runs each measurement in a child process.
type harness struct {
	ctx    context.Context
	child  func(name string, points int, opt Options) []string
	stderr io.Writer
}

func (b *harness) ours(name string, points int, opt Options) (Result, error) {
	argv := b.child(name, points, opt)
	label := fmt.Sprintf("ours %s, batch %d", name, opt.Batch)
	if points > 0 {
		label += fmt.Sprintf(", %d points", points)
	}
	return b.measure(label, argv)
}

func (b *harness) measure(label string, argv []string) (Result, error) {
	fmt.Fprintf(b.stderr, "%-52s ", label)
	t0 := time.Now()
	r, err := Isolated(b.ctx, argv, b.stderr)
	if err != nil {
		fmt.Fprintln(b.stderr, "failed")
		return r, err
	}
	fmt.Fprintf(b.stderr, "%7.2f samples/s  %6.2f GiB  (%.0f s)\n", r.SamplesPerS, r.PeakRSSMB/1024, time.Since(t0).Seconds())
	return r, nil
}

// sweeps measures the scaling configuration against batch size and point count.
func (b *harness) sweeps(opt Options, pointsBatch int) ([]ScalePoint, error) {
	base, err := Lookup(ScalingConfig)
	if err != nil {
		return nil, err
	}
	var out []ScalePoint
	var last ScalePoint // the last one measured
	add := func(sweep string, batch, points int) error {
		c, err := WithPoints(base, points)
		if err != nil {
			return err
		}
		p := ScalePoint{Sweep: sweep, Batch: batch, Points: points, Groups: c.Backbone.NumGroup, GroupSize: c.Backbone.GroupSize}
		// Memory grows about linearly in batch × points; a point the machine cannot hold
		// would bring in the OOM killer, which may pick another process than ours.
		if last.Sweep == sweep {
			need := last.Result.PeakRSSMB * float64(batch*points) / float64(last.Batch*last.Points)
			if avail := memAvailableMB(); avail > 0 && need > 0.8*avail {
				p.Skipped = fmt.Sprintf("needs about %.0f GiB, %.0f GiB available", need/1024, avail/1024)
				fmt.Fprintf(b.stderr, "scaling: batch %d, %d points %s\n", batch, points, p.Skipped)
				out = append(out, p)
				return nil
			}
		}
		o := opt
		o.Batch = batch
		if p.Result, err = b.ours(ScalingConfig, points, o); err != nil {
			return err
		}
		out = append(out, p)
		last = p
		return nil
	}
	for _, bs := range scalingBatches {
		if err := add("batch", bs, base.Points); err != nil {
			return nil, err
		}
	}
	for _, n := range scalingPoints {
		if err := add("points", pointsBatch, n); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// memAvailableMB is MemAvailable of /proc/meminfo in MiB, or 0 when unknown.
func memAvailableMB() float64 {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemAvailable:" {
			kb, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				return 0
			}
			return kb / 1024
		}
	}
	return 0
}
