// Package model holds the point-cloud Transformer backbones and their heads: the
// Point-MAE / Point-BERT fine-tuning classifier ("PointTransformer" in the authors'
// code) and the Point-MAE pre-training model (masked autoencoder with Chamfer-L2 loss).
// Both are built from a Config, so the full 22M model and small test models are the same
// code, with parameter names that match the official checkpoints.
package model
