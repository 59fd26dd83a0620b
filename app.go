package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/rs/cors"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/toktok/toktok/account"
	"github.com/toktok/toktok/config"
	"github.com/toktok/toktok/credentials"
	"github.com/toktok/toktok/graph"
	"github.com/toktok/toktok/password"
	"github.com/toktok/toktok/resolvers"
	"github.com/toktok/toktok/secretfile"
	"github.com/toktok/toktok/store"
	"github.com/toktok/toktok/store/sqlite"
	"github.com/toktok/toktok/token"
	"github.com/toktok/toktok/web"
)

// app is one running TokTok: its services and the HTTP handler that exposes them.
type app struct {
	cfg     config.Config
	log     *slog.Logger
	now     func() time.Time
	store   store.Store
	tokens  *token.Service
	account *account.Service
	handler http.Handler
}

// appOptions are the parts tests replace: the clock and the logger. A nil Store opens the
// configured one.
type appOptions struct {
	Now   func() time.Time
	Log   *slog.Logger
	Store store.Store
}

// newApp builds everything from cfg: store, keys, services, handler. The caller owns
// Close.
func newApp(ctx context.Context, cfg config.Config, opts appOptions) (*app, error) {
	a := &app{cfg: cfg, log: opts.Log, now: opts.Now, store: opts.Store}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.store == nil {
		st, err := sqlite.Open(ctx, cfg.Store.SQLitePath())
		if err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
		a.store = st
	}
	ok := false
	defer func() {
		if !ok {
			a.store.Close()
		}
	}()

	alg, err := token.ParseAlg(cfg.Token.Alg)
	if err != nil {
		return nil, err
	}
	key, err := a.signingKey(alg)
	if err != nil {
		return nil, err
	}
	var previous []*token.Key
	for _, spec := range cfg.Token.VerifyKeyFiles {
		kalg, path := alg, spec
		if name, rest, ok := strings.Cut(spec, ":"); ok {
			if parsed, err := token.ParseAlg(name); err == nil {
				kalg, path = parsed, rest
			}
		}
		k, err := token.LoadVerifyKeyFile(kalg, path)
		if err != nil {
			return nil, err
		}
		previous = append(previous, k)
	}
	a.tokens, err = token.New(token.Config{
		Issuer: cfg.Token.Issuer, Audience: cfg.Token.Audience,
		AccessTTL: cfg.Token.AccessTTL, AnonTTL: cfg.Token.AnonTTL, Leeway: cfg.Token.Leeway,
	}, key, previous...)
	if err != nil {
		return nil, err
	}
	refresh, err := a.refreshCodec()
	if err != nil {
		return nil, err
	}
	var box *credentials.Box
	if cfg.Credentials.Encrypt {
		if box, err = a.credentialsBox(); err != nil {
			return nil, err
		}
	}
	hasher := password.New(password.Params{
		Memory: uint32(cfg.Password.MemoryKiB), Time: uint32(cfg.Password.Time), Threads: uint8(cfg.Password.Threads),
	}, cfg.Password.Concurrency)
	a.account = account.New(account.Config{
		AnonJWT: cfg.Account.AnonJWT, Antispam: cfg.Account.Antispam, AntispamValue: cfg.Account.AntispamValue,
		RegistrationOpen: cfg.Account.RegistrationOpen,
		Policy: password.Policy{
			MinLength: cfg.Account.PasswordMinLength, MaxLength: cfg.Account.PasswordMaxLength, ServiceName: "toktok",
		},
		AccessTTL:          cfg.Token.AccessTTL,
		RefreshIdleTTL:     cfg.Token.RefreshIdleTTL,
		RefreshAbsoluteTTL: cfg.Token.RefreshAbsoluteTTL,
		RefreshGrace:       cfg.Token.RefreshGrace,
	}, account.Deps{
		Store: a.store, Hasher: hasher, Tokens: a.tokens, RefreshCodec: refresh, Box: box, Now: a.now, Log: a.log,
	})
	if a.handler, err = a.routes(); err != nil {
		return nil, err
	}
	ok = true
	return a, nil
}

// Close releases the store.
func (a *app) Close() error { return a.store.Close() }

func (a *app) signingKey(alg token.Alg) (*token.Key, error) {
	if a.cfg.Token.KeyFile != "" {
		return token.LoadKeyFile(alg, a.cfg.Token.KeyFile)
	}
	path := filepath.Join(a.cfg.Store.DataDir, "jwt-"+strings.ToLower(string(alg))+".pem")
	key, created, err := token.LoadOrGenerateKey(alg, path)
	if err != nil {
		return nil, err
	}
	if created {
		a.log.Warn("generated a signing key for development; set --jwt-key-file in production", "path", path, "kid", key.KID())
	}
	return key, nil
}

