// Package httpapi is TokTok's HTTP surface: the routes, the GraphQL-over-HTTP transports
// and document limits, CORS, the client's IP behind trusted proxies, bearer-token
// extraction and the headers every response carries. It knows the contract's HTTP rules
// and nothing of the business rules: the GraphQL schema, the token verifier and the store's
// health check are handed to it by the composition root.
package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/rs/cors"
	"github.com/vektah/gqlparser/v2/ast"
	"go.opentelemetry.io/otel/trace"

	"github.com/toktok/toktok/mailer"
	"github.com/toktok/toktok/metrics"
	"github.com/toktok/toktok/token"
	"github.com/toktok/toktok/web"
)

// Config is the HTTP section of the configuration, in the terms the handler needs.
type Config struct {
	GraphQLGet          bool // queries (never mutations) over GET /graphql
	Introspection       bool
	Playground          bool   // GraphiQL at /playground
	PlaygroundAssetsDir string // GraphiQL's files from here instead of the copy built into the binary
	PlaygroundCDN       bool   // GraphiQL's files from unpkg.com
	AccountConsole      bool   // the account console at /account
	AdminConsole        bool   // the admin console at /admin
	AppName             string // shown on the hosted pages
	CORSOrigins         []string
	DevOrigins          bool // allow any loopback origin (development modes)
	TrustedProxies      []netip.Prefix
	BodyLimit           int64
	Limits              DocumentLimits
	// PublicURL is the service's public URL, whose host the dev inbox accepts in the Host
	// header besides localhost and IP addresses.
	PublicURL string
	// MetricsOnMain serves /metrics on this handler (--metrics-addr empty); otherwise the
	// metrics are served elsewhere or not at all.
	MetricsOnMain bool
	// DevInboxRemote serves /dev/mail to clients other than this machine's loopback and
	// through proxies (--dev-inbox-remote); off, they get 403. Only with Deps.DevInbox.
	DevInboxRemote bool
}

// DocumentLimits bound what one GraphQL document may ask for.
type DocumentLimits struct {
	Tokens, Depth, Aliases, Complexity int
}

// Deps are what the handler serves: the executable schema with its error presenter and
// panic handler, the token verifier (for bearer tokens and the JWKS), the store's
// readiness check, the clock and the log.
type Deps struct {
	Schema         graphql.ExecutableSchema
	ErrorPresenter graphql.ErrorPresenterFunc
	Recover        graphql.RecoverFunc
	Tokens         *token.Service
	Ping           func(context.Context) error
	Now            func() time.Time
	Log            *slog.Logger
	// DevInbox, when set, is the dev inbox that /dev/mail shows (default mode only: the
	// composition root sets it only there). Nil: no /dev/mail route.
	DevInbox *mailer.DevInbox
	// Metrics, when set, counts and times every route and GraphQL operation.
	Metrics *metrics.Metrics
	// Tracer, when set, makes a span of every request and GraphQL operation.
	Tracer trace.Tracer
}

