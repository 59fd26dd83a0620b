// Package app is TokTok's composition root: from a validated config.Config it opens the
// store, loads or generates keys, builds the services, the mail worker, the purge loop and
// the HTTP handler, and runs and stops them together. The command (server.go), the
// end-to-end suite and the benchmarks all build TokTok through it, so what they test is
// what runs.
package app

import (
	"context"

	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/toktok/toktok/account"
	"github.com/toktok/toktok/config"
	"github.com/toktok/toktok/graph"
	"github.com/toktok/toktok/httpapi"
	"github.com/toktok/toktok/internal/reqid"
	"github.com/toktok/toktok/mailer"
	"github.com/toktok/toktok/metrics"
	"github.com/toktok/toktok/mfa"
	"github.com/toktok/toktok/passkey"
	"github.com/toktok/toktok/password"
	"github.com/toktok/toktok/resolvers"
	"github.com/toktok/toktok/store"
	"github.com/toktok/toktok/store/mongodb"
	"github.com/toktok/toktok/store/observed"
	"github.com/toktok/toktok/store/sqlite"
	"github.com/toktok/toktok/token"
	"github.com/toktok/toktok/tracing"
)

// App is one running TokTok: its services, its background workers (outbox, purge) and the
// HTTP handler that exposes them.
type App struct {
	w       wiring
	log     *slog.Logger
	now     func() time.Time
	store   store.Store
	tokens  *token.Service
	refresh *token.RefreshCodec
	hasher  *password.Hasher
	account *account.Service
	worker  *mailer.Worker
	sealer  *mailer.Sealer
	handler http.Handler
	metrics *metrics.Metrics // nil when no one reads them
	tracing *tracing.Tracing

	stop func()         // ends the background workers
	done sync.WaitGroup // the background workers
}

// Options are the parts a caller may supply instead of what the configuration builds.
// Every field is optional.
type Options struct {
	Now      func() time.Time // the clock (default time.Now)
	Log      *slog.Logger     // default: discard
	Store    store.Store      // default: open the configured store; the App closes it either way
	Sender   mailer.Sender    // default: SMTP or the log (and the dev inbox), as configured; set, no dev inbox
	WorkerID string           // the outbox worker's lease name (default: host-pid-random)
	NoWorker bool             // leave the outbox unsent (a test drives workers itself)
	// SpanExporter, when set, receives the trace spans (synchronously) as if
	// --otlp-endpoint were set: tests read them from an in-memory exporter.
	SpanExporter sdktrace.SpanExporter
}

// New builds everything from cfg, which config.Load has validated: store, keys, services,
// handler; and starts the outbox worker and the purge loop. The caller owns Close.
func New(ctx context.Context, cfg config.Config, opts Options) (*App, error) {
	a := &App{w: wire(cfg), log: opts.Log, now: opts.Now, store: opts.Store}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	} else {
		a.log = slog.New(reqid.LogHandler(a.log.Handler())) // request ids on request logs
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.store == nil {
		st, err := openStore(ctx, a.w.Store, a.w.Keys.DataDir, a.log)
		if err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
		a.store = st
	}
	if err := a.observe(ctx, opts); err != nil {
		a.store.Close()
		return nil, err
	}
	// The SMTP sender, when the App builds it, is checked at start (mailcheck.go).
	checkSMTP, err := a.smtpSender(ctx, &opts)
	if err == nil {
		err = a.build(opts)
	}
	if err != nil {
		a.store.Close()
		return nil, err
	}
	bg, stop := context.WithCancel(context.WithoutCancel(ctx))
	a.stop = stop
	if !opts.NoWorker {
		a.done.Go(func() { a.worker.Run(bg) })
	}
	a.done.Go(func() { a.purge(bg) })
	if checkSMTP != nil {
		a.done.Go(func() { checkSMTP(bg) })
	}
	return a, nil
}

// openStore opens the configured store. The data directory is TokTok's own, so it is
// created (0700, with its parents) when the SQLite file lives in it, as it does with no
// --store: `go run .` on a fresh checkout makes ./data. A file elsewhere (--store=sqlite:PATH)
// must be in a directory that exists; sqlite.Open creates none.
func openStore(ctx context.Context, w storeWiring, dataDir string, log *slog.Logger) (store.Store, error) {
	if w.MongoURI != "" {
		return mongodb.Open(ctx, w.MongoURI, mongodb.Options{Database: w.Database, Log: log})
	}
	if dataDir != "" && filepath.Dir(w.SQLitePath) == filepath.Clean(dataDir) {
		if err := os.MkdirAll(dataDir, 0o700); err != nil {
			return nil, fmt.Errorf("data directory: %w", err)
		}
	}
	return sqlite.Open(ctx, w.SQLitePath)
}

