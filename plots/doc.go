// Package plots draws the PNG pictures of a training run: loss, accuracy and learning
// rate curves, a confusion matrix, and a grid of point clouds with their predicted and
// true labels. It uses gonum.org/v1/plot with its bundled Liberation fonts, so no system
// fonts are needed, and writes every file atomically (temporary file, then rename), so a
// reader watching the run directory never sees a half-written picture.
package plots
