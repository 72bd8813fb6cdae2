// Command tables turns the run directories of the study scripts (tools/results/study.sh
// and fewshot.sh) into the markdown tables of docs/results.md and a PNG of every
// method's validation curve.
//
//	go run ./tools/results/tables -dir OUT [-png FILE] > tables.md
//
// ModelNet40 rows (OUT/modelnet40/<row>/lr<LR>-seed<S>/metrics.jsonl): for each row the
// learning rate with the best mean last-epoch validation accuracy is kept (a row run at
// several learning rates without a validation split is an error: choosing on the test
// set is what the study must not do), and its last epoch's test accuracy and mean class
// accuracy are given as mean ± sample standard deviation over the seeds. Few-shot rows
// come from OUT/fewshot/<N>way<K>shot/<row>/summary.json, linear-probe results from
// OUT/probe/*.json (tools/results/probe-epochs.sh), drawn against the pre-training epoch
// in OUT/probe_vs_epochs.png.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/pointpeft/pointpeft/fewshot"
	"github.com/pointpeft/pointpeft/plots"
	"github.com/pointpeft/pointpeft/train"
)

func main() {
	dir := flag.String("dir", "", "results directory of the study scripts")
	png := flag.String("png", "", "validation-curve PNG (default DIR/validation_curves.png); with -pretrain, the loss curve")
	pretrain := flag.String("pretrain", "", "instead: a pre-training metrics.jsonl, printed as the log table of docs/pretraining.md, its loss curve drawn to -png")
	flag.Parse()
	if *pretrain != "" {
		if err := writePretrain(os.Stdout, *pretrain, *png); err != nil {
			fmt.Fprintln(os.Stderr, "tables:", err)
			os.Exit(1)
		}
		return
	}
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "usage: tables -dir OUT [-png FILE] | tables -pretrain METRICS.jsonl -png FILE")
		os.Exit(2)
	}
	if *png == "" {
		*png = filepath.Join(*dir, "validation_curves.png")
	}
	if err := write(os.Stdout, *dir, *png); err != nil {
		fmt.Fprintln(os.Stderr, "tables:", err)
		os.Exit(1)
	}
}

// rowOrder is the order of the tables' rows; other rows follow by name.
var rowOrder = []string{"full", "linear", "bitfit", "point-peft-fixed", "point-peft-faithful", "idpt", "dapt", "pointgst", "pointlora"}

var rowNames = map[string]string{
	"full": "full fine-tuning", "linear": "linear probing", "bitfit": "BitFit",
	"point-peft-fixed": "Point-PEFT, `fixed`", "point-peft-faithful": "Point-PEFT, `faithful`",
	"idpt": "IDPT", "dapt": "DAPT", "pointgst": "PointGST, `fixed`", "pointlora": "PointLoRA, `fixed`",
}

func sortRows(rows []string) {
	rank := func(r string) int {
		if i := slices.Index(rowOrder, r); i >= 0 {
			return i
		}
		return len(rowOrder)
	}
	sort.Slice(rows, func(i, j int) bool {
		if a, b := rank(rows[i]), rank(rows[j]); a != b {
			return a < b
		}
		return rows[i] < rows[j]
	})
}

func display(row string) string {
	if n, ok := rowNames[row]; ok {
		return n
	}
	return row
}

// run is one fine-tuning run of the ModelNet40 study.
type run struct {
	lr        string
	seed      int
	history   []train.EpochMetrics
	trainable string // "N of M", from the run's printed summary; empty if unknown
}

func (r run) last() train.EpochMetrics { return r.history[len(r.history)-1] }

var runDir = regexp.MustCompile(`^lr(.+)-seed(\d+)$`)
var trainableRe = regexp.MustCompile(`trainable (\d+) of (\d+) parameters`)

