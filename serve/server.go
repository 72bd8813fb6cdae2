package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/pointpeft/pointpeft/train"
)

// Options configure a Server. Zero values take the defaults named.
type Options struct {
	// Backbone is the frozen backbone every adapter is loaded onto (empty: the
	// shipped one).
	Backbone string
	// Adapters is the directory of model files.
	Adapters string
	// MaxBatch is the most clouds of one model per forward pass (default 16);
	// MaxWait how long the first waits for others (default 5ms).
	MaxBatch int
	MaxWait  time.Duration
	// MaxBody is the largest request body in bytes (default 32 MiB); MaxPoints the
	// most points (mesh vertices) a request may hold (default 1,000,000).
	MaxBody   int64
	MaxPoints int
	// MaxInFlight is how many predictions may be answered at once (default 64);
	// more are refused with 429 and a Retry-After.
	MaxInFlight int
	// RequestTimeout bounds one prediction, queueing included (default 30s).
	RequestTimeout time.Duration
	// NoNormalize feeds clouds as they are instead of centring them and scaling them
	// into the unit sphere (ModelNet40's convention).
	NoNormalize bool
	// Log gets model loads and failures (default: discarded).
	Log *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.MaxBatch <= 0 {
		o.MaxBatch = 16
	}
	if o.MaxWait <= 0 {
		o.MaxWait = 5 * time.Millisecond
	}
	if o.MaxBody <= 0 {
		o.MaxBody = 32 << 20
	}
	if o.MaxPoints <= 0 {
		o.MaxPoints = 1_000_000
	}
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = 64
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = 30 * time.Second
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return o
}

// Server serves the models of an adapters directory over HTTP.
type Server struct {
	opt      Options
	backbone *train.SharedBackbone
	// models is the current name → model map; a reload builds a new map and swaps it
	// in, so a request reads one consistent set.
	models atomic.Pointer[map[string]*Model]
	// failed remembers files that did not load, so that they are retried only when
	// they change; loadErrs is the last error of each, for the model list.
	reloadMu sync.Mutex
	failed   map[string]stamp
	loadErrs atomic.Pointer[map[string]string]

	slots    chan struct{}
	draining atomic.Bool
	met      *metrics
	mux      *http.ServeMux
}