// build makes the services and the handler on a.store.
func (a *App) build(opts Options) error {
	k, err := loadKeys(a.w.Keys, a.log)
	if err != nil {
		return err
	}
	if a.tokens, err = token.New(a.w.Token, k.signing, k.previous...); err != nil {
		return err
	}
	a.refresh = k.refresh
	if a.sealer, err = mailer.NewSealer(k.refreshSecret); err != nil {
		return err
	}
	renderer, err := mailer.NewRenderer(a.w.Mail.TemplatesDir)
	if err != nil {
		return err
	}
	// The dev inbox puts live links in a browser page: only where the log prints them
	// anyway (config.Load refuses it elsewhere; this guards other callers of New).
	if a.w.Mail.DevInbox && a.w.Mail.SMTP != nil {
		return errors.New("dev inbox: it shows the mails of the log sender, but mails go out over SMTP here")
	}
	sender := opts.Sender
	var inbox *mailer.DevInbox
	if sender == nil && a.w.Mail.DevInbox {
		inbox = mailer.NewDevInbox(mailer.DevInboxConfig{URL: a.w.Mail.DevInboxURL, Log: a.log, Now: a.now})
		sender = inbox
	}
	if sender == nil {
		if sender, err = newSender(a.w.Mail, a.log); err != nil {
			return err
		}
	}
	var obs account.Observer
	if a.metrics != nil {
		obs = a.metrics
	}
	tracer := a.tracing.Tracer
	wc := a.w.Worker
	wc.ID, wc.Sealer, wc.Now, wc.Tracer = opts.WorkerID, a.sealer, a.now, tracer
	if a.metrics != nil {
		wc.OnOutcome, wc.OnStats = a.metrics.MailOutcome, a.metrics.OutboxStats
	}
	a.worker = mailer.NewWorker(a.store, sender, wc, a.log)
	a.hasher = password.New(a.w.Hash.Params, a.w.Hash.Concurrency)
	a.hasher.SetFloor(a.w.Hash.Floor)
	if a.metrics != nil {
		a.hasher.SetSlotObserver(a.metrics.Hashing(a.hasher.Slots(), a.hasher.Busy))
		a.metrics.LiveSessions(liveSessionsReader(a.store, a.now), a.now)
	}
	queue, err := mailer.NewQueue(a.store, renderer, a.sealer, a.worker.Notify, a.now, a.log)
	if err != nil {
		return err
	}
	mfaKeys, passkeys, err := a.secondFactors(k.mfaSecret)
	if err != nil {
		return err
	}
	a.account = account.New(a.w.Account, account.Deps{
		Store: a.store, Hasher: a.hasher, Tokens: a.tokens, RefreshCodec: k.refresh, Box: k.box,
		Mail: queue, Now: a.now, Log: a.log, Observer: obs, Tracer: tracer,
		MFAKeys: mfaKeys, Passkeys: passkeys,
	})
	res := &resolvers.Resolver{Account: a.account, Log: a.log}
	a.handler, err = httpapi.New(a.w.HTTP, httpapi.Deps{
		Schema:         graph.NewExecutableSchema(res.Config()),
		ErrorPresenter: resolvers.ErrorPresenter(a.log),
		Recover:        resolvers.RecoverFunc(a.log),
		Tokens:         a.tokens, Ping: a.store.Ping, Now: a.now, Log: a.log,
		DevInbox: inbox, Metrics: a.metrics, Tracer: a.tracing.ServerTracer(),
	})
	return err
}

// secondFactors makes the MFA keys, from secret (--mfa-secret-file, else the refresh
// secret: every instance has it), and the WebAuthn relying party. A relying party derived from a public URL whose host is an IP address
// cannot be one: passkeys are then off (nil) and TOTP still works.
func (a *App) secondFactors(secret []byte) (*mfa.Keys, *passkey.Service, error) {
	mfaKeys, err := mfa.NewKeys(secret)
	if err != nil {
		return nil, nil, err
	}
	passkeys, err := passkey.New(a.w.Passkeys)
	if err != nil {
		if !a.w.PasskeysDerived {
			return nil, nil, fmt.Errorf("webauthn: %w", err)
		}
		a.log.Warn("passkeys are off: the host of the public URL cannot be a WebAuthn relying-party id; set --public-url or --webauthn-rp-id to a domain", "rp_id", a.w.Passkeys.RPID)
		return mfaKeys, nil, nil
	}
	return mfaKeys, passkeys, nil
}

// observe sets up what watches the app: the metrics (when served somewhere) and the
// tracer (when traces go somewhere), and wraps the store so that both see its calls.
func (a *App) observe(ctx context.Context, opts Options) error {
	var err error
	build := metrics.ReadBuild()
	a.tracing, err = tracing.New(ctx, tracing.Config{
		Endpoint: a.w.Log.OTLPEndpoint, SampleRatio: a.w.Log.TraceSampleRatio,
		Version: build.Version, Exporter: opts.SpanExporter,
	})
	if err != nil {
		return fmt.Errorf("tracing: %w", err)
	}
	if a.w.Server.Metrics {
		a.metrics = metrics.New(build)
	}
	if a.metrics != nil || a.tracing.On() {
		a.store = observed.Wrap(a.store, storeObserver{m: a.metrics, tracer: a.tracing.Tracer})
	}
	return nil
}