// readStudy reads OUT/modelnet40: the runs of every row.
func readStudy(dir string) (map[string][]run, error) {
	root := filepath.Join(dir, "modelnet40")
	rows, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := map[string][]run{}
	for _, r := range rows {
		if !r.IsDir() {
			continue
		}
		runs, err := os.ReadDir(filepath.Join(root, r.Name()))
		if err != nil {
			return nil, err
		}
		for _, e := range runs {
			m := runDir.FindStringSubmatch(e.Name())
			if !e.IsDir() || m == nil {
				continue
			}
			path := filepath.Join(root, r.Name(), e.Name())
			h, err := readMetrics(filepath.Join(path, "metrics.jsonl"))
			if err != nil {
				return nil, err
			}
			if len(h) == 0 {
				continue
			}
			seed, _ := strconv.Atoi(m[2])
			rn := run{lr: m[1], seed: seed, history: h}
			if txt, err := os.ReadFile(path + ".out"); err == nil {
				if t := trainableRe.FindSubmatch(txt); t != nil {
					rn.trainable = string(t[1]) + " of " + string(t[2])
				}
			}
			out[r.Name()] = append(out[r.Name()], rn)
		}
	}
	return out, nil
}

func readMetrics(path string) ([]train.EpochMetrics, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var h []train.EpochMetrics
	for i, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		if line == "" {
			continue
		}
		var m train.EpochMetrics
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			return nil, fmt.Errorf("%s line %d: %w", path, i+1, err)
		}
		h = append(h, m)
	}
	return h, nil
}

// chosen is a row's runs at its chosen learning rate.
type chosen struct {
	lr    string
	runs  []run
	byVal bool // chosen on validation (false: one learning rate and no validation split)
}

// choose keeps the learning rate whose runs have the best mean last-epoch validation
// accuracy; with no validation there must be a single learning rate.
func choose(row string, runs []run) (chosen, error) {
	byLR := map[string][]run{}
	var lrs []string
	for _, r := range runs {
		if _, ok := byLR[r.lr]; !ok {
			lrs = append(lrs, r.lr)
		}
		byLR[r.lr] = append(byLR[r.lr], r)
	}
	sort.Strings(lrs)
	hasVal := true
	for _, r := range runs {
		hasVal = hasVal && r.last().ValAcc != nil
	}
	if !hasVal {
		if len(lrs) > 1 {
			return chosen{}, fmt.Errorf("%s: runs at learning rates %v without a validation split: choosing among them would use the test set", row, lrs)
		}
		return chosen{lr: lrs[0], runs: byLR[lrs[0]]}, nil
	}
	best, bestAcc := "", math.Inf(-1)
	for _, lr := range lrs {
		var accs []float64
		for _, r := range byLR[lr] {
			accs = append(accs, *r.last().ValAcc)
		}
		if m, _ := fewshot.MeanStd(accs); m > bestAcc {
			best, bestAcc = lr, m
		}
	}
	return chosen{lr: best, runs: byLR[best], byVal: true}, nil
}

func pm(xs []float64) string {
	m, s := fewshot.MeanStd(xs)
	if len(xs) == 1 {
		return fmt.Sprintf("%.2f%%", m)
	}
	return fmt.Sprintf("%.2f ± %.2f%%", m, s)
}

