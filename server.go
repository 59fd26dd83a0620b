// Command toktok is TokTok, an authentication and user-management service for single-page
// apps: GraphQL at /graphql, JWKS at /.well-known/jwks.json. `go run .` serves it on
// localhost:4100 with an embedded SQLite store; `--help` lists every setting.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/toktok/toktok/app"
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
	log := app.NewLogger(cfg.Log, stderr)
	a, err := app.New(ctx, cfg, app.Options{Log: log})
	if err != nil {
		return err
	}
	defer a.Close()

	ln, err := net.Listen("tcp", a.Addr())
	if err != nil {
		return err
	}
	// Print the configured host (localhost, say) with the port actually bound (--port=0).
	base := cfg.HTTP.LocalBase(ln.Addr().(*net.TCPAddr).Port)
	log.Info("TokTok is serving", "mode", cfg.Mode, "addr", ln.Addr().String(),
		"store", storeName(cfg), "salt", cfg.Credentials.Encrypt, "anojwt", cfg.Account.AnonJWT)
	fmt.Fprintf(stdout, "TokTok (%s mode) listening on %s\n  GraphQL: %s/graphql\n  JWKS:    %s/.well-known/jwks.json\n", cfg.Mode, base, base, base)
	if cfg.HTTP.Playground {
		fmt.Fprintf(stdout, "  IDE:     %s/playground\n", base)
	}
	if ready != nil {
		ready <- ln.Addr().String()
	}
	return a.Serve(ctx, ln)
}

// storeName says which store runs, without a MongoDB URI's credentials.
func storeName(cfg config.Config) string {
	if cfg.Store.MongoDB() {
		return "mongodb"
	}
	return "sqlite:" + cfg.Store.SQLitePath()
}