func (a *app) refreshCodec() (*token.RefreshCodec, error) {
	var secret []byte
	var err error
	if a.cfg.Token.RefreshSecretFile != "" {
		secret, _, err = secretfile.LoadOrCreate(a.cfg.Token.RefreshSecretFile, func() ([]byte, error) {
			return nil, errors.New("the refresh secret file does not exist")
		})
	} else {
		path := filepath.Join(a.cfg.Store.DataDir, "refresh-secret")
		var created bool
		secret, created, err = secretfile.LoadOrCreate(path, randomSecret)
		if created {
			a.log.Warn("generated a refresh-token secret for development; set --refresh-secret-file in production", "path", path)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("refresh secret: %w", err)
	}
	return token.NewRefreshCodec(secret)
}

func (a *app) credentialsBox() (*credentials.Box, error) {
	if a.cfg.Credentials.KeyFile != "" {
		return credentials.LoadKeyFile(a.cfg.Credentials.KeyFile)
	}
	path := filepath.Join(a.cfg.Store.DataDir, "credentials-rsa.pem")
	box, created, err := credentials.LoadOrGenerate(path)
	if created {
		a.log.Warn("generated the --salt RSA key pair for development; set --rsa-key-file in production", "path", path)
	}
	return box, err
}

// routes assembles the HTTP surface of the contract.
func (a *app) routes() (http.Handler, error) {
	res := &resolvers.Resolver{Account: a.account, Log: a.log}
	srv := handler.New(graph.NewExecutableSchema(res.Config()))
	srv.AddTransport(postTransport{})
	if a.cfg.HTTP.GraphQLGet {
		srv.AddTransport(getTransport{})
	}
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	srv.SetDisableSuggestion(true)
	srv.SetErrorPresenter(resolvers.ErrorPresenter(a.log))
	srv.SetRecoverFunc(resolvers.RecoverFunc(a.log))
	if a.cfg.HTTP.Introspection {
		srv.Use(extension.Introspection{})
	}
	srv.Use(&limits{
		tokens: a.cfg.HTTP.TokenLimit, depth: a.cfg.HTTP.DepthLimit,
		aliases: a.cfg.HTTP.AliasLimit, complexity: a.cfg.HTTP.ComplexityLimit,
		introspection: a.cfg.HTTP.Introspection,
	})

	mux := http.NewServeMux()
	gql := noStore(graphqlGate(a.cfg.HTTP.GraphQLGet, clientInfo(a.cfg.HTTP.TrustedProxies, authenticate(a.tokens, a.now, srv))))
	mux.Handle("/graphql", gql)
	mux.HandleFunc("GET /.well-known/jwks.json", a.jwks)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}`))
	})
	mux.HandleFunc("GET /readyz", a.readyz)
	if a.cfg.HTTP.Playground {
		pg, err := web.Playground(web.PlaygroundOptions{Endpoint: "/graphql", AssetsDir: a.cfg.HTTP.PlaygroundAssetsDir, Title: "TokTok GraphiQL"})
		if err != nil {
			return nil, err
		}
		mux.Handle("/playground", pg)
		mux.Handle("/playground/", pg)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" && a.cfg.HTTP.Playground {
			http.Redirect(w, r, "/playground", http.StatusFound)
			return
		}
		http.NotFound(w, r)
	})

	c := cors.New(cors.Options{
		AllowOriginFunc: a.allowOrigin,
		AllowedMethods:  []string{http.MethodGet, http.MethodPost},
		AllowedHeaders:  []string{"Authorization", "Content-Type", "Accept"},
		MaxAge:          600,
	})
	return securityHeaders(a.cfg.HTTP.BodyLimit, c.Handler(mux)), nil
}

func (a *app) allowOrigin(origin string) bool {
	for _, o := range a.cfg.HTTP.CORSOrigins {
		if strings.EqualFold(strings.TrimRight(o, "/"), origin) {
			return true
		}
	}
	return a.cfg.Mode.Dev() && isLocalOrigin(origin)
}

func (a *app) jwks(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/jwk-set+json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(a.tokens.JWKS())
}

func (a *app) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if err := a.store.Ping(ctx); err != nil {
		a.log.Warn("readiness check failed", "err", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"status":"unavailable"}`))
		return
	}
	_, _ = w.Write([]byte(`{"status":"ok"}`))
}
