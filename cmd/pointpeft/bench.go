package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/spf13/cobra"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/pointpeft/pointpeft/bench"
	"github.com/pointpeft/pointpeft/internal/atomicfile"
	"github.com/pointpeft/pointpeft/peft"
)

func init() {
	register(newBenchCmd)
}

// Sweeps of --scaling: batch sizes at the configuration's 2048 points, and point counts
// at --scaling-batch.
var (
	scalingBatches = []int{8, 16, 32, 64}
	scalingPoints  = []int{1024, 2048, 4096, 8192}
)

const scalingConfig = "peft-train-pb"

func newBenchCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench [flags]",
		Short: "benchmark training and inference against the PyTorch reference",
		Long: `Measures samples/s and peak RSS of each configuration, ours and the PyTorch reference's
(tools/bench/reference.py with Debian's torch 1.13) on the same shapes, batch and thread
count, each in its own process, and prints a table; --out writes it as markdown.
Configurations: ` + strings.Join(bench.Names(), ", ") + `.
Run it from the repository root on an idle machine.`,
		Args: noArgs,
	}
	fs := cmd.Flags()
	configs := fs.String("configs", "all", "configurations: all or a comma-separated list")
	batch := fs.Int("batch", 32, "batch size")
	steps := fs.Int("steps", 5, "timed steps (the median is reported)")
	warmup := fs.Int("warmup", 1, "untimed warm-up steps")
	threads := fs.Int("threads", runtime.NumCPU(), "threads on both sides")
	mode := fs.String("mode", string(peft.Faithful), "Point-PEFT mode on both sides: faithful (the authors' released model) or fixed")
	reference := fs.String("reference", "auto", "auto: run the reference when torch imports; skip: ours only")
	python := fs.String("python", "/usr/bin/python3", "Python with torch for the reference")
	script := fs.String("reference-script", filepath.Join("tools", "bench", "reference.py"), "the reference script")
	variant := fs.String("reference-variant", "oracle", "oracle: the reference with the cp feature under no_grad and matrix-product propagation; authors: both as the released code does them (spec App. B.4-5)")
	scaling := fs.Bool("scaling", false, "also sweep batch size (8-64) and point count (1k-8k) for "+scalingConfig)
	scalingBatch := fs.Int("scaling-batch", 4, "batch size of the point-count sweep (a Point-PEFT step on 8192 points needs about 0.25 GiB per sample)")
	out := fs.String("out", filepath.Join("docs", "performance.md"), "markdown report ('' for none); the scaling PNG goes next to it")
	one := fs.String("one", "", "internal: measure one configuration in this process and print its JSON result")
	points := fs.Int("points", 0, "with --one: points per cloud, groups scaled to points/16 (0: the configuration's)")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
		if *reference != "auto" && *reference != "skip" {
			return fmt.Errorf("--reference %q: want auto or skip", *reference)
		}
		if *mode != string(peft.Faithful) && *mode != string(peft.Fixed) {
			return fmt.Errorf("--mode %q: want faithful or fixed", *mode)
		}
		opt := bench.Options{Batch: *batch, Steps: *steps, Warmup: *warmup, Threads: *threads, Mode: peft.Mode(*mode)}
		if *one != "" {
			return benchOne(*one, *points, opt, stdout)
		}
		cs, err := bench.Select(*configs)
		if err != nil {
			return err
		}
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("finding this program to re-run it per configuration: %w", err)
		}
		ctx, stop := signalContext()
		defer stop()
		b := &benchRun{ctx: ctx, exe: exe, stderr: stderr}
		rep := bench.Report{Command: strings.Join(append([]string{"pointpeft"}, os.Args[min(1, len(os.Args)):]...), " "), Date: time.Now(), CPU: cpuModel(),
			CPUs: runtime.NumCPU(), Threads: opt.Threads, Backend: blasName(), Batch: opt.Batch, Steps: opt.Steps,
			Warmup: opt.Warmup, Mode: opt.Mode}
		if *variant != "oracle" && *variant != "authors" {
			return fmt.Errorf("bench: --reference-variant %q: want oracle or authors", *variant)
		}
		ref := bench.Reference{Python: *python, Script: *script, Variant: *variant}
		// refNote, when set, is why the reference does not run; it fills its columns.
		refNote, torch := "", ""
		if *reference == "skip" {
			refNote = "skipped: --reference skip"
		} else if torch, err = ref.Check(ctx); err != nil {
			refNote = "skipped: " + err.Error()
			if errors.Is(err, bench.ErrNoTorch) {
				refNote = "skipped: torch not installed"
			}
			fmt.Fprintf(stderr, "reference skipped: %v\n", err)
		}
		rep.Reference = refNote
		if refNote == "" {
			rep.Reference = fmt.Sprintf("`%s %s --variant %s`, torch %s", ref.Python, ref.Script, *variant, torch)
		}
		refs := map[string]*bench.Result{} // measured once per reference configuration
		for _, c := range cs {
			row := bench.Row{Config: c, RefNote: refNote}
			if row.Ours, err = b.ours(c.Name, 0, opt); err != nil {
				return err
			}
			if r, ok := refs[c.Ref()]; ok && refNote == "" {
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
		if *scaling {
			if rep.Scaling, err = b.sweeps(opt, *scalingBatch); err != nil {
				return err
			}
			rep.ScalingConfig = scalingConfig
		}
		if err := bench.WriteTable(stdout, rep.Rows); err != nil {
			return err
		}
		if *out == "" {
			return nil
		}
		if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
			return fmt.Errorf("report folder: %w", err)
		}
		if len(rep.Scaling) > 0 {
			png := filepath.Join(filepath.Dir(*out), "scaling.png")
			if err := bench.WriteScalingPNG(png, scalingConfig, rep.Scaling); err != nil {
				return err
			}
			rep.PNG = "scaling.png"
			fmt.Fprintf(stdout, "scaling plot → %s\n", png)
		}
		if err := atomicfile.Write(*out, func(w io.Writer) error { return bench.WriteMarkdown(w, rep) }); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "report → %s\n", *out)
		return nil
	}
	return cmd
}

