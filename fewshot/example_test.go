package fewshot_test

import (
	"fmt"

	"github.com/pointpeft/pointpeft/dataset"
	"github.com/pointpeft/pointpeft/fewshot"
)

// Draw 5-way 5-shot folds on the procedural shapes and open the first as data sets.
func ExampleDrawFrom() {
	cfg := dataset.DefaultShapesConfig()
	cfg.Train, cfg.Test, cfg.NumPoints = 140, 280, 64
	train, _ := dataset.NewShapes(cfg, "train")
	test, _ := dataset.NewShapes(cfg, "test")
	folds, err := fewshot.DrawFrom(train, test, fewshot.Setting{Way: 5, Shot: 5, Query: 20}, 3, 1)
	if err != nil {
		panic(err)
	}
	tr, te, err := folds.Datasets(train, test, 0)
	if err != nil {
		panic(err)
	}
	fmt.Println(len(folds.Folds), tr.Len(), te.Len(), len(tr.Classes()))
	// Output: 3 25 100 5
}
