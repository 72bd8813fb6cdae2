// Package train fine-tunes and evaluates classifiers: it builds a method's model from a
// pre-trained backbone file (setup.go), runs the reference recipe's training loop with
// evaluation, checkpoints, resume and a NaN guard (loop.go), and writes the run's files
// (config, metrics.jsonl, plots, checkpoints, adapter) atomically into a run directory.
package train
