package train_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/pointpeft/pointpeft/train"
)

// Fine-tune the shipped backbone with a linear probe on the procedural shapes: what
// `pointpeft finetune --data shapes:32:14 --method linear ...` does.
func ExampleFinetune() {
	dir, err := os.MkdirTemp("", "finetune")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	spec := train.DefaultSpec() // Point-PEFT on the shipped backbone, the reference recipe
	spec.Data, spec.Method = "shapes:32:14", "linear"
	spec.Points, spec.Groups, spec.GroupSize = 256, 16, 16
	spec.Train.Epochs, spec.Train.BatchSize = 1, 16
	res, m, err := train.Finetune(context.Background(), spec, train.RunOptions{Dir: filepath.Join(dir, "run")})
	if err != nil {
		fmt.Println(err)
		return
	}
	_, errBest := os.Stat(filepath.Join(dir, "run", "best.safetensors"))
	fmt.Println(m.Method, len(m.Classes), "classes,", len(res.History), "epoch, best.safetensors written:", errBest == nil)
	// Output:
	// linear 14 classes, 1 epoch, best.safetensors written: true
}
