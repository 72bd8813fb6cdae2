package predict_test

import (
	"fmt"

	"github.com/pointpeft/pointpeft/predict"
)

// Load the authors' fine-tuned Point-PEFT checkpoint (here the reduced test fixture
// that tools/oracle writes) with the pre-trained Point-MAE it started from and its
// memory bank, and classify a point-cloud file.
func ExampleLoad() {
	p, err := predict.Load(predict.Options{
		Checkpoint: "../testdata/oracle/pointpeft_authors.pth",
		Backbone:   "../testdata/oracle/pointmae_pretrain.pth",
		Bank:       "../testdata/oracle/bank.pt",
		Classes:    []string{"a", "b", "c", "d", "e"},
		Groups:     16, GroupSize: 8, PriorGroups: 8, PriorGroupSize: 8,
		Normalize: true,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(p.Kind, p.Points, "points")
	preds, err := p.PredictFiles([]string{"../pcio/testdata/cube_modelnet.off"}, 2)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(preds[0].File, "→", preds[0].Class, "(mesh sampled on its", preds[0].Sampler+")")
	// Output:
	// the authors' Point-PEFT model (faithful) 256 points
	// ../pcio/testdata/cube_modelnet.off → b (mesh sampled on its surface)
}
