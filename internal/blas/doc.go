// Package blas is the single matrix-multiply entry point of the engine.
//
// With cgo it calls OpenBLAS's cblas_sgemm (Debian libopenblas-dev); built with
// CGO_ENABLED=0 or the purego tag it falls back to gonum's pure-Go Sgemm, which is
// about ten times slower but needs no C toolchain. A GPU backend would add a third
// implementation of the same function behind another build tag.
package blas
