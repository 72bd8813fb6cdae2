// Package model holds the point-cloud Transformer backbones and their heads: the
// Point-MAE / Point-BERT fine-tuning classifier ("PointTransformer" in the authors'
// code), built from a Config so that the full 22M model and small test models are the
// same code, with parameter names that match the official checkpoints.
package model
