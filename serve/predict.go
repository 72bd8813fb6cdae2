package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/pointpeft/pointpeft/pcio"
	"github.com/pointpeft/pointpeft/predict"
)

// Answer is the reply to a prediction.
type Answer struct {
	Model   string              `json:"model"`
	Class   string              `json:"class"`
	Prob    float32             `json:"prob"`
	Top     []predict.ClassProb `json:"top"`
	Sampler string              `json:"sampler"`
	// Points is the number of points (mesh vertices) received.
	Points int `json:"points"`
	// Batch is the number of clouds in the forward pass this one ran in.
	Batch int `json:"batch"`
	// Millis is the time from the request to the answer.
	Millis float64 `json:"took_ms"`
	// Cloud holds the points the model saw (xyz interleaved), with ?cloud=1.
	Cloud []float32 `json:"cloud,omitempty"`
}

// errInternal marks a failure that is the server's, not the request's.
var errInternal = errors.New("internal error")

// contentFormats maps request content types to pcio formats.
var contentFormats = map[string]string{
	"application/x-npy":        "npy",
	"application/npy":          "npy",
	"application/octet-stream": "",
	"text/plain":               "txt",
	"text/x-xyz":               "xyz",
	"application/ply":          "ply",
	"model/ply":                "ply",
	"application/x-ply":        "ply",
	"model/x-ply":              "ply",
	"application/off":          "off",
	"model/off":                "off",
	"application/x-off":        "off",
	"application/pcd":          "pcd",
	"application/x-pcd":        "pcd",
}

// jsonPoints is a JSON body: points as [x, y, z] triples.
type jsonPoints struct {
	Points [][]float32 `json:"points"`
}

// httpError is an error with the status it is answered with and its metrics kind.
type httpError struct {
	code int
	kind string
	msg  string
}

func (e *httpError) Error() string { return e.msg }

func badInput(format string, a ...any) *httpError {
	return &httpError{http.StatusBadRequest, kindBadInput, fmt.Sprintf(format, a...)}
}

// predict answers POST /v1/models/{name}/predict.
func (s *Server) predict(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	name := r.PathValue("name")
	code := http.StatusOK
	label := name
	defer func() {
		s.met.requests.WithLabelValues(label, strconv.Itoa(code)).Inc()
		if code == http.StatusOK {
			s.met.latency.WithLabelValues(label).Observe(time.Since(start).Seconds())
		}
	}()
	fail := func(e *httpError) {
		code = e.code
		s.met.errors.WithLabelValues(e.kind).Inc()
		if e.code == http.StatusTooManyRequests || e.code == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", "1")
		}
		writeError(w, e.code, e.msg)
	}
	m, ok := (*s.models.Load())[name]
	if !ok {
		// Unknown names are not labels: a client could otherwise grow the metrics.
		label = "unknown"
		fail(&httpError{http.StatusNotFound, kindNotFound, fmt.Sprintf("no model %q (GET /v1/models lists them)", name)})
		return
	}
	if s.draining.Load() {
		fail(&httpError{http.StatusServiceUnavailable, kindOverloaded, "the server is shutting down"})
		return
	}
	select {
	case s.slots <- struct{}{}:
		defer func() { <-s.slots }()
	default:
		fail(&httpError{http.StatusTooManyRequests, kindOverloaded, fmt.Sprintf("%d predictions in flight: retry later", cap(s.slots))})
		return
	}
	s.met.inflight.Inc()
	defer s.met.inflight.Dec()
	top := 5
	if v := r.URL.Query().Get("top"); v != "" {
		k, err := strconv.Atoi(v)
		if err != nil || k < 1 {
			fail(badInput("top=%q: want a positive integer", v))
			return
		}
		top = k
	}
	c, herr := s.readCloud(w, r)
	if herr != nil {
		fail(herr)
		return
	}
	pts, sampler, err := m.pred.PrepareCloud(c, "request body")
	if err != nil {
		fail(badInput("%v", err))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.opt.RequestTimeout)
	defer cancel()
	res := m.batch.do(ctx, pts)
	switch {
	case errors.Is(res.err, context.DeadlineExceeded):
		fail(&httpError{http.StatusServiceUnavailable, kindTimeout, "the prediction took too long: retry later"})
		return
	case errors.Is(res.err, context.Canceled):
		code = 499 // the client went away; nginx's code for it
		return
	case res.err != nil:
		s.opt.Log.Error("predict", "model", name, "err", res.err)
		fail(&httpError{http.StatusInternalServerError, kindInternal, "internal error: " + res.err.Error()})
		return
	}
	pr := m.pred.Rank(res.logits, top)
	a := Answer{Model: name, Class: pr.Class, Prob: pr.Prob, Top: pr.Top, Sampler: sampler, Points: c.Len(), Batch: res.batch,
		Millis: float64(time.Since(start).Microseconds()) / 1000}
	if r.URL.Query().Get("cloud") == "1" {
		a.Cloud = pts
	}
	writeJSON(w, http.StatusOK, a)
}

// readCloud decodes the body by the format parameter, else by its content type: a
// point-cloud or mesh file pcio reads, or JSON points.
func (s *Server) readCloud(w http.ResponseWriter, r *http.Request) (pcio.Cloud, *httpError) {
	format := strings.ToLower(r.URL.Query().Get("format"))
	if format == "" {
		ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if ct == "application/json" {
			format = "json"
		} else {
			format = contentFormats[ct]
		}
	}
	if format == "" {
		return pcio.Cloud{}, badInput("say the body's format: a format parameter (npy, ply, off, pcd, txt, xyz, json) or its Content-Type")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.opt.MaxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return pcio.Cloud{}, &httpError{http.StatusRequestEntityTooLarge, kindTooLarge, fmt.Sprintf("body over %d bytes", s.opt.MaxBody)}
		}
		return pcio.Cloud{}, badInput("read body: %v", err)
	}
	var c pcio.Cloud
	if format == "json" {
		var jp jsonPoints
		if err := json.Unmarshal(body, &jp); err != nil {
			return pcio.Cloud{}, badInput("json: %v", err)
		}
		if len(jp.Points) > s.opt.MaxPoints {
			return pcio.Cloud{}, tooManyPoints(len(jp.Points), s.opt.MaxPoints)
		}
		c.Points = make([]float32, 0, 3*len(jp.Points))
		for i, p := range jp.Points {
			if len(p) != 3 {
				return pcio.Cloud{}, badInput("json: point %d has %d coordinates, want 3", i, len(p))
			}
			c.Points = append(c.Points, p...)
		}
	} else if c, err = pcio.DecodeCloud(body, format); err != nil {
		return pcio.Cloud{}, badInput("%v", err) // pcio names the format
	}
	if c.Len() > s.opt.MaxPoints {
		return pcio.Cloud{}, tooManyPoints(c.Len(), s.opt.MaxPoints)
	}
	return c, nil
}

func tooManyPoints(n, max int) *httpError {
	return &httpError{http.StatusRequestEntityTooLarge, kindTooLarge, fmt.Sprintf("%d points, at most %d are accepted", n, max)}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v) // the client may have gone; nothing to tell it
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}
