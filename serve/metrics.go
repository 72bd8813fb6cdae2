package serve

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the server's Prometheus series, on a registry of its own so that
// several servers (tests) can live in one process.
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec   // model, code
	latency  *prometheus.HistogramVec // model
	batch    *prometheus.HistogramVec // model
	queue    *prometheus.GaugeVec     // model
	errors   *prometheus.CounterVec   // kind
	inflight prometheus.Gauge
	models   prometheus.Gauge
	reloads  *prometheus.CounterVec // result
}

// Error kinds, the label of pointpeft_serve_errors_total.
const (
	kindBadInput   = "bad_input"
	kindTooLarge   = "too_large"
	kindNotFound   = "not_found"
	kindOverloaded = "overloaded"
	kindTimeout    = "timeout"
	kindInternal   = "internal"
)

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pointpeft_serve_requests_total", Help: "Prediction requests by model and HTTP status.",
		}, []string{"model", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "pointpeft_serve_request_seconds", Help: "Prediction latency by model, from the request to the answer.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}, []string{"model"}),
		batch: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "pointpeft_serve_batch_size", Help: "Clouds per forward pass by model.",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64},
		}, []string{"model"}),
		queue: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "pointpeft_serve_queue_depth", Help: "Clouds waiting for a forward pass by model.",
		}, []string{"model"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pointpeft_serve_errors_total", Help: "Failed prediction requests by kind.",
		}, []string{"kind"}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "pointpeft_serve_in_flight", Help: "Prediction requests being answered.",
		}),
		models: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "pointpeft_serve_models", Help: "Models loaded.",
		}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pointpeft_serve_model_loads_total", Help: "Model file loads by result (ok, error).",
		}, []string{"result"}),
	}
	m.reg.MustRegister(m.requests, m.latency, m.batch, m.queue, m.errors, m.inflight, m.models, m.reloads,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}
