package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// Isolated runs argv as a child process that prints its Result as the last JSON line of
// its standard output, and sets PeakRSSMB from the child's resource usage. One process
// per configuration makes the peak its own: a process's peak RSS never goes down, so
// in-process runs would carry over the largest earlier one. The child's standard error
// goes to stderr.
func Isolated(ctx context.Context, argv []string, stderr io.Writer) (Result, error) {
	if len(argv) == 0 {
		return Result{}, errors.New("bench: empty command")
	}
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = &out, stderr
	if err := cmd.Run(); err != nil {
		return Result{}, fmt.Errorf("%s: %w", strings.Join(argv, " "), err)
	}
	var res Result
	if err := json.Unmarshal(lastLine(out.Bytes()), &res); err != nil {
		return Result{}, fmt.Errorf("%s: reading its result line %q: %w", strings.Join(argv, " "), lastLine(out.Bytes()), err)
	}
	if mb := childRSSMB(cmd.ProcessState); mb > 0 {
		res.PeakRSSMB = mb
	}
	return res, nil
}

func lastLine(b []byte) []byte {
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	return lines[len(lines)-1]
}

// ErrNoTorch is Reference.Check's error when the reference's Python cannot import torch.
var ErrNoTorch = errors.New("torch not installed")

// Reference runs tools/bench/reference.py, the PyTorch 1.13 implementation of the same
// workloads (the project's oracle models).
type Reference struct {
	Python string // Debian's /usr/bin/python3, which has python3-torch
	Script string
	// Variant is "oracle" (the default: the cp feature under no_grad, the propagation
	// as a matrix product) or "authors" (both as the released code does them; this alone
	// does not reproduce the figures for the released code, see
	// docs/performance-authors.md).
	Variant string
}

// Check says why the reference cannot run, or returns the torch version it would use.
func (r Reference) Check(ctx context.Context) (torchVersion string, err error) {
	if _, err := os.Stat(r.Script); err != nil {
		return "", fmt.Errorf("reference script: %w (run from the repository root)", err)
	}
	out, err := exec.CommandContext(ctx, r.Python, "-c", "import torch; print(torch.__version__)").Output()
	if err != nil {
		return "", fmt.Errorf("%w (%s -c \"import torch\": %v)", ErrNoTorch, r.Python, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// Argv is the command line that measures cfg with opt.
func (r Reference) Argv(cfg Config, opt Options) []string {
	mode := cfg.PEFT.Mode
	if opt.Mode != "" {
		mode = opt.Mode
	}
	return []string{r.Python, r.Script, "--config", cfg.Ref(), "--batch", strconv.Itoa(opt.Batch),
		"--steps", strconv.Itoa(opt.Steps), "--warmup", strconv.Itoa(opt.Warmup),
		"--threads", strconv.Itoa(opt.Threads), "--mode", string(mode), "--variant", r.variant()}
}

func (r Reference) variant() string {
	if r.Variant == "" {
		return "oracle"
	}
	return r.Variant
}
