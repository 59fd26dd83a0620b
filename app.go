package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
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
	"github.com/toktok/toktok/mailer"
	"github.com/toktok/toktok/password"
	"github.com/toktok/toktok/resolvers"
	"github.com/toktok/toktok/secretfile"
	"github.com/toktok/toktok/store"
	"github.com/toktok/toktok/store/mongodb"
	"github.com/toktok/toktok/store/sqlite"
	"github.com/toktok/toktok/token"
	"github.com/toktok/toktok/web"
)

// app is one running TokTok: its services, its background workers (outbox, purge) and
// the HTTP handler that exposes them.
type app struct {
	cfg     config.Config
	log     *slog.Logger
	now     func() time.Time
	store   store.Store
	tokens  *token.Service
	account *account.Service
	worker  *mailer.Worker
	sealer  *mailer.Sealer
	handler http.Handler

	stop func()         // ends the background workers
	done sync.WaitGroup // the background workers
}

// appOptions are the parts tests replace: the clock, the logger, the store (nil opens the
// configured one), the mail sender (nil builds the configured one) and the outbox worker's
// id. NoWorker leaves the outbox unsent (tests that drive workers themselves).
type appOptions struct {
	Now      func() time.Time
	Log      *slog.Logger
	Store    store.Store
	Sender   mailer.Sender
	WorkerID string
	NoWorker bool
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
		var st store.Store
		var err error
		if cfg.Store.MongoDB() {
			st, err = mongodb.Open(ctx, cfg.Store.URI, mongodb.Options{Database: cfg.Store.Database, Log: a.log})
		} else {
			st, err = sqlite.Open(ctx, cfg.Store.SQLitePath())
		}
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
	refresh, secret, err := a.refreshCodec()
	if err != nil {
		return nil, err
	}
	sealer, err := mailer.NewSealer(secret)
	if err != nil {
		return nil, err
	}
	a.sealer = sealer
	var box *credentials.Box
	if cfg.Credentials.Encrypt {
		if box, err = a.credentialsBox(); err != nil {
			return nil, err
		}
	}
	renderer, err := mailer.NewRenderer(cfg.Mail.TemplatesDir)
	if err != nil {
		return nil, err
	}
	sender := opts.Sender
	if sender == nil {
		if sender, err = a.mailSender(); err != nil {
			return nil, err
		}
	}
	a.worker = mailer.NewWorker(a.store, sender, mailer.WorkerConfig{
		ID: opts.WorkerID, Sealer: sealer, MaxAttempts: cfg.Mail.MaxAttempts, BaseBackoff: cfg.Mail.BaseBackoff,
		MaxBackoff: cfg.Mail.MaxBackoff, PollInterval: cfg.Mail.PollInterval, Now: a.now,
	}, a.log)
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
		HashWait:           cfg.Password.Wait,
		Links:              a.linksConfig(),
		Limits: account.Limits{
			LoginFailures: rate(cfg.Limits.LoginFailures), LoginMaxCooldown: cfg.Limits.LoginMaxCooldown,
			IPLogin: rate(cfg.Limits.IPLogin), IPRegister: rate(cfg.Limits.IPRegister),
			IPAnonymousToken: rate(cfg.Limits.IPAnonymousToken), IPForgotPassword: rate(cfg.Limits.IPForgotPassword),
			IPEmailLinks: rate(cfg.Limits.IPEmailLinks),
			ResetMails:   rate(cfg.Limits.ResetMails), ConfirmResends: rate(cfg.Limits.ConfirmResends),
		},
	}, account.Deps{
		Store: a.store, Hasher: hasher, Tokens: a.tokens, RefreshCodec: refresh, Box: box,
		Mailer: renderer, Sealer: sealer, Notify: a.worker.Notify, Now: a.now, Log: a.log,
	})
	if a.handler, err = a.routes(); err != nil {
		return nil, err
	}
	bg, stop := context.WithCancel(context.WithoutCancel(ctx))
	a.stop = stop
	if !opts.NoWorker {
		a.done.Go(func() { a.worker.Run(bg) })
	}
	a.done.Go(func() { a.purge(bg) })
	ok = true
	return a, nil
}

