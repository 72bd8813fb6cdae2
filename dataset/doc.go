// Package dataset provides the point-cloud classification datasets of the
// project behind one small interface, plus a fast, deterministic batch
// loader.
//
// Sources: ModelNet40 as a folder of .npy files, as Point-BERT's
// modelnet40_normal_resampled text files or as its pickled .dat caches;
// ScanObjectNN (OBJ_BG, OBJ_ONLY, PB_T50_RS) from its HDF5 files; any
// <root>/<class>/<split>/ folder of clouds or meshes; and a procedural set of
// parametric shapes generated in code, which is the project's built-in data.
// Subset views (optionally relabelled to a few classes), stratified validation
// splits that can be saved and reused (NewSplit), and stratified folds for
// cross-validation carve new data sets out of these.
//
// Every random choice (subsets, resampling, mesh sampling, shape generation,
// shuffling, augmentation) is seeded from a user seed and the sample, batch
// or epoch index, so results never depend on goroutine scheduling.
package dataset
