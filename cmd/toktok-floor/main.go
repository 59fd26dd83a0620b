// Command toktok-floor is the floor of the me benchmark: the least any server can do to
// answer TokTok's me query over real HTTP. It is a bare net/http server whose one handler
// reads the Authorization: Bearer token, verifies it in full with the token package
// (token.Service.VerifyAccessFull: signature, typ, iss, aud, exp and iat, every time, no
// cache), reads the request body and writes a fixed answer of the shape TokTok's me has:
//
//	{"data":{"me":{"id":"<sub>","email":"floor@example.com","role":"<role>"}}}
//
// A missing or invalid token gets the GraphQL error TokTok gives, with HTTP 200:
//
//	{"errors":[{"message":"unauthenticated","extensions":{"code":"UNAUTHENTICATED"}}]}
//
// Every path but GET /healthz (which answers "ok", for toktok-load -op idle) is that
// handler, so both http://HOST:PORT and http://HOST:PORT/graphql work.
//
// The benchmark (issue 12: me must reach 0.8× the floor's requests/s and cost at most
// 1.5× its CPU per request) starts the floor with TokTok's signing key and issuer, so
// that the access tokens TokTok issues verify here too, and sends the same tokens to
// both with toktok-load: -url signs the accounts in on TokTok, -target-url sends the
// timed me requests to the floor, -pid measures the floor's CPU:
//
//	toktok --data-dir D --public-url http://127.0.0.1:4100 ... &
//	toktok-floor -key D/jwt-es256.pem -issuer http://127.0.0.1:4100 &
//	toktok-load -url http://127.0.0.1:4100 -op me -target-url http://127.0.0.1:PORT -pid FLOOR_PID -label floor ...
//
// The key is an ES256 private key in PEM (TokTok writes its own to <data-dir>/jwt-es256.pem);
// -issuer is TokTok's iss: its --jwt-issuer, by default its --public-url, else
// http://HOST:PORT with the --port it was given (http://127.0.0.1:0 for --port 0, not the
// port it got); -audience is its --jwt-audience (default toktok). With a wrong one every
// token is refused: the first refusal is reported on stderr, with why. The address must
// be loopback unless -allow-remote is given. On start the floor prints one line,
//
//	toktok-floor listening on http://HOST:PORT
//
// and serves until SIGINT or SIGTERM, then shuts down gracefully.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/toktok/toktok/token"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "toktok-floor:", err)
		os.Exit(1)
	}
}

// options are the floor's flags.
type options struct {
	key, issuer, audience, addr string
	allowRemote                 bool
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("toktok-floor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.key, "key", "", "TokTok's ES256 signing key, PEM (required; TokTok writes it to <data-dir>/jwt-es256.pem)")
	fs.StringVar(&o.issuer, "issuer", "", "TokTok's token issuer, iss (required; TokTok's --jwt-issuer, by default its --public-url)")
	fs.StringVar(&o.audience, "audience", "toktok", "TokTok's token audience, aud (its --jwt-audience)")
	fs.StringVar(&o.addr, "addr", "127.0.0.1:0", "listen address (port 0: a free port)")
	fs.BoolVar(&o.allowRemote, "allow-remote", false, "allow an address that is not loopback")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	switch {
	case fs.NArg() > 0:
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	case o.key == "":
		return o, errors.New("-key is required: TokTok's signing key (<data-dir>/jwt-es256.pem)")
	case o.issuer == "":
		return o, errors.New("-issuer is required: TokTok's issuer (its --public-url)")
	case o.audience == "":
		return o, errors.New("-audience must not be empty")
	}
	host, _, err := net.SplitHostPort(o.addr)
	if err != nil {
		return o, fmt.Errorf("-addr %q: %w", o.addr, err)
	}
	if !o.allowRemote && !isLoopback(host) {
		return o, fmt.Errorf("-addr host %q is not loopback; pass -allow-remote to listen on it", host)
	}
	return o, nil
}

// isLoopback accepts localhost and loopback IP literals (an empty host is every interface).
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// run parses args, serves until ctx ends, then shuts the server down.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	key, err := token.LoadKeyFile(token.ES256, o.key)
	if err != nil {
		return err
	}
	tokens, err := token.New(token.Config{Issuer: o.issuer, Audience: o.audience}, key)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           newHandler(tokens, time.Now, stderr),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second, // TokTok's default --idle-timeout
		MaxHeaderBytes:    32 << 10,
	}
	if _, err := fmt.Fprintf(stdout, "toktok-floor listening on http://%s\n", ln.Addr()); err != nil {
		ln.Close()
		return err
	}
	if f, ok := stdout.(interface{ Sync() error }); ok {
		_ = f.Sync() // a pipe or terminal returns an error here; the line is written anyway
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	<-served
	return nil
}

const (
	floorEmail  = "floor@example.com"
	unauthentic = `{"errors":[{"message":"unauthenticated","extensions":{"code":"UNAUTHENTICATED"}}]}`
	maxBody     = 1 << 20
)

// newHandler is the floor: GET /healthz answers ok; everything else is me. The first
// token it refuses is reported on stderr, with why: a wrong -issuer, -audience or -key
// refuses every token, and the load test would measure nothing but refusals.
func newHandler(tokens *token.Service, now func() time.Time, stderr io.Writer) http.Handler {
	var once sync.Once
	refuse := func(w http.ResponseWriter, why error) {
		once.Do(func() {
			fmt.Fprintf(stderr, "toktok-floor: first token refused: %v (a wrong -issuer, -audience or -key refuses them all)\n", why)
		})
		_, _ = io.WriteString(w, unauthentic)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		// The body is read, as a GraphQL server must before it answers.
		_, _ = io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, maxBody))
		w.Header().Set("Content-Type", "application/json")
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			refuse(w, errors.New("no Bearer token"))
			return
		}
		c, err := tokens.VerifyAccessFull(tok, now())
		if err != nil {
			refuse(w, err)
			return
		}
		_, _ = w.Write(meAnswer(c.UserID, c.Role))
	})
	return mux
}

// meAnswer is the fixed me answer for sub and role, fields in TokTok's order.
func meAnswer(sub, role string) []byte {
	var a struct {
		Data struct {
			Me struct {
				ID    string `json:"id"`
				Email string `json:"email"`
				Role  string `json:"role"`
			} `json:"me"`
		} `json:"data"`
	}
	a.Data.Me.ID, a.Data.Me.Email, a.Data.Me.Role = sub, floorEmail, role
	b, err := json.Marshal(a)
	if err != nil { // cannot happen: strings always marshal
		return []byte(unauthentic)
	}
	return b
}