// New reads the backbone and loads every model of the adapters directory.
func New(opt Options) (*Server, error) {
	opt = opt.withDefaults()
	if opt.Adapters == "" {
		return nil, errors.New("serve: no adapters directory")
	}
	if fi, err := os.Stat(opt.Adapters); err != nil {
		return nil, fmt.Errorf("serve: adapters directory: %w", err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("serve: adapters directory %s is not a directory", opt.Adapters)
	}
	bb, err := train.OpenSharedBackbone(opt.Backbone)
	if err != nil {
		return nil, err
	}
	s := &Server{opt: opt, backbone: bb, failed: map[string]stamp{}, slots: make(chan struct{}, opt.MaxInFlight), met: newMetrics()}
	empty := map[string]*Model{}
	s.models.Store(&empty)
	noErrs := map[string]string{}
	s.loadErrs.Store(&noErrs)
	if err := s.Reload(); err != nil {
		return nil, err
	}
	s.routes()
	return s, nil
}

// Models lists the loaded models by name.
func (s *Server) Models() []Info {
	cur := *s.models.Load()
	out := make([]Info, 0, len(cur))
	for _, m := range cur {
		out = append(out, m.Info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Reload brings the models in line with the adapters directory: new and changed
// files are loaded (a file that fails keeps the model it had, if any, and is retried
// when it changes again), models whose files are gone are dropped. The new set is
// swapped in at once.
func (s *Server) Reload() error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	found, err := scan(s.opt.Adapters)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	old := *s.models.Load()
	next := make(map[string]*Model, len(found))
	errs := map[string]string{}
	var retired []*Model
	for _, c := range found {
		cur, ok := old[c.name]
		if ok && cur.stamp == c.stamp && cur.File == c.rel {
			next[c.name] = cur
			continue
		}
		if st, bad := s.failed[c.rel]; bad && st == c.stamp {
			errs[c.name] = (*s.loadErrs.Load())[c.name]
			if ok {
				next[c.name] = cur
			}
			continue
		}
		m, err := load(s.backbone, s.opt.Adapters, c, s.opt)
		if err != nil {
			s.met.reloads.WithLabelValues("error").Inc()
			s.failed[c.rel] = c.stamp
			errs[c.name] = err.Error()
			s.opt.Log.Warn("model not loaded", "name", c.name, "err", err)
			if ok {
				next[c.name] = cur
			}
			continue
		}
		delete(s.failed, c.rel)
		s.met.reloads.WithLabelValues("ok").Inc()
		s.startBatcher(m)
		next[c.name] = m
		if ok {
			retired = append(retired, cur)
		}
		s.opt.Log.Info("model loaded", "name", c.name, "method", m.Method, "file", c.rel, "batched", m.Batched)
	}
	present := map[string]bool{}
	for _, c := range found {
		present[c.rel] = true
	}
	for rel := range s.failed {
		if !present[rel] {
			delete(s.failed, rel)
		}
	}
	for name, m := range old {
		if _, ok := next[name]; !ok {
			retired = append(retired, m)
			s.met.queue.DeleteLabelValues(name)
			s.opt.Log.Info("model removed", "name", name)
		}
	}
	s.models.Store(&next)
	s.loadErrs.Store(&errs)
	s.met.models.Set(float64(len(next)))
	for _, m := range retired {
		m.batch.close()
	}
	return nil
}

func (s *Server) startBatcher(m *Model) {
	max := s.opt.MaxBatch
	if !m.Batched {
		max = 1
	}
	name := m.Name
	m.batch = newBatcher(m.pred, max, s.opt.MaxWait, func(size, queued int) {
		if size > 0 {
			s.met.batch.WithLabelValues(name).Observe(float64(size))
		}
		s.met.queue.WithLabelValues(name).Set(float64(queued))
	})
}

// Watch reloads every interval until ctx ends (polling the directory's file times and
// sizes works on every file system, network and container volumes included).
func (s *Server) Watch(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.Reload(); err != nil {
				s.opt.Log.Warn("reload", "err", err)
			}
		}
	}
}

// Close stops the models' batchers; the Server must not be used after.
func (s *Server) Close() {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	for _, m := range *s.models.Load() {
		m.batch.close()
	}
	empty := map[string]*Model{}
	s.models.Store(&empty)
}

// ServeHTTP answers one request; a panic in a handler is answered 500, never passed on.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.met.errors.WithLabelValues(kindInternal).Inc()
			s.opt.Log.Error("panic", "path", r.URL.Path, "panic", v)
			writeError(w, http.StatusInternalServerError, "internal error")
		}
	}()
	s.mux.ServeHTTP(w, r)
}

func (s *Server) routes() {
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("POST /v1/models/{name}/predict", s.predict)
	s.mux.HandleFunc("GET /v1/models", s.list)
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	s.mux.HandleFunc("GET /readyz", s.ready)
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(s.met.reg, promhttp.HandlerOpts{}))
	s.mux.Handle("GET /", pageHandler())
}

// ready is 200 while the server has models and is not draining, 503 otherwise, so a
// load balancer sends requests only to replicas that can answer them.
func (s *Server) ready(w http.ResponseWriter, _ *http.Request) {
	n := len(*s.models.Load())
	switch {
	case s.draining.Load():
		writeError(w, http.StatusServiceUnavailable, "draining")
	case n == 0:
		writeError(w, http.StatusServiceUnavailable, "no models loaded from "+s.opt.Adapters)
	default:
		writeJSON(w, http.StatusOK, map[string]any{"status": "ready", "models": n})
	}
}

// modelList is the answer of GET /v1/models.
type modelList struct {
	Backbone string            `json:"backbone"`
	Models   []Info            `json:"models"`
	Errors   map[string]string `json:"errors,omitempty"`
}

func (s *Server) list(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, modelList{Backbone: s.backbone.Name(), Models: s.Models(), Errors: *s.loadErrs.Load()})
}
