// Command toktok is TokTok, an authentication and user-management service for single-page
// apps: GraphQL at /graphql, JWKS at /.well-known/jwks.json. `go run .` serves it on
// localhost:4100 with an embedded SQLite store; `--help` lists every setting.
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/toktok/toktok/config"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr, nil); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "toktok:", err)
		os.Exit(1)
	}
}

// run loads the configuration, builds the app, and serves until ctx ends, then shuts down
// gracefully. ready, when not nil, receives the listening address.
func run(ctx context.Context, args []string, env func(string) (string, bool), stdout, stderr io.Writer, ready chan<- string) error {
	cfg, err := config.Load(args, env, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("configuration:\n%w", err)
	}
	log := newLogger(cfg.Log, stderr)
	a, err := newApp(ctx, cfg, appOptions{Log: log})
	if err != nil {
		return err
	}
	defer a.Close()

	ln, err := net.Listen("tcp", cfg.HTTP.Addr())
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           a.handler,
		ReadTimeout:       cfg.HTTP.ReadTimeout,
		ReadHeaderTimeout: cfg.HTTP.ReadTimeout,
		WriteTimeout:      cfg.HTTP.WriteTimeout,
		IdleTimeout:       cfg.HTTP.IdleTimeout,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	// Print the configured host (localhost, say) with the port actually bound (--port=0).
	port := ln.Addr().(*net.TCPAddr).Port
	host := cfg.HTTP.Host
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	base := "http://" + net.JoinHostPort(host, strconv.Itoa(port))
	log.Info("TokTok is serving", "mode", cfg.Mode, "addr", ln.Addr().String(),
		"store", storeName(cfg), "salt", cfg.Credentials.Encrypt, "anojwt", cfg.Account.AnonJWT)
	fmt.Fprintf(stdout, "TokTok (%s mode) listening on %s\n  GraphQL: %s/graphql\n  JWKS:    %s/.well-known/jwks.json\n", cfg.Mode, base, base, base)
	if cfg.HTTP.Playground {
		fmt.Fprintf(stdout, "  IDE:     %s/playground\n", base)
	}
	if ready != nil {
		ready <- ln.Addr().String()
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.HTTP.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// storeName says which store runs, without a MongoDB URI's credentials.
func storeName(cfg config.Config) string {
	if cfg.Store.MongoDB() {
		return "mongodb"
	}
	return "sqlite:" + cfg.Store.SQLitePath()
}

func newLogger(c config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func randomSecret() ([]byte, error) {
	b := make([]byte, 32)
	_, err := rand.Read(b)
	return b, err
}
