package app

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// serveDebug starts the profiling listener (--debug-addr) when one is configured: Go's
// pprof handlers on a mux of their own, never on the service's handler or on
// http.DefaultServeMux, so a profile is reachable only on that loopback address. It
// returns the function that stops it.
func (a *App) serveDebug(addr string) (stop func(), err error) {
	if addr == "" {
		return func() {}, nil
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return a.serveSide(addr, "profiles served (--debug-addr)", mux)
}

// serveMetrics starts the metrics listener (--metrics-addr) when one is configured:
// /metrics alone, on a mux of its own.
func (a *App) serveMetrics(addr string) (stop func(), err error) {
	if addr == "" || a.metrics == nil {
		return func() {}, nil
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", a.metrics.Handler())
	return a.serveSide(addr, "metrics served (--metrics-addr)", mux)
}

// serveSide serves h on a listener of its own at addr, beside the service's, and returns
// the function that stops it.
func (a *App) serveSide(addr, what string, h http.Handler) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Warn("side listener stopped", "addr", addr, "err", err)
		}
	}()
	a.log.Info(what, "addr", ln.Addr().String())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if srv.Shutdown(ctx) != nil {
			_ = srv.Close() // a profile still running is cut: profiles are not requests to keep
		}
		<-done
	}, nil
}
