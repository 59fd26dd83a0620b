package mailer

import (
	"context"
	cryptorand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/toktok/toktok/store"
	"github.com/toktok/toktok/tracing"
)

// Outbox is what the Worker needs from the store. Times come from the Worker's clock.
type Outbox interface {
	// ClaimMails atomically takes up to n pending mails with NextAttemptAt <= now whose
	// lease is free or expired (LeaseUntil <= now), sets LeaseOwner=worker,
	// LeaseUntil=leaseUntil and Attempts+1, and returns them (with those values).
	ClaimMails(ctx context.Context, worker string, now, leaseUntil time.Time, n int) ([]store.Mail, error)
	// MarkMailSent records delivery (State sent, SentAt=now) and scrubs the body.
	// store.ErrConflict when the mail is no longer leased to worker.
	MarkMailSent(ctx context.Context, id, worker string, now time.Time) error
	// MarkMailRetry releases the lease and makes the mail due again at next, keeping
	// lastErr. store.ErrConflict when the mail is no longer leased to worker.
	MarkMailRetry(ctx context.Context, id, worker string, next time.Time, lastErr string) error
	// MarkMailFailed records a final failure (State failed) with lastErr.
	// store.ErrConflict when the mail is no longer leased to worker.
	MarkMailFailed(ctx context.Context, id, worker string, now time.Time, lastErr string) error
	// OutboxStats reads the outbox's depth and oldest pending mail at now, for the
	// backlog watch (see store.OutboxStats).
	OutboxStats(ctx context.Context, now time.Time) (store.OutboxStats, error)
}

// WorkerConfig tunes a Worker. Zero values take the defaults in brackets.
type WorkerConfig struct {
	// ID names this worker in leases; unique per process [host-pid-random].
	ID string
	// Sealer, when set, opens mail bodies sealed at rest before sending [nil: bodies are
	// sent as stored].
	Sealer *Sealer
	// Batch is how many mails one claim takes [10]. They are sent in parallel.
	Batch int
	// Lease is how long a claimed mail stays reserved to this worker [1m].
	Lease time.Duration
	// SendTimeout bounds one send [Lease/2]; it is kept below Lease minus a margin, so a
	// send always ends, and its outcome is recorded, before another worker may claim the
	// mail.
	SendTimeout time.Duration
	// MaxAttempts is how many sends a mail gets before it is kept as failed [8].
	MaxAttempts int
	// BaseBackoff and MaxBackoff shape the wait before retry n: a random duration in
	// [0, min(MaxBackoff, BaseBackoff*2^(n-1))] ("full jitter") [30s, 1h].
	BaseBackoff, MaxBackoff time.Duration
	// PollInterval is the wait between claims when nothing was due and no Notify came [2s].
	PollInterval time.Duration
	// BacklogAge is how long the oldest pending mail may wait before Run reports the
	// outbox as backed up, with a warning "outbox backlog" [1m].
	BacklogAge time.Duration
	// BacklogEvery is the least time between two reads of the outbox's stats by Run, and
	// so between two "outbox backlog" warnings [1m].
	BacklogEvery time.Duration
	// Now is the clock [time.Now].
	Now func() time.Time
	// Jitter returns a duration in [0, d]; tests make it deterministic [uniform random].
	Jitter func(d time.Duration) time.Duration
	// OnOutcome, when set, is told of each recorded outcome: "sent", "retried" or
	// "failed" (the metrics count them) [nil].
	OnOutcome func(outcome string)
	// OnStats, when set, receives each read of the outbox's stats by the backlog watch
	// (every BacklogEvery), with the time of the read: the metrics' outbox gauges [nil].
	OnStats func(st store.OutboxStats, now time.Time)
	// Tracer makes a span per send [OpenTelemetry's no-op tracer].
	Tracer trace.Tracer
}

func (c WorkerConfig) withDefaults() WorkerConfig {
	if c.ID == "" {
		c.ID = defaultWorkerID()
	}
	if c.Tracer == nil {
		c.Tracer = noop.NewTracerProvider().Tracer("")
	}
	if c.Batch <= 0 {
		c.Batch = 10
	}
	if c.Lease <= 0 {
		c.Lease = time.Minute
	}
	if c.SendTimeout <= 0 {
		c.SendTimeout = c.Lease / 2
	}
	if limit := c.Lease - leaseMargin(c.Lease); c.SendTimeout > limit {
		c.SendTimeout = limit
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 8
	}
	if c.BaseBackoff <= 0 {
		c.BaseBackoff = 30 * time.Second
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = time.Hour
	}
	if c.MaxBackoff < c.BaseBackoff {
		c.MaxBackoff = c.BaseBackoff
	}
	if c.PollInterval <= 0 {
		c.PollInterval = 2 * time.Second
	}
	if c.BacklogAge <= 0 {
		c.BacklogAge = time.Minute
	}
	if c.BacklogEvery <= 0 {
		c.BacklogEvery = time.Minute
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Jitter == nil {
		c.Jitter = func(d time.Duration) time.Duration {
			if d <= 0 {
				return 0
			}
			return rand.N(d + 1)
		}
	}
	return c
}

// leaseMargin is the part of a lease kept free after a send, to record its outcome.
func leaseMargin(lease time.Duration) time.Duration { return lease / 10 }

// markTimeout bounds recording an outcome, which happens even while shutting down.
const markTimeout = 5 * time.Second

func defaultWorkerID() string {
	host, _ := os.Hostname()
	if host == "" {
		host = "host"
	}
	b := make([]byte, 6)
	_, _ = cryptorand.Read(b)
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b))
}

