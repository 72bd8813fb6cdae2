// Package peft holds the parameter-efficient fine-tuning methods. Its first is
// Point-PEFT (Tang et al., AAAI 2024) on a frozen Point-MAE / Point-BERT backbone:
//
//   - the Point-prior Prompt (prompt.go): learnable prompt tokens per prompt layer,
//     enhanced by a parameter-free attention over a memory bank (bank.go) of features
//     that the frozen pre-trained encoder (prior.go) extracted from the training set;
//   - the Geometry-aware Adapter (adapter.go): an FFN adapter, a local attention over
//     spatial neighbourhoods of the tokens, pooled and propagated back to every token by
//     inverse-distance interpolation, and a residual adapter;
//   - the model (model.go) in two modes: "faithful" reproduces the authors' released
//     forward pass, prompt-layer gather bug included, "fixed" gives prompts their
//     learnable coordinates and gathers with the right stride;
//   - the trainable set (trainable.go): the authors' name filter and the other methods'
//     sets (full, linear probing, BitFit);
//   - the registry (registry.go, recipe.go) through which the peer methods, each in its
//     own package, add themselves with their authors' released fine-tuning recipes.
//
// Names follow the authors' state dicts (github.com/Ivan-Tang-3D/Point-PEFT), so their
// checkpoints load and ours load in their code.
package peft
