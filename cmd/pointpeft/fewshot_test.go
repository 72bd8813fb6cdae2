package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pointpeft/pointpeft/fewshot"
)

func TestFewshotCommand(t *testing.T) {
	dir := t.TempDir()
	bb := tinyBackbone(t, dir, 1)
	folds := filepath.Join(dir, "folds", "3way2shot.json")
	out := filepath.Join(dir, "pp")
	args := []string{"fewshot", "--backbone", bb, "--data", "shapes:70:140", "--points", "256", "--groups", "16", "--group-size", "16",
		"--way", "3", "--shot", "2", "--query", "5", "--folds-file", folds, "--draw", "3", "--run", "0,2",
		"--epochs", "1", "--warmup", "0", "--batch", "2", "--method", "point-peft", "--prompts", "4", "--out", out}
	code, stdout, stderr := runCLI(args...)
	if code != 0 || !strings.Contains(stdout, "over 2 folds") {
		t.Fatalf("fewshot exited %d: %s %s", code, stdout, stderr)
	}
	var sum fewshot.Summary
	raw, err := os.ReadFile(filepath.Join(out, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &sum); err != nil || len(sum.Folds) != 2 || sum.Folds[1].Fold != 2 || sum.Mode != "fixed" {
		t.Fatalf("summary %+v (%v)", sum, err)
	}
	// A second call reuses the fold file and the finished folds' results.
	if err := os.Remove(filepath.Join(out, "fold-0", "last.safetensors")); err != nil {
		t.Fatal(err)
	}
	_, again, stderr := runCLI(args...)
	if _, first, _ := strings.Cut(stdout, "\n"); again != first || !strings.HasPrefix(stdout, "drew 3 3-way 2-shot folds") {
		t.Fatalf("rerun printed %q, first run %q (%s)", again, stdout, stderr)
	}
	// Folds of another setting in the same file are refused.
	bad := slices.Clone(args)
	bad[slices.Index(bad, "--shot")+1] = "1"
	if code, _, stderr = runCLI(bad...); code == 0 || !strings.Contains(stderr, "3-way 2-shot") {
		t.Errorf("other setting: exit %d, %s", code, stderr)
	}
	if got, err := parseFoldList("0-2,5"); err != nil || !slices.Equal(got, []int{0, 1, 2, 5}) {
		t.Errorf("fold list %v %v", got, err)
	}
	for _, s := range []string{"3-1", "x", "-1"} {
		if _, err := parseFoldList(s); err == nil {
			t.Errorf("fold list %q accepted", s)
		}
	}
}