// Handler is the HTTP surface: GraphQL, JWKS, health, hosted pages and the IDE.
func (a *App) Handler() http.Handler { return a.handler }

// Close stops the background workers, waits for work a request left running, and closes
// the store.
func (a *App) Close() error {
	a.stop()
	a.done.Wait()
	a.account.Wait()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.tracing.Shutdown(sctx); err != nil {
		a.log.Warn("traces not flushed", "err", err)
	}
	return a.store.Close()
}

// Serve answers HTTP on ln with the configured timeouts until ctx ends, then shuts down
// gracefully, giving requests in flight the configured shutdown timeout.
func (a *App) Serve(ctx context.Context, ln net.Listener) error {
	s := a.w.Server
	srv := &http.Server{
		Handler:           a.handler,
		ReadTimeout:       s.ReadTimeout,
		ReadHeaderTimeout: s.ReadTimeout,
		WriteTimeout:      s.WriteTimeout,
		IdleTimeout:       s.IdleTimeout,
		MaxHeaderBytes:    s.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
	stopDebug, err := a.serveDebug(s.DebugAddr)
	if err != nil {
		return fmt.Errorf("--debug-addr: %w", err)
	}
	defer stopDebug()
	stopMetrics, err := a.serveMetrics(s.MetricsAddr)
	if err != nil {
		return fmt.Errorf("--metrics-addr: %w", err)
	}
	defer stopMetrics()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	a.log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Addr is the configured listening address (host:port).
func (a *App) Addr() string { return a.w.Server.Addr }

// NewLogger returns the logger the configuration asks for, writing to w.
func NewLogger(c config.Log, w io.Writer) *slog.Logger {
	l := wireLog(c)
	opts := &slog.HandlerOptions{Level: l.Level}
	if l.JSON {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// purge removes expired sessions, links, counters and old mails at each purge interval,
// finishes account deletions a crash interrupted, and removes audit events past the audit
// retention. Expiry never depends on it (every query filters on expiry times); it only
// keeps the store small.
func (a *App) purge(ctx context.Context) {
	t := time.NewTicker(a.w.Store.PurgeInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			a.purgeOnce(ctx)
		}
	}
}

func (a *App) purgeOnce(ctx context.Context) {
	now := a.now().UTC()
	start := time.Now()
	n, err := a.store.PurgeExpired(ctx, now)
	if err != nil {
		a.log.Warn("purge failed", "err", err)
	} else if n > 0 {
		a.log.Info("purged expired records", "rows", n, "took", time.Since(start).Round(time.Millisecond))
	}
	// Unconfirmed accounts past --unconfirmed-ttl: their deletion begins here, and the
	// FinishDeletions below removes the rest in the same pass.
	if ttl := a.w.Store.UnconfirmedTTL; ttl > 0 {
		a.purgeUnconfirmed(ctx, now, ttl)
	}
	// Account deletions a crash interrupted after their first step (the account is
	// already gone; its sessions, links and queued mails are removed here).
	if n, err := a.store.FinishDeletions(ctx, now); err != nil {
		a.log.Warn("finishing account deletions failed", "err", err)
	} else if n > 0 {
		a.log.Info("finished interrupted account deletions", "rows", n)
	}
	if r := a.w.Store.AuditRetention; r > 0 {
		if n, err := a.store.PurgeAudit(ctx, now.Add(-r)); err != nil {
			a.log.Warn("audit purge failed", "err", err)
		} else if n > 0 {
			a.log.Info("purged old audit events", "rows", n, "retention", r)
		}
	}
}

// unconfirmedBatch bounds the unconfirmed accounts one purge pass deletes, so that a pass
// never holds SQLite's write lock long; a backlog goes over the following passes.
const unconfirmedBatch = 500

// purgeUnconfirmed begins the deletion of up to unconfirmedBatch accounts whose address
// is still unconfirmed ttl after their creation, with an audit event each. No mail: the
// address was never proven to be the account owner's.
func (a *App) purgeUnconfirmed(ctx context.Context, now time.Time, ttl time.Duration) {
	ds, err := a.store.BeginUnconfirmedDeletions(ctx, now.Add(-ttl), now, unconfirmedBatch)
	// A backend that fails midway returns the deletions it began: they are audited too.
	for _, d := range ds {
		ev := store.AuditEvent{ID: rand.Text(), At: now, Type: "unconfirmed_deleted", Outcome: "success", UserID: d.UserID}
		if err := a.store.AppendAudit(context.WithoutCancel(ctx), ev); err != nil {
			a.log.Error("audit event not recorded", "type", ev.Type, "err", err)
		}
	}
	if err != nil {
		a.log.Warn("deleting unconfirmed accounts failed", "err", err, "accounts", len(ds))
	} else if len(ds) > 0 {
		a.log.Info("deleted unconfirmed accounts", "accounts", len(ds), "ttl", ttl)
	}
}