// Close stops the background workers, waits for work a request left running, and closes
// the store.
func (a *app) Close() error {
	a.stop()
	a.done.Wait()
	a.account.Wait()
	return a.store.Close()
}

// purge removes expired sessions, links, counters and old mails every ten minutes, and audit
// events past --audit-retention. Expiry never depends on it (every query filters on expiry
// times); it only keeps the store small.
func (a *app) purge(ctx context.Context) {
	t := time.NewTicker(10 * time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			now := a.now().UTC()
			n, err := a.store.PurgeExpired(ctx, now)
			if err != nil {
				a.log.Warn("purge failed", "err", err)
			} else if n > 0 {
				a.log.Info("purged expired records", "rows", n)
			}
			if r := a.cfg.Store.AuditRetention; r > 0 {
				if n, err := a.store.PurgeAudit(ctx, now.Add(-r)); err != nil {
					a.log.Warn("audit purge failed", "err", err)
				} else if n > 0 {
					a.log.Info("purged old audit events", "rows", n, "retention", r)
				}
			}
		}
	}
}

func rate(r config.Rate) account.Rate { return account.Rate{N: r.N, Window: r.Window} }

// publicURL is the base of links and pages: --public-url, else this listener's address.
func (a *app) publicURL() string {
	if a.cfg.HTTP.PublicURL != "" {
		return strings.TrimRight(a.cfg.HTTP.PublicURL, "/")
	}
	host := a.cfg.HTTP.Host
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, strconv.Itoa(a.cfg.HTTP.Port))
}

func (a *app) linksConfig() account.LinksConfig {
	l := account.LinksConfig{
		AppName: a.cfg.Mail.AppName, ConfirmURL: a.cfg.Links.ConfirmURL, ResetURL: a.cfg.Links.ResetURL,
		TokenInQuery: a.cfg.Links.TokenIn == "query",
		ConfirmTTL:   a.cfg.Links.ConfirmTTL, ResetTTL: a.cfg.Links.ResetTTL, EmailChangeTTL: a.cfg.Links.EmailChangeTTL,
	}
	if l.ConfirmURL == "" {
		l.ConfirmURL = a.publicURL() + "/confirm-email"
	}
	if l.ResetURL == "" {
		l.ResetURL = a.publicURL() + "/reset-password"
	}
	return l
}

// mailSender is the log sender in default mode (mails, links included, go to the log) and
// SMTP otherwise.
func (a *app) mailSender() (mailer.Sender, error) {
	m := a.cfg.Mail
	if !m.UseSMTP(a.cfg.Mode) {
		return mailer.LogSender{Log: a.log}, nil
	}
	pw := m.SMTPPassword
	if m.SMTPPasswordFile != "" {
		b, err := os.ReadFile(m.SMTPPasswordFile)
		if err != nil {
			return nil, fmt.Errorf("smtp password: %w", err)
		}
		pw = strings.TrimRight(string(b), "\r\n")
	}
	from := m.From
	if from == "" {
		from = m.AppName + " <no-reply@localhost>" // development modes only: Validate requires it elsewhere
	}
	return mailer.NewSMTPSender(mailer.SMTPConfig{
		Host: m.SMTPHost, Port: m.SMTPPort, Username: m.SMTPUsername, Password: pw,
		TLS: m.SMTPTLS, From: from, Timeout: m.SMTPTimeout,
	})
}

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

// refreshCodec returns the refresh-token codec and its secret (which also keys the outbox
// sealing: both must be the same on every instance).
func (a *app) refreshCodec() (*token.RefreshCodec, []byte, error) {
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
		return nil, nil, fmt.Errorf("refresh secret: %w", err)
	}
	c, err := token.NewRefreshCodec(secret)
	return c, secret, err
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
	pages, err := web.Pages(web.PagesOptions{Endpoint: "/graphql", AppName: a.cfg.Mail.AppName, DefaultLang: "en"})
	if err != nil {
		return nil, err
	}
	mux.Handle("/confirm-email", pages)
	mux.Handle("/reset-password", pages)
	mux.Handle("/pages/", pages)
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
