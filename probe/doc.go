// Package probe measures how good a frozen backbone's features are by linear
// evaluation, the backbone-quality metric of the self-supervised point-cloud
// literature: every training and test shape is encoded once by the frozen pre-trained
// encoder, a linear classifier is fitted on the training features, and its accuracy on
// the test features is the score.
//
// The feature is the encoder's group tokens after the final LayerNorm, max-pooled and
// mean-pooled over the groups and concatenated ([2C]). Point-BERT's linear-SVM
// validation reads its cls token, and Point-MAE's runner keeps the same SVM hook but
// switched off; Point-MAE's pre-training encoder has no cls token (the fine-tuning
// model's is untrained), so the pooled tokens are the whole of what pre-training
// learnt, and max+mean is the pooling that Point-MAE-style successors use for the same
// evaluation. The max part alone is the Point-PEFT memory bank's feature.
//
// The classifier is a multinomial logistic regression fitted in float64 with L-BFGS
// (deterministic), its L2 strength chosen by stratified cross-validation on the
// training features only; the test set is touched once, by the final classifier.
package probe