func write(w io.Writer, dir, png string) error {
	study, err := readStudy(dir)
	if err != nil {
		return err
	}
	var rows []string
	for r := range study {
		rows = append(rows, r)
	}
	sortRows(rows)
	var curves []plots.Series
	anyVal := false
	if len(rows) > 0 {
		fmt.Fprintln(w, "### ModelNet40")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "| method | learning rate | seeds | epochs | test OA (last epoch) | mean class acc | validation OA | trainable params |")
		fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|")
	}
	for _, row := range rows {
		c, err := choose(row, study[row])
		if err != nil {
			return err
		}
		var oa, mca, val []float64
		var seeds []string
		epochs := map[int]bool{}
		for _, r := range c.runs {
			l := r.last()
			oa, mca = append(oa, 100*l.TestAcc), append(mca, 100*l.MeanClassAcc)
			if l.ValAcc != nil {
				val = append(val, 100**l.ValAcc)
			}
			seeds = append(seeds, strconv.Itoa(r.seed))
			epochs[len(r.history)] = true
		}
		if len(epochs) > 1 {
			return fmt.Errorf("%s: the seeds' runs have different numbers of epochs (unfinished runs?)", row)
		}
		lr, valCell := c.lr+" (the only one; no validation split)", "—"
		if c.byVal {
			lr, valCell = c.lr+" (best on validation)", pm(val)
			anyVal = true
		}
		fmt.Fprintf(w, "| %s | %s | %s | %d | %s | %s | %s | %s |\n", display(row), lr, strings.Join(seeds, ", "),
			len(c.runs[0].history), pm(oa), pm(mca), valCell, c.runs[0].trainable)
		curves = append(curves, meanCurve(strings.ReplaceAll(display(row), "`", ""), c.runs))
	}
	if len(curves) > 0 {
		title, ylabel := "ModelNet40: validation accuracy of every method (mean over seeds)", "validation accuracy (%)"
		if !anyVal {
			title, ylabel = "ModelNet40: test accuracy of every method (the runs had no validation split)", "test accuracy (%)"
		}
		if err := plots.EpochCurves(png, title, ylabel, curves); err != nil {
			return err
		}
		fmt.Fprintf(w, "\nCurves: %s\n", png)
	}
	if err := writeFewshot(w, dir); err != nil {
		return err
	}
	return writeProbes(w, dir, filepath.Join(dir, "probe_vs_epochs.png"))
}

// meanCurve averages the held-out accuracy (validation, or test without validation) of
// runs epoch by epoch, over the epochs they all have.
func meanCurve(name string, runs []run) plots.Series {
	s := plots.Series{Name: name}
	n := len(runs[0].history)
	for _, r := range runs {
		n = min(n, len(r.history))
	}
	for e := 0; e < n; e++ {
		var sum float64
		for _, r := range runs {
			m := r.history[e]
			acc := m.TestAcc
			if m.ValAcc != nil {
				acc = *m.ValAcc
			}
			sum += 100 * acc
		}
		s.Epochs = append(s.Epochs, runs[0].history[e].Epoch)
		s.Values = append(s.Values, sum/float64(len(runs)))
	}
	return s
}

// fewshotSummary is the part of the fewshot command's summary.json the table needs.
type fewshotSummary struct {
	Way   int `json:"way"`
	Shot  int `json:"shot"`
	Folds []struct {
		TestAcc float64 `json:"test_acc"`
	} `json:"folds"`
}

func writeFewshot(w io.Writer, dir string) error {
	paths, err := filepath.Glob(filepath.Join(dir, "fewshot", "*", "*", "summary.json"))
	if err != nil || len(paths) == 0 {
		return err
	}
	cells := map[string]map[fewshot.Setting]string{}
	var rows []string
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		var s fewshotSummary
		if err := json.Unmarshal(raw, &s); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		var accs []float64
		for _, f := range s.Folds {
			accs = append(accs, 100*f.TestAcc)
		}
		if len(accs) == 0 {
			continue
		}
		row := filepath.Base(filepath.Dir(p))
		if cells[row] == nil {
			cells[row] = map[fewshot.Setting]string{}
			rows = append(rows, row)
		}
		m, sd := fewshot.MeanStd(accs)
		cells[row][fewshot.Setting{Way: s.Way, Shot: s.Shot}] = fmt.Sprintf("%.1f ± %.1f (%d folds)", m, sd, len(accs))
	}
	sortRows(rows)
	fmt.Fprintln(w, "\n### Few-shot ModelNet40 (last epoch's test accuracy, %, mean ± std over folds)")
	fmt.Fprintln(w)
	header, rule := "| method |", "|---|"
	for _, s := range fewshot.Standard {
		header += fmt.Sprintf(" %d-way %d-shot |", s.Way, s.Shot)
		rule += "---|"
	}
	fmt.Fprintln(w, header)
	fmt.Fprintln(w, rule)
	for _, row := range rows {
		line := "| " + display(row) + " |"
		for _, s := range fewshot.Standard {
			c := cells[row][fewshot.Setting{Way: s.Way, Shot: s.Shot}]
			if c == "" {
				c = "—"
			}
			line += " " + c + " |"
		}
		fmt.Fprintln(w, line)
	}
	return nil
}

