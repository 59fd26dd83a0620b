package mailer

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/toktok/toktok/internal/testkit/testclock"
	"github.com/toktok/toktok/store"
)

// fakeOutbox is an in-memory Outbox with the contract's semantics, for unit-testing the
// Worker (the real stores are tested by the store conformance suite).
type fakeOutbox struct {
	mu       sync.Mutex
	mails    map[string]*store.Mail
	order    []string
	claimErr error
	markErr  error // returned by every Mark* when set
	onClaim  func(mails []store.Mail)
	statsErr error // returned by OutboxStats when set
	reads    int   // calls of OutboxStats
}

func newFakeOutbox(mails ...store.Mail) *fakeOutbox {
	o := &fakeOutbox{mails: make(map[string]*store.Mail)}
	for _, m := range mails {
		o.add(m)
	}
	return o
}

func (o *fakeOutbox) add(m store.Mail) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if m.State == "" {
		m.State = store.MailPending
	}
	o.mails[m.ID] = &m
	o.order = append(o.order, m.ID)
}

func (o *fakeOutbox) get(id string) store.Mail {
	o.mu.Lock()
	defer o.mu.Unlock()
	return *o.mails[id]
}

// steal gives the mail's lease to another worker, as if ours had expired.
func (o *fakeOutbox) steal(id string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.mails[id].LeaseOwner = "thief"
}

func (o *fakeOutbox) ClaimMails(_ context.Context, worker string, now, leaseUntil time.Time, n int) ([]store.Mail, error) {
	o.mu.Lock()
	if o.claimErr != nil {
		o.mu.Unlock()
		return nil, o.claimErr
	}
	var out []store.Mail
	for _, id := range o.order {
		m := o.mails[id]
		if len(out) == n {
			break
		}
		if m.State != store.MailPending || m.NextAttemptAt.After(now) || (m.LeaseOwner != "" && m.LeaseUntil.After(now)) {
			continue
		}
		m.LeaseOwner, m.LeaseUntil = worker, leaseUntil
		m.Attempts++
		out = append(out, *m)
	}
	hook := o.onClaim
	o.mu.Unlock()
	if hook != nil {
		hook(out)
	}
	return out, nil
}

func (o *fakeOutbox) mark(id, worker string, f func(m *store.Mail)) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.markErr != nil {
		return o.markErr
	}
	m, ok := o.mails[id]
	if !ok {
		return store.ErrNotFound
	}
	if m.LeaseOwner != worker || m.State != store.MailPending {
		return store.ErrConflict
	}
	f(m)
	m.LeaseOwner, m.LeaseUntil = "", time.Time{}
	return nil
}

func (o *fakeOutbox) MarkMailSent(_ context.Context, id, worker string, now time.Time) error {
	return o.mark(id, worker, func(m *store.Mail) {
		m.State, m.SentAt = store.MailSent, &now
		m.Text, m.HTML = "", ""
	})
}

func (o *fakeOutbox) MarkMailRetry(_ context.Context, id, worker string, next time.Time, lastErr string) error {
	return o.mark(id, worker, func(m *store.Mail) { m.NextAttemptAt, m.LastError = next, lastErr })
}

func (o *fakeOutbox) MarkMailFailed(_ context.Context, id, worker string, _ time.Time, lastErr string) error {
	return o.mark(id, worker, func(m *store.Mail) { m.State, m.LastError = store.MailFailed, lastErr })
}

func (o *fakeOutbox) OutboxStats(_ context.Context, now time.Time) (store.OutboxStats, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.reads++
	if o.statsErr != nil {
		return store.OutboxStats{}, o.statsErr
	}
	var st store.OutboxStats
	for _, m := range o.mails {
		switch m.State {
		case store.MailFailed:
			st.Failed++
		case store.MailPending:
			st.Pending++
			if !m.NextAttemptAt.After(now) {
				st.Due++
			}
			if st.OldestCreatedAt.IsZero() || m.CreatedAt.Before(st.OldestCreatedAt) {
				st.OldestCreatedAt = m.CreatedAt
			}
		}
	}
	return st, nil
}

// statsReads is how many times OutboxStats was called.
func (o *fakeOutbox) statsReads() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.reads
}

var _ Outbox = (*fakeOutbox)(nil)