// benchOne is the child side of a measurement: one configuration, one JSON line.
func benchOne(name string, points int, opt bench.Options, stdout io.Writer) error {
	c, err := bench.Lookup(name)
	if err != nil {
		return err
	}
	if points > 0 {
		if c, err = bench.WithPoints(c, points); err != nil {
			return err
		}
	}
	r, err := bench.Run(c, opt)
	if err != nil {
		return err
	}
	return json.NewEncoder(stdout).Encode(r)
}

// benchRun re-runs this program (or the reference) once per measurement.
type benchRun struct {
	ctx    context.Context
	exe    string
	stderr io.Writer
}

func (b *benchRun) ours(name string, points int, opt bench.Options) (bench.Result, error) {
	argv := []string{b.exe, "bench", "--one", name, "--points", strconv.Itoa(points), "--batch", strconv.Itoa(opt.Batch),
		"--steps", strconv.Itoa(opt.Steps), "--warmup", strconv.Itoa(opt.Warmup), "--threads", strconv.Itoa(opt.Threads),
		"--mode", string(opt.Mode)}
	label := fmt.Sprintf("ours %s, batch %d", name, opt.Batch)
	if points > 0 {
		label += fmt.Sprintf(", %d points", points)
	}
	return b.measure(label, argv)
}

func (b *benchRun) measure(label string, argv []string) (bench.Result, error) {
	fmt.Fprintf(b.stderr, "%-52s ", label)
	t0 := time.Now()
	r, err := bench.Isolated(b.ctx, argv, b.stderr)
	if err != nil {
		fmt.Fprintln(b.stderr, "failed")
		return r, err
	}
	fmt.Fprintf(b.stderr, "%7.2f samples/s  %6.2f GiB  (%.0f s)\n", r.SamplesPerS, r.PeakRSSMB/1024, time.Since(t0).Seconds())
	return r, nil
}

// sweeps measures the scaling configuration against batch size and point count.
func (b *benchRun) sweeps(opt bench.Options, pointsBatch int) ([]bench.ScalePoint, error) {
	base, err := bench.Lookup(scalingConfig)
	if err != nil {
		return nil, err
	}
	var out []bench.ScalePoint
	var last bench.ScalePoint // the last one measured
	add := func(sweep string, batch, points int) error {
		c, err := bench.WithPoints(base, points)
		if err != nil {
			return err
		}
		p := bench.ScalePoint{Sweep: sweep, Batch: batch, Points: points, Groups: c.Backbone.NumGroup, GroupSize: c.Backbone.GroupSize}
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
		if p.Result, err = b.ours(scalingConfig, points, o); err != nil {
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

// cpuModel is the first "model name" of /proc/cpuinfo, or "unknown CPU".
func cpuModel() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
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
