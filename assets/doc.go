// Package assets embeds the files the tool ships: the small pre-trained Point-MAE
// backbone that `pointpeft demo` starts from (its recipe, log and loss curve are in
// docs/pretraining.md).
package assets

import _ "embed"

// SmallBackbone is a Point-MAE encoder (6 blocks of width 192) pre-trained with
// `pointpeft pretrain --preset small` on the ModelNet40 training split, stored in
// safetensors with float16 weights.
//
//go:embed backbone-small.safetensors
var SmallBackbone []byte

// SmallBackboneName names the embedded file in messages.
const SmallBackboneName = "assets/backbone-small.safetensors"
