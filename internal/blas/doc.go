// Package blas is the single matrix-multiply entry point of the engine.
//
// With cgo it calls OpenBLAS's cblas_sgemm (Debian libopenblas-dev), or oneDNN's
// dnnl_sgemm when oneDNN is installed (Debian libdnnl2): oneDNN is found with dlopen at
// start-up, so neither building nor running needs it, and it is used only after its
// products pass a self-check against float64. It detects the CPU itself, and its
// training step was the faster one on both CPUs measured side by side (AMD Zen 3 and
// Zen 5). POINTPEFT_GEMM=openblas or =onednn forces a library. OpenBLAS's own
// kernel choice is checked too: on a CPU newer than its release it falls back to a
// generic SSE kernel, and the package switches it to the widest one the CPU supports
// (see Info).
//
// Built with CGO_ENABLED=0 or the purego tag it falls back to gonum's pure-Go Sgemm,
// which is about ten times slower but needs no C toolchain. A GPU backend would add a
// third implementation of the same function behind another build tag.
package blas