// fakeSender records sends and answers with fn (nil: success).
type fakeSender struct {
	mu    sync.Mutex
	calls []Envelope
	fn    func(ctx context.Context, m Envelope) error
}

func (s *fakeSender) Send(ctx context.Context, m Envelope) error {
	s.mu.Lock()
	s.calls = append(s.calls, m)
	fn := s.fn
	s.mu.Unlock()
	if fn == nil {
		return nil
	}
	return fn(ctx, m)
}

func (s *fakeSender) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.calls)
}

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func testMail(id string) store.Mail {
	return store.Mail{ID: id, Kind: KindConfirm, To: "ann@example.com", Subject: "Confirm", Text: "link", HTML: "<p>link</p>",
		CreatedAt: t0, NextAttemptAt: t0}
}

// dueMail is a mail due at time.Now(): in a synctest bubble, whose clock starts in 2000.
func dueMail(id string) store.Mail {
	m := testMail(id)
	m.CreatedAt, m.NextAttemptAt = time.Now(), time.Now()
	return m
}

func testLog() (*slog.Logger, *bytes.Buffer) {
	var buf bytes.Buffer
	return slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})), &buf
}

func testWorker(o Outbox, s Sender, c *testclock.Clock, cfg WorkerConfig) (*Worker, *bytes.Buffer) {
	log, buf := testLog()
	cfg.ID = "w1"
	if c != nil {
		cfg.Now = c.Now
	}
	if cfg.Jitter == nil {
		cfg.Jitter = func(d time.Duration) time.Duration { return d } // the upper bound
	}
	return NewWorker(o, s, cfg, log), buf
}

func TestWorkerSends(t *testing.T) {
	o := newFakeOutbox(testMail("m1"), testMail("m2"))
	s := &fakeSender{}
	c := testclock.New(t0)
	w, buf := testWorker(o, s, c, WorkerConfig{})

	sent, retried, failed, err := w.RunOnce(t.Context())
	if err != nil || sent != 2 || retried != 0 || failed != 0 {
		t.Fatalf("RunOnce = %d, %d, %d, %v", sent, retried, failed, err)
	}
	for _, id := range []string{"m1", "m2"} {
		m := o.get(id)
		if m.State != store.MailSent || m.SentAt == nil || !m.SentAt.Equal(t0) || m.Text != "" || m.Attempts != 1 {
			t.Errorf("%s: %+v", id, m)
		}
	}
	ids := []string{s.calls[0].ID, s.calls[1].ID}
	slices.Sort(ids)
	if !slices.Equal(ids, []string{"m1", "m2"}) || s.calls[0].To != "ann@example.com" || s.calls[0].Text != "link" {
		t.Errorf("sent %+v", s.calls)
	}
	// Nothing left: the next run claims nothing.
	if sent, _, _, err := w.RunOnce(t.Context()); sent != 0 || err != nil {
		t.Errorf("second run sent %d, %v", sent, err)
	}
	// Logs name the mail and its kind, never its body.
	if out := buf.String(); !strings.Contains(out, "mail_id=m1") || !strings.Contains(out, "kind=confirm") || strings.Contains(out, "<p>link") {
		t.Errorf("log:\n%s", out)
	}
}

func TestWorkerRetriesWithGrowingCappedBackoff(t *testing.T) {
	o := newFakeOutbox(testMail("m1"))
	s := &fakeSender{fn: func(context.Context, Envelope) error { return errors.New("connection refused") }}
	c := testclock.New(t0)
	w, _ := testWorker(o, s, c, WorkerConfig{BaseBackoff: 30 * time.Second, MaxBackoff: 2 * time.Minute, MaxAttempts: 10})

	var waits []time.Duration
	for range 5 {
		now := c.Now()
		sent, retried, failed, err := w.RunOnce(t.Context())
		if err != nil || sent != 0 || retried != 1 || failed != 0 {
			t.Fatalf("RunOnce = %d, %d, %d, %v", sent, retried, failed, err)
		}
		m := o.get("m1")
		if m.State != store.MailPending || m.LeaseOwner != "" || m.LastError != "connection refused" {
			t.Fatalf("after retry: %+v", m)
		}
		waits = append(waits, m.NextAttemptAt.Sub(now))
		// Not due before NextAttemptAt.
		c.Set(m.NextAttemptAt.Add(-time.Millisecond))
		if _, r, _, err := w.RunOnce(t.Context()); err != nil || r != 0 {
			t.Fatalf("RunOnce before NextAttemptAt: retried %d, %v; want 0, nil", r, err)
		}
		c.Set(m.NextAttemptAt)
	}
	want := []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 2 * time.Minute, 2 * time.Minute}
	if !slices.Equal(waits, want) {
		t.Errorf("waits %v, want %v", waits, want)
	}
	if s.count() != 5 {
		t.Errorf("%d sends, want 5", s.count())
	}
}