// Worker sends the outbox: it claims due mails with a lease, sends them, and records each
// outcome, so that mails queued before a crash or restart are sent after it and several
// instances never send the same mail at the same time.
type Worker struct {
	outbox  Outbox
	sender  Sender
	cfg     WorkerConfig
	log     *slog.Logger
	wake    chan struct{}
	backlog backlogWatch // Run's alone
}

// NewWorker returns a worker; cfg's zero values take their defaults. log nil means
// slog.Default().
func NewWorker(o Outbox, s Sender, cfg WorkerConfig, log *slog.Logger) *Worker {
	if log == nil {
		log = slog.Default()
	}
	return &Worker{outbox: o, sender: s, cfg: cfg.withDefaults(), log: log, wake: make(chan struct{}, 1)}
}

// ID is the worker's lease owner name.
func (w *Worker) ID() string { return w.cfg.ID }

// Notify tells the worker a mail was queued, so Run claims at once instead of at the next
// poll. It never blocks; notifications while one is pending merge into it.
func (w *Worker) Notify() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run sends the outbox until ctx is done: claim, send, record; then, unless the claim was
// full (more may be due), wait for PollInterval or Notify. On cancellation in-flight sends
// run to their end (or their send timeout) and are recorded: a send cut before the relay's
// reply would be delivered twice. Run returns when they are recorded.
// After each round it watches the backlog (watchBacklog): a relay that refuses everything
// fails no request, so the log is where an operator learns that mails are not leaving.
// Run must not be called twice at once on one Worker.
func (w *Worker) Run(ctx context.Context) {
	w.log.InfoContext(ctx, "mail worker started", "worker", w.cfg.ID)
	defer w.log.Info("mail worker stopped", "worker", w.cfg.ID)
	for {
		res, err := w.runOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		w.watchBacklog(ctx)
		if err != nil {
			w.log.WarnContext(ctx, "mail outbox", "worker", w.cfg.ID, "err", err)
		} else if res.claimed >= w.cfg.Batch {
			continue
		}
		t := time.NewTimer(w.cfg.PollInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-w.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// RunOnce claims one batch and sends it, returning how many mails were recorded sent,
// retried and failed. err reports a failed claim or a failure to record an outcome (other
// than a lost lease, which is logged: the mail belongs to another worker now).
func (w *Worker) RunOnce(ctx context.Context) (sent, retried, failed int, err error) {
	res, err := w.runOnce(ctx)
	return res.sent, res.retried, res.failed, err
}

type batchResult struct {
	claimed, sent, retried, failed int
}

type outcome int

const (
	outcomeLost outcome = iota // lease lost or outcome not recorded
	outcomeSent
	outcomeRetried
	outcomeFailed
)

// outcomeNames are the outcomes as OnOutcome names them.
var outcomeNames = [...]string{outcomeLost: "lost", outcomeSent: "sent", outcomeRetried: "retried", outcomeFailed: "failed"}

func (w *Worker) runOnce(ctx context.Context) (batchResult, error) {
	now := w.cfg.Now()
	leaseUntil := now.Add(w.cfg.Lease)
	mails, err := w.outbox.ClaimMails(ctx, w.cfg.ID, now, leaseUntil, w.cfg.Batch)
	if err != nil {
		return batchResult{}, fmt.Errorf("claim mails: %w", err)
	}
	res := batchResult{claimed: len(mails)}
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	// In parallel, so that every send of the batch starts right after the claim and ends
	// well within the lease, whatever the batch size.
	for _, m := range mails {
		wg.Go(func() {
			o, err := w.process(ctx, m, leaseUntil)
			mu.Lock()
			defer mu.Unlock()
			switch o {
			case outcomeSent:
				res.sent++
			case outcomeRetried:
				res.retried++
			case outcomeFailed:
				res.failed++
			}
			if err != nil {
				errs = append(errs, err)
			}
		})
	}
	wg.Wait()
	return res, errors.Join(errs...)
}

// process sends one claimed mail and records the outcome.
func (w *Worker) process(ctx context.Context, m store.Mail, leaseUntil time.Time) (outcome, error) {
	log := w.log.With("worker", w.cfg.ID, "mail_id", m.ID, "kind", m.Kind, "attempt", m.Attempts)

	// A mail claimed more often than allowed had its last attempts interrupted (a crash,
	// a lost lease): stop here rather than risk a crash loop on one mail.
	if m.Attempts > w.cfg.MaxAttempts {
		msg := fmt.Sprintf("gave up after %d attempts (the last ones were interrupted)", m.Attempts-1)
		log.ErrorContext(ctx, "mail failed", "reason", msg)
		return w.record(ctx, log, outcomeFailed, m.ID, w.cfg.Now(), msg)
	}

	if w.cfg.Sealer != nil {
		opened, err := w.cfg.Sealer.Open(m)
		if err != nil {
			log.ErrorContext(ctx, "mail failed: its body does not open (was the secret changed?)")
			return w.record(ctx, log, outcomeFailed, m.ID, w.cfg.Now(), "body does not open under the outbox key")
		}
		m = opened
	}
	var sendErr error
	timeout := min(w.cfg.SendTimeout, leaseUntil.Sub(w.cfg.Now())-leaseMargin(w.cfg.Lease))
	if timeout <= 0 {
		sendErr = errors.New("lease too short to send")
	} else {
		// A send once started is not cut by shutdown, only by its timeout: the relay may
		// already hold the message, and a send cut before its reply would be recorded as
		// a retry and delivered again after the restart (found by the SIGTERM drill).
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
		sctx, span := w.cfg.Tracer.Start(sctx, "mail.send", trace.WithSpanKind(trace.SpanKindClient),
			trace.WithAttributes(attribute.String("toktok.mail.kind", m.Kind), attribute.Int("toktok.mail.attempt", m.Attempts)))
		sendErr = w.sender.Send(sctx, EnvelopeFromMail(m))
		tracing.End(span, sendErr)
		cancel()
	}
	now := w.cfg.Now()

	switch {
	case sendErr == nil:
		if delivers(w.sender) {
			log.InfoContext(ctx, "mail sent")
		} else {
			// The sender's own record says the mail was not delivered (the log sender,
			// the dev inbox): "mail sent" would contradict it.
			log.DebugContext(ctx, "mail done: its sender does not deliver (recorded as sent)")
		}
		return w.record(ctx, log, outcomeSent, m.ID, now, "")
	case ctx.Err() != nil && !IsPermanent(sendErr):
		// Shutting down, and the send outlived its timeout (a send is never cut by
		// shutdown itself): not the mail's fault, let any instance take it again at once.
		log.InfoContext(ctx, "mail send interrupted by shutdown", "err", errorSummary(sendErr))
		return w.record(ctx, log, outcomeRetried, m.ID, now, "interrupted: "+errorSummary(sendErr))
	case IsPermanent(sendErr):
		log.ErrorContext(ctx, "mail failed permanently", "err", errorSummary(sendErr))
		return w.record(ctx, log, outcomeFailed, m.ID, now, errorSummary(sendErr))
	case m.Attempts >= w.cfg.MaxAttempts:
		log.ErrorContext(ctx, "mail failed: no attempts left", "max_attempts", w.cfg.MaxAttempts, "err", errorSummary(sendErr))
		return w.record(ctx, log, outcomeFailed, m.ID, now, errorSummary(sendErr))
	default:
		next := now.Add(w.backoff(m.Attempts))
		log.WarnContext(ctx, "mail send failed, will retry", "next_attempt", next, "err", errorSummary(sendErr))
		return w.record(ctx, log, outcomeRetried, m.ID, next, errorSummary(sendErr))
	}
}

// record stores an outcome. at is the time sent/failed, or the next attempt for a retry.
// It runs even when ctx is cancelled (shutdown), within markTimeout, so that an outcome
// is not lost to the lease expiring.
func (w *Worker) record(ctx context.Context, log *slog.Logger, o outcome, id string, at time.Time, lastErr string) (outcome, error) {
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), markTimeout)
	defer cancel()
	var err error
	switch o {
	case outcomeSent:
		err = w.outbox.MarkMailSent(mctx, id, w.cfg.ID, at)
	case outcomeRetried:
		err = w.outbox.MarkMailRetry(mctx, id, w.cfg.ID, at, lastErr)
	case outcomeFailed:
		err = w.outbox.MarkMailFailed(mctx, id, w.cfg.ID, at, lastErr)
	}
	switch {
	case err == nil:
		if w.cfg.OnOutcome != nil {
			w.cfg.OnOutcome(outcomeNames[o])
		}
		return o, nil
	case errors.Is(err, store.ErrConflict):
		// Another worker holds the mail now (our lease expired): its outcome is theirs.
		log.WarnContext(ctx, "mail lease lost before recording the outcome", "err", err)
		return outcomeLost, nil
	default:
		return outcomeLost, fmt.Errorf("record outcome of mail %s: %w", id, err)
	}
}

// backoff is the wait after the attempts-th failed attempt: full jitter over an
// exponential bound capped at MaxBackoff.
func (w *Worker) backoff(attempts int) time.Duration {
	return w.cfg.Jitter(backoffBound(attempts, w.cfg.BaseBackoff, w.cfg.MaxBackoff))
}

// backoffBound is min(max, base*2^(attempts-1)), without overflow.
func backoffBound(attempts int, base, max time.Duration) time.Duration {
	if attempts < 1 {
		attempts = 1
	}
	d := base
	for i := 1; i < attempts; i++ {
		if d >= max/2 {
			return max
		}
		d *= 2
	}
	return min(d, max)
}
