// Package serve answers classification requests over HTTP for many fine-tuned models
// that share one frozen backbone: every adapter file in a directory (any registered
// fine-tuning method, or a full pointpeft checkpoint) is a model named after its file,
// loaded onto one copy of the backbone's weights (train.SharedBackbone). Models follow
// their files: a new, changed or removed file is loaded or dropped in the background
// and swapped in whole, so a request sees the old model or the new one, never half of
// one. Adapters of registered methods load when the program links them (cmd/pointpeft
// imports PointLoRA and PointGST; a program of its own imports what it serves).
//
// Concurrent requests for a model are gathered into micro-batches (at most
// Options.MaxBatch clouds, waiting at most Options.MaxWait for more) when the model's
// answer for a cloud does not depend on the other clouds of its batch: Point-PEFT in
// its faithful mode mixes the samples of a batch (the authors' gather), so those
// models, and any model whose answer for a cloud changes when it is batched (checked
// when it is loaded), run one cloud at a time.
//
// The Server is an http.Handler: JSON predictions at /v1/models/{name}/predict, the
// model list at /v1/models, /healthz, /readyz, Prometheus metrics at /metrics and a
// web page at /. ListenAndServe runs it with timeouts and drains in-flight requests
// when its context ends. The server keeps no state beyond the adapters directory, so
// replicas behind a load balancer serve the same models.
package serve