// New assembles the HTTP surface of the contract.
func New(cfg Config, d Deps) (http.Handler, error) {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	mux := routes{ServeMux: http.NewServeMux(), o: observer{m: d.Metrics, tracer: d.Tracer, trusted: cfg.TrustedProxies}}
	gql := noStore(graphqlGate(cfg.GraphQLGet, clientInfo(cfg.TrustedProxies, authenticate(d.Tokens, d.Now, graphqlServer(cfg, d)))))
	mux.handle("/graphql", "graphql", gql)
	mux.handle("GET /.well-known/jwks.json", "jwks", jwks(d.Tokens))
	mux.handle("GET /healthz", "healthz", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}`))
	}))
	mux.handle("GET /readyz", "readyz", readyz(d.Ping, d.Log))
	if cfg.MetricsOnMain && d.Metrics != nil {
		mux.handle("GET /metrics", "metrics", d.Metrics.Handler())
	}
	if cfg.Playground {
		pg, err := web.Playground(web.PlaygroundOptions{
			Endpoint: "/graphql", AssetsDir: cfg.PlaygroundAssetsDir, CDN: cfg.PlaygroundCDN, Title: "TokTok GraphiQL",
			DevInboxURL: pathIf(d.DevInbox != nil, web.DevMailPath),
		})
		if err != nil {
			return nil, err
		}
		mux.handle("/playground", "playground", pg)
		mux.handle("/playground/", "playground", pg)
	}
	pages, err := web.Pages(web.PagesOptions{Endpoint: "/graphql", AppName: cfg.AppName, DefaultLang: "en"})
	if err != nil {
		return nil, err
	}
	if d.DevInbox != nil {
		inbox, err := web.DevMail(web.DevMailOptions{
			Inbox: d.DevInbox, AppName: cfg.AppName, AllowRemote: cfg.DevInboxRemote, PublicURL: cfg.PublicURL,
			PlaygroundPath: pathIf(cfg.Playground, "/playground"),
		})
		if err != nil {
			return nil, err
		}
		mux.handle(web.DevMailPath, "devmail", inbox)
		mux.handle(web.DevMailPath+"/", "devmail", inbox)
	}
	if err := consoles(mux, cfg); err != nil {
		return nil, err
	}
	mux.handle("/confirm-email", "pages", pages)
	mux.handle("/reset-password", "pages", pages)
	mux.handle("/pages/", "pages", pages)
	mux.handle("/", "other", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" && cfg.Playground {
			http.Redirect(w, r, "/playground", http.StatusFound)
			return
		}
		http.NotFound(w, r)
	}))
	c := cors.New(cors.Options{
		AllowOriginFunc: originAllowed(cfg.CORSOrigins, cfg.DevOrigins),
		AllowedMethods:  []string{http.MethodGet, http.MethodPost},
		AllowedHeaders:  []string{"Authorization", "Content-Type", "Accept"},
		ExposedHeaders:  []string{RequestIDHeader}, // a front end can show it in an error report
		MaxAge:          600,
	})
	return requestID(cfg.TrustedProxies, securityHeaders(cfg.BodyLimit, c.Handler(mux.ServeMux))), nil
}

// consoles mounts the account and admin consoles that cfg turns on.
func consoles(mux routes, cfg Config) error {
	opts := web.ConsoleOptions{Endpoint: "/graphql", AppName: cfg.AppName, DefaultLang: "en"}
	for _, c := range []struct {
		on         bool
		path, name string
		build      func(web.ConsoleOptions) (http.Handler, error)
	}{
		{cfg.AccountConsole, web.AccountConsolePath, "account", web.AccountConsole},
		{cfg.AdminConsole, web.AdminConsolePath, "admin", web.AdminConsole},
	} {
		if !c.on {
			continue
		}
		h, err := c.build(opts)
		if err != nil {
			return err
		}
		mux.handle(c.path, c.name, h)
		mux.handle(c.path+"/", c.name, h)
	}
	return nil
}

// routes is the mux with each route counted, timed and traced under a fixed name.
type routes struct {
	*http.ServeMux
	o observer
}

func (r routes) handle(pattern, name string, h http.Handler) {
	r.Handle(pattern, r.o.instrument(name, h))
}

// pathIf is path when the page it names is served (on), else "": a link to it or none.
func pathIf(on bool, path string) string {
	if on {
		return path
	}
	return ""
}

// graphqlServer is gqlgen's executor with our transports, limits and error handling.
func graphqlServer(cfg Config, d Deps) *handler.Server {
	srv := handler.New(d.Schema)
	srv.AddTransport(postTransport{})
	if cfg.GraphQLGet {
		srv.AddTransport(getTransport{})
	}
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	srv.SetDisableSuggestion(true)
	if d.Metrics != nil || d.Tracer != nil {
		srv.Use(gqlObserve{m: d.Metrics, tracer: d.Tracer})
	}
	if d.ErrorPresenter != nil {
		srv.SetErrorPresenter(d.ErrorPresenter)
	}
	if d.Recover != nil {
		srv.SetRecoverFunc(d.Recover)
	}
	if cfg.Introspection {
		srv.Use(extension.Introspection{})
	}
	srv.Use(&limits{
		tokens: cfg.Limits.Tokens, depth: cfg.Limits.Depth,
		aliases: cfg.Limits.Aliases, complexity: cfg.Limits.Complexity,
		introspection: cfg.Introspection,
	})
	return srv
}

// originAllowed reports whether a browser origin may call the API: one of the configured
// origins (compared without a trailing slash, case-insensitively), or in development
// modes any loopback origin.
func originAllowed(origins []string, dev bool) func(string) bool {
	return func(origin string) bool {
		for _, o := range origins {
			if strings.EqualFold(strings.TrimRight(o, "/"), origin) {
				return true
			}
		}
		return dev && isLocalOrigin(origin)
	}
}

func jwks(tokens *token.Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.Header().Set("Cache-Control", "public, max-age=300")
		_, _ = w.Write(tokens.JWKS())
	})
}

// readyz answers 200 while the store answers, 503 otherwise.
func readyz(ping func(context.Context) error, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		if err := ping(ctx); err != nil {
			log.Warn("readiness check failed", "err", err)
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"status":"unavailable"}`))
			return
		}
		_, _ = w.Write([]byte(`{"status":"ok"}`))
	})
}