func TestBackoffJitterBounds(t *testing.T) {
	w := NewWorker(newFakeOutbox(), &fakeSender{}, WorkerConfig{BaseBackoff: time.Second, MaxBackoff: time.Minute}, nil)
	for attempts := 1; attempts <= 12; attempts++ {
		bound := backoffBound(attempts, time.Second, time.Minute)
		for range 50 {
			if d := w.backoff(attempts); d < 0 || d > bound {
				t.Fatalf("backoff(%d) = %v outside [0, %v]", attempts, d, bound)
			}
		}
	}
	for _, tc := range []struct {
		attempts int
		want     time.Duration
	}{{0, time.Second}, {1, time.Second}, {2, 2 * time.Second}, {6, 32 * time.Second}, {7, time.Minute}, {1000, time.Minute}} {
		if got := backoffBound(tc.attempts, time.Second, time.Minute); got != tc.want {
			t.Errorf("backoffBound(%d) = %v, want %v", tc.attempts, got, tc.want)
		}
	}
	if got := backoffBound(200, time.Hour, 1<<62); got != 1<<62 {
		t.Errorf("overflow: %v", got)
	}
}

func TestWorkerPermanentFailure(t *testing.T) {
	o := newFakeOutbox(testMail("m1"))
	s := &fakeSender{fn: func(context.Context, Envelope) error {
		return Permanent(errors.New("550 no such user"))
	}}
	w, buf := testWorker(o, s, testclock.New(t0), WorkerConfig{})
	sent, retried, failed, err := w.RunOnce(t.Context())
	if err != nil || sent != 0 || retried != 0 || failed != 1 {
		t.Fatalf("RunOnce = %d, %d, %d, %v", sent, retried, failed, err)
	}
	if m := o.get("m1"); m.State != store.MailFailed || m.Attempts != 1 || m.LastError != "550 no such user" {
		t.Errorf("%+v", m)
	}
	if !strings.Contains(buf.String(), "level=ERROR") {
		t.Errorf("permanent failure not logged as an error:\n%s", buf)
	}
}

func TestWorkerMaxAttempts(t *testing.T) {
	o := newFakeOutbox(testMail("m1"))
	s := &fakeSender{fn: func(context.Context, Envelope) error { return errors.New("451 try later") }}
	c := testclock.New(t0)
	w, _ := testWorker(o, s, c, WorkerConfig{MaxAttempts: 3})
	var outcomes []string
	for range 4 {
		sent, retried, failed, err := w.RunOnce(t.Context())
		if err != nil || sent != 0 {
			t.Fatal(sent, err)
		}
		switch {
		case retried == 1:
			outcomes = append(outcomes, "retry")
		case failed == 1:
			outcomes = append(outcomes, "failed")
		default:
			outcomes = append(outcomes, "none")
		}
		c.Set(o.get("m1").NextAttemptAt)
	}
	if want := []string{"retry", "retry", "failed", "none"}; !slices.Equal(outcomes, want) {
		t.Errorf("outcomes %v, want %v", outcomes, want)
	}
	if m := o.get("m1"); m.State != store.MailFailed || m.Attempts != 3 || s.count() != 3 {
		t.Errorf("%+v after %d sends", m, s.count())
	}
}

func TestWorkerGivesUpOnInterruptedAttempts(t *testing.T) {
	// Claimed once more than allowed: the previous attempt crashed or lost its lease.
	m := testMail("m1")
	m.Attempts = 3
	o := newFakeOutbox(m)
	s := &fakeSender{}
	w, _ := testWorker(o, s, testclock.New(t0), WorkerConfig{MaxAttempts: 3})
	if _, _, failed, err := w.RunOnce(t.Context()); failed != 1 || err != nil {
		t.Fatal(failed, err)
	}
	if s.count() != 0 || o.get("m1").State != store.MailFailed {
		t.Errorf("sent %d times, state %s", s.count(), o.get("m1").State)
	}
}