// probeReport is the part of `pointpeft probe --json` the table needs.
type probeReport struct {
	Backbone     string  `json:"backbone"`
	Lambda       float64 `json:"lambda"`
	Acc          float64 `json:"test_acc"`
	MeanClassAcc float64 `json:"mean_class_acc"`
}

var epochRe = regexp.MustCompile(`epoch0*(\d+)`)

// writeProbes tabulates the linear probes, the pre-training run's checkpoints by epoch
// first, and plots their accuracy against the epoch.
func writeProbes(w io.Writer, dir, png string) error {
	paths, err := filepath.Glob(filepath.Join(dir, "probe", "*.json"))
	if err != nil || len(paths) == 0 {
		return err
	}
	type entry struct {
		name  string
		epoch int // -1: not a checkpoint of the run
		rep   probeReport
	}
	var es []entry
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		var r probeReport
		if err := json.Unmarshal(raw, &r); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		name := strings.TrimSuffix(filepath.Base(p), ".json")
		e := entry{name: name, epoch: -1, rep: r}
		if m := epochRe.FindStringSubmatch(name); m != nil && !strings.HasPrefix(name, "extra-") {
			e.epoch, _ = strconv.Atoi(m[1])
		}
		es = append(es, e)
	}
	sort.Slice(es, func(i, j int) bool {
		if (es[i].epoch < 0) != (es[j].epoch < 0) {
			return es[i].epoch >= 0
		}
		if es[i].epoch != es[j].epoch {
			return es[i].epoch < es[j].epoch
		}
		return es[i].name < es[j].name
	})
	fmt.Fprintln(w, "\n### Linear evaluation of frozen features (`pointpeft probe`)")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| backbone | pre-training epochs | test OA | mean class acc | λ (cross-validated) |")
	fmt.Fprintln(w, "|---|---|---|---|---|")
	curve := plots.Series{Name: "linear probe, test OA"}
	for _, e := range es {
		ep := "—"
		if e.epoch >= 0 {
			ep = strconv.Itoa(e.epoch)
			curve.Epochs = append(curve.Epochs, e.epoch)
			curve.Values = append(curve.Values, 100*e.rep.Acc)
		}
		fmt.Fprintf(w, "| `%s` | %s | %.2f%% | %.2f%% | %g |\n", e.rep.Backbone, ep, 100*e.rep.Acc, 100*e.rep.MeanClassAcc, e.rep.Lambda)
	}
	if len(curve.Epochs) == 0 {
		return nil
	}
	if err := plots.EpochCurves(png, "Linear probe of the pre-training checkpoints (ModelNet40 test OA)", "test accuracy (%)", []plots.Series{curve}); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nCurve: %s\n", png)
	return nil
}

// writePretrain prints a pre-training log (one metrics.jsonl line an epoch, train_loss
// the Chamfer-L2) as a markdown table and draws the loss against the epoch to png.
func writePretrain(w io.Writer, path, png string) error {
	h, err := readMetrics(path)
	if err != nil {
		return err
	}
	if len(h) == 0 {
		return fmt.Errorf("%s: no epochs", path)
	}
	fmt.Fprintln(w, "| epoch | lr at its first step | Chamfer-L2 | seconds | samples/s |")
	fmt.Fprintln(w, "|---|---|---|---|---|")
	curve := plots.Series{Name: "Chamfer-L2 (training split, masked groups)"}
	for _, m := range h {
		fmt.Fprintf(w, "| %d | %.1e | %.5f | %.0f | %.1f |\n", m.Epoch, m.LR, m.TrainLoss, m.Seconds, m.SamplesPerS)
		curve.Epochs = append(curve.Epochs, m.Epoch)
		curve.Values = append(curve.Values, m.TrainLoss)
	}
	if png == "" {
		return nil
	}
	return plots.EpochCurves(png, "Point-MAE pre-training of the shipped backbone", "Chamfer-L2", []plots.Series{curve})
}
