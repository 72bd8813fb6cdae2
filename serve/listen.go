package serve

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"
)

// Timeouts of the HTTP server ListenAndServe runs.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 60 * time.Second
	writeTimeout      = 90 * time.Second
	idleTimeout       = 120 * time.Second
	// drainTimeout bounds how long in-flight requests may finish after the context
	// ends (Kubernetes gives a pod 30 s between SIGTERM and SIGKILL by default).
	drainTimeout = 25 * time.Second
)

// ListenAndServe serves s on addr until ctx ends (e.g. on SIGTERM), then stops
// accepting connections, reports not ready, lets in-flight requests finish and
// returns. ready, if not nil, gets the address listened on once it listens.
func ListenAndServe(ctx context.Context, addr string, s *Server, ready func(net.Addr)) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return Serve(ctx, ln, s, ready)
}

// Serve is ListenAndServe on a listener already open.
func Serve(ctx context.Context, ln net.Listener, s *Server, ready func(net.Addr)) error {
	hs := &http.Server{Handler: s, ReadHeaderTimeout: readHeaderTimeout, ReadTimeout: readTimeout,
		WriteTimeout: writeTimeout, IdleTimeout: idleTimeout, ErrorLog: nil}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	if ready != nil {
		ready(ln.Addr())
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.draining.Store(true)
	sctx, cancel := context.WithTimeout(context.Background(), drainTimeout)
	defer cancel()
	err := hs.Shutdown(sctx)
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}