func TestWorkerLeaseLost(t *testing.T) {
	o := newFakeOutbox(testMail("m1"))
	s := &fakeSender{}
	s.fn = func(context.Context, Envelope) error {
		o.steal("m1") // our lease expired during the send and another worker took the mail
		return nil
	}
	w, buf := testWorker(o, s, testclock.New(t0), WorkerConfig{})
	sent, retried, failed, err := w.RunOnce(t.Context())
	if err != nil || sent+retried+failed != 0 {
		t.Fatalf("RunOnce = %d, %d, %d, %v", sent, retried, failed, err)
	}
	if !strings.Contains(buf.String(), "lease lost") {
		t.Errorf("lost lease not logged:\n%s", buf)
	}
	if m := o.get("m1"); m.LeaseOwner != "thief" || m.State != store.MailPending {
		t.Errorf("the other worker's mail was changed: %+v", m)
	}
}

func TestWorkerStoreErrors(t *testing.T) {
	o := newFakeOutbox(testMail("m1"))
	o.markErr = store.ErrUnavailable
	w, _ := testWorker(o, &fakeSender{}, testclock.New(t0), WorkerConfig{})
	if _, _, _, err := w.RunOnce(t.Context()); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("mark error: %v", err)
	}
	o.claimErr = store.ErrUnavailable
	if _, _, _, err := w.RunOnce(t.Context()); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("claim error: %v", err)
	}
}

func TestWorkerSendTimeoutWithinLease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for _, tc := range []struct {
			cfg  WorkerConfig
			want time.Duration
		}{
			{WorkerConfig{}, 30 * time.Second},                                                 // Lease/2
			{WorkerConfig{Lease: time.Minute, SendTimeout: 5 * time.Minute}, 54 * time.Second}, // Lease - Lease/10
			{WorkerConfig{Lease: time.Minute, SendTimeout: 10 * time.Second}, 10 * time.Second},
		} {
			o := newFakeOutbox(dueMail("m1"))
			var got time.Duration
			s := &fakeSender{fn: func(ctx context.Context, _ Envelope) error {
				d, ok := ctx.Deadline()
				if !ok {
					t.Error("send without a deadline")
				}
				got = time.Until(d) // the bubble's clock is still: exact
				return nil
			}}
			w, _ := testWorker(o, s, nil, tc.cfg) // Now: the bubble's time.Now
			if sent, _, _, err := w.RunOnce(t.Context()); sent != 1 || err != nil {
				t.Fatal(sent, err)
			}
			if got != tc.want {
				t.Errorf("%+v: send timeout %v, want %v", tc.cfg, got, tc.want)
			}
		}
	})
}

func TestWorkerBatchIsSentInParallel(t *testing.T) {
	o := newFakeOutbox(testMail("m1"), testMail("m2"), testMail("m3"))
	var started sync.WaitGroup
	started.Add(3)
	s := &fakeSender{fn: func(context.Context, Envelope) error {
		started.Done()
		started.Wait() // returns only once all three sends are in flight together
		return nil
	}}
	w, _ := testWorker(o, s, testclock.New(t0), WorkerConfig{Batch: 3})
	if sent, _, _, err := w.RunOnce(t.Context()); sent != 3 || err != nil {
		t.Fatal(sent, err)
	}
}

