// Package train fine-tunes and evaluates classifiers: it builds a method's model from a
// pre-trained backbone file (setup.go), starts a peer method from its released recipe
// for the kind of data set (recipe.go), reads the data as the recipe does, optionally
// through an FPS pool (data.go), runs the training loop with evaluation, checkpoints,
// resume and a NaN guard (loop.go), and writes the run's files (config, metrics.jsonl,
// plots, checkpoints, adapter) atomically into a run directory.
package train
