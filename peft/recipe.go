package peft

// DataKind is the benchmark a released recipe was made for: a data source's
// dataset.Settings.Kind.
type DataKind string

// The kinds the peer methods released recipes for.
const (
	ScanObjectNNKind DataKind = "scanobjectnn"
	ModelNet40Kind   DataKind = "modelnet40"
)

// Recipe is a method's released fine-tuning recipe for one kind of data set, with
// the names and units of train.Config and train.Spec, which training copies it into
// (peft cannot name them: train imports peft).
type Recipe struct {
	// Source says briefly where the values come from (the authors' config files).
	Source string
	// AdamW; timm's cosine schedule ("epoch": stepped per epoch) with a linear warm-up
	// from WarmupLR over WarmupEpochs, down to MinLR; gradient norm clipped at ClipNorm.
	Epochs, BatchSize, WarmupEpochs            int
	LR, MinLR, WarmupLR, WeightDecay, ClipNorm float64
	Schedule                                   string
	Smoothing                                  float32
	// Augment names the training augmentation (train.Augmentations); Vote is the
	// number of evaluation views (1: none).
	Augment string
	Vote    int
	// Points per cloud the model sees, grouped into Groups groups of GroupSize points
	// (zero: the data set's reference grouping).
	Points, Groups, GroupSize int
	// FPSPool, when positive, is the training-time resampling of the authors' runners
	// (train.Config.FPSPool): each training batch is reduced by FPS to FPSPool points,
	// of which Points are drawn at random. The runners lower it to the clouds' size when
	// they hold fewer.
	FPSPool int
}

// MethodRecipe returns method's released recipe for kind; ok is false when it has
// none: the built-in methods, which train with the reference recipe, and a kind the
// authors released no configuration for.
func MethodRecipe(method Method, kind DataKind) (r Recipe, ok bool) {
	s, found := LookupMethod(method)
	if !found || s.Recipe == nil {
		return Recipe{}, false
	}
	return s.Recipe(kind)
}