func TestWorkerRunNotifyAndPoll(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := newFakeOutbox()
		sends := make(chan string, 10)
		s := &fakeSender{fn: func(_ context.Context, m Envelope) error { sends <- m.ID; return nil }}
		w, _ := testWorker(o, s, nil, WorkerConfig{PollInterval: time.Hour, Batch: 2})
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { defer close(done); w.Run(ctx) }()

		synctest.Wait() // first claim done (empty), Run now waits for Notify or the poll
		start := time.Now()
		o.add(dueMail("m1"))
		w.Notify()
		w.Notify() // merges with the first, never blocks
		if id := <-sends; id != "m1" {
			t.Fatalf("sent %s", id)
		}
		if waited := time.Since(start); waited != 0 {
			t.Errorf("Notify took %v of (fake) time: the loop waited for the poll", waited)
		}

		// A full batch means more may be due: Run claims again without waiting.
		synctest.Wait()
		for _, id := range []string{"m2", "m3", "m4"} {
			o.add(dueMail(id))
		}
		w.Notify()
		got := []string{<-sends, <-sends, <-sends}
		slices.Sort(got)
		if !slices.Equal(got, []string{"m2", "m3", "m4"}) || time.Since(start) != 0 {
			t.Errorf("sent %v after %v", got, time.Since(start))
		}

		// Without Notify, a queued mail goes out at the next poll. (In the bubble, Sleep
		// advances the fake clock once every goroutine is blocked: it is not a race.)
		synctest.Wait()
		o.add(dueMail("m5"))
		time.Sleep(time.Hour)
		if id := <-sends; id != "m5" {
			t.Fatalf("sent %s", id)
		}

		cancel()
		<-done
		if n := s.count(); n != 5 {
			t.Errorf("%d sends, want 5", n)
		}
	})
}

func TestWorkerRunStopsOnCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := newFakeOutbox(dueMail("m1"))
		inFlight := make(chan struct{})
		s := &fakeSender{fn: func(ctx context.Context, _ Envelope) error {
			close(inFlight)
			<-ctx.Done() // a send that only ends when cancelled
			return ctx.Err()
		}}
		w, _ := testWorker(o, s, nil, WorkerConfig{MaxAttempts: 1})
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { defer close(done); w.Run(ctx) }()

		<-inFlight
		stoppedAt := time.Now()
		cancel()
		<-done // Run returns; synctest.Test also fails if any goroutine is left behind

		// Shutdown does not cut a send (only its timeout does); this one outlived its
		// timeout and is recorded as a retry due at once, not as a failure, even though
		// it was the last attempt.
		m := o.get("m1")
		if m.State != store.MailPending || m.LeaseOwner != "" || m.NextAttemptAt.Before(stoppedAt) ||
			!m.NextAttemptAt.Equal(time.Now()) || !strings.HasPrefix(m.LastError, "interrupted") {
			t.Errorf("after shutdown: %+v", m)
		}
	})

	synctest.Test(t, func(t *testing.T) {
		// A send in flight when shutdown begins completes and is recorded as sent: cut
		// before the relay's reply, it would be sent again after the restart.
		o := newFakeOutbox(dueMail("m1"))
		inFlight, release := make(chan struct{}), make(chan struct{})
		s := &fakeSender{fn: func(ctx context.Context, _ Envelope) error {
			close(inFlight)
			<-release
			return ctx.Err()
		}}
		w, _ := testWorker(o, s, nil, WorkerConfig{MaxAttempts: 1})
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { defer close(done); w.Run(ctx) }()
		<-inFlight
		cancel()
		synctest.Wait()
		close(release)
		<-done
		if m := o.get("m1"); m.State != store.MailSent {
			t.Errorf("a send finishing after shutdown began: %+v, want sent", m)
		}
	})

	synctest.Test(t, func(t *testing.T) {
		// Idle: Run returns on cancel while waiting for the poll.
		w, _ := testWorker(newFakeOutbox(), &fakeSender{}, nil, WorkerConfig{PollInterval: time.Hour})
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { defer close(done); w.Run(ctx) }()
		synctest.Wait()
		cancel()
		<-done
	})
}

func TestWorkerDefaults(t *testing.T) {
	w := NewWorker(newFakeOutbox(), &fakeSender{}, WorkerConfig{}, nil)
	c := w.cfg
	if c.ID == "" || c.Batch != 10 || c.Lease != time.Minute || c.SendTimeout != 30*time.Second || c.MaxAttempts != 8 ||
		c.BaseBackoff != 30*time.Second || c.MaxBackoff != time.Hour || c.PollInterval != 2*time.Second || c.Now == nil ||
		c.BacklogAge != time.Minute || c.BacklogEvery != time.Minute {
		t.Errorf("defaults %+v", c)
	}
	if other := NewWorker(newFakeOutbox(), &fakeSender{}, WorkerConfig{}, nil); other.ID() == w.ID() {
		t.Errorf("two workers share the id %q", w.ID())
	}
}
