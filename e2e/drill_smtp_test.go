package e2e

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/toktok/toktok/config"
	"github.com/toktok/toktok/mailer"
	"github.com/toktok/toktok/store"
)

// The SMTP fault drill (issue 9): the relay is down while users register, ask for resets
// and change their address; the app restarts meanwhile; then the relay comes back. Every
// mail an operation acknowledged is delivered exactly once, in the order its retry fell
// due, and the backlog is visible to operators (store.OutboxStats, the "outbox backlog"
// log line) while it lasts. A relay that refuses one recipient for good (5xx) and defers
// another (4xx) gets the first mail failed at once, never retried, and the second retried
// with backoff until it is taken.

// drillMail is what an operation queues: a kind of mail, to an address.
type drillMail struct{ to, kind string }

func (m drillMail) String() string { return m.kind + " to " + m.to }

// drillOp is one operation of the drill, sent over GraphQL as an SPA does, and the mails
// it queues.
type drillOp struct {
	name  string
	run   func(e *testEnv)
	mails []drillMail
}

// drillUser is u<i>@example.com.
func drillUser(i int) string { return fmt.Sprintf("u%d@example.com", i) }

// drillOps are the drill's operations, in order: six sign-ups, five password resets asked
// for, three confirmation resends, two password changes and two email changes; twenty
// mails of five kinds. tokens holds the access token of each registered address.
func drillOps(tokens map[string]string) []drillOp {
	register := func(i int) drillOp {
		return drillOp{"register " + drillUser(i), func(e *testEnv) {
			tokens[drillUser(i)] = e.register(drillUser(i), strongPassword).AccessToken
		}, []drillMail{{drillUser(i), mailer.KindConfirm}}}
	}
	forgot := func(i int) drillOp {
		return drillOp{"forgotPassword " + drillUser(i), func(e *testEnv) { mailForgotOK(e, drillUser(i)) },
			[]drillMail{{drillUser(i), mailer.KindReset}}}
	}
	resend := func(i int) drillOp {
		return drillOp{"resendConfirmation " + drillUser(i), func(e *testEnv) {
			if !mailResendOK(e, tokens[drillUser(i)]) {
				e.t.Fatalf("resendConfirmation for %s = false", drillUser(i))
			}
		}, []drillMail{{drillUser(i), mailer.KindConfirm}}}
	}
	changePassword := func(i int) drillOp {
		return drillOp{"changePassword " + drillUser(i), func(e *testEnv) {
			e.mustData(mailChangePassword(e, tokens[drillUser(i)], strongPassword, mailNewPassword), nil)
		}, []drillMail{{drillUser(i), mailer.KindPasswordChanged}}}
	}
	changeEmail := func(i int) drillOp {
		to := fmt.Sprintf("u%d.new@example.com", i)
		return drillOp{"changeEmail " + drillUser(i), func(e *testEnv) {
			mailChangeEmailOK(e, tokens[drillUser(i)], to, strongPassword)
		}, []drillMail{{to, mailer.KindEmailChange}, {drillUser(i), mailer.KindEmailChangeNotice}}}
	}
	return []drillOp{
		register(0), register(1), register(2), forgot(0), register(3), resend(0), changePassword(1),
		register(4), forgot(1),
		// The app restarts here (drillRestartAfter).
		register(5), changeEmail(3), forgot(2), resend(4), changePassword(2), forgot(3),
		changeEmail(4), resend(5), forgot(5),
	}
}

// drillRestartAfter is how many of drillOps the first instance runs.
const drillRestartAfter = 9

// drillStep is the test clock's step between two operations.
const drillStep = 10 * time.Second

// drillAddrs is every address that drillOps mails.
func drillAddrs(ops []drillOp) []string {
	seen := map[string]bool{}
	for _, op := range ops {
		for _, m := range op.mails {
			seen[m.to] = true
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

// drillOutbox returns every outbox mail to addrs, by ID.
func drillOutbox(e *testEnv, addrs []string) map[string]store.Mail {
	e.t.Helper()
	out := map[string]store.Mail{}
	for _, addr := range addrs {
		for _, m := range e.outboxTo(addr) {
			out[m.ID] = m
		}
	}
	return out
}

// drillQueued returns the outbox's mails as what they are (kind to address), sorted, for
// comparing with what the operations should have queued.
func drillQueued(mails map[string]store.Mail) []string {
	var out []string
	for _, m := range mails {
		out = append(out, drillMail{m.To, m.Kind}.String())
	}
	slices.Sort(out)
	return out
}

// drillWantQueued is what ops queue, sorted as drillQueued sorts.
func drillWantQueued(ops []drillOp) []string {
	var out []string
	for _, op := range ops {
		for _, m := range op.mails {
			out = append(out, m.String())
		}
	}
	slices.Sort(out)
	return out
}

// drillWaitQuiet waits until nothing can happen in the outbox before the clock moves,
// and returns its mails (those to addrs) by ID. It polls OutboxStats, one cheap read: Due
// is 0 once every mail was tried and waits for a retry, as a queued mail is due at once
// and a mail being sent was due when claimed. The mails are then checked to be so:
// pending, tried, held by no worker, due after now.
func drillWaitQuiet(t *testing.T, e *testEnv, addrs []string) map[string]store.Mail {
	t.Helper()
	var st store.OutboxStats
	settingsUntil(t, func() bool {
		st = drillStats(e)
		return st.Due == 0
	}, func() string { return fmt.Sprintf("outbox stats %+v, want none due", st) })
	mails := drillOutbox(e, addrs)
	for _, m := range mails {
		if m.State != store.MailPending || m.Attempts == 0 || m.LeaseOwner != "" || !m.NextAttemptAt.After(e.clock.Now()) {
			t.Fatalf("outbox at %v with none due, want every mail waiting for a retry:\n%s", e.clock.Now(), drillSummary(mails))
		}
	}
	return mails
}

// drillSummary is one line per mail, without the bodies, for failure messages.
func drillSummary(mails map[string]store.Mail) string {
	var lines []string
	for id, m := range mails {
		lines = append(lines, fmt.Sprintf("%s %s: %s after %d attempts, next %v, lease %q, last error %q",
			id, drillMail{m.To, m.Kind}, m.State, m.Attempts, m.NextAttemptAt, m.LeaseOwner, m.LastError))
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// drillMessageID is the outbox ID a delivered mail carries as its Message-ID's local part.
func drillMessageID(m sinkMail) string {
	id := strings.Trim(m.Header.Get("Message-Id"), "<>")
	local, _, _ := strings.Cut(id, "@")
	return local
}

// drillStats reads the outbox's stats through the app.
func drillStats(e *testEnv) store.OutboxStats {
	e.t.Helper()
	st, err := e.app.Support().OutboxStats(e.t.Context())
	if err != nil {
		e.t.Fatalf("outbox stats: %v", err)
	}
	return st
}

// drillWantStats fails the test unless e's outbox stats are want.
func drillWantStats(e *testEnv, what string, want store.OutboxStats) {
	e.t.Helper()
	got := drillStats(e)
	if got.Pending != want.Pending || got.Due != want.Due || got.Failed != want.Failed || !got.OldestCreatedAt.Equal(want.OldestCreatedAt) {
		e.t.Errorf("outbox stats %s: %+v, want %+v", what, got, want)
	}
}

// drillConfig points testConfig at sink with production's retry settings, but attempts
// enough that the relay's outage, however the jittered retries fall, cannot use them up:
// the drill is about the outage, not MaxAttempts (TestSettingsMailRetries).
func drillConfig(t *testing.T, sink *mailSink) config.Config {
	return mailConfig(t, sink, func(c *config.Config) {
		d := config.Default().Mail
		c.Mail.BaseBackoff, c.Mail.MaxBackoff, c.Mail.MaxAttempts = d.BaseBackoff, d.MaxBackoff, 20
	})
}

// TestDrillSMTPDownThenUp: with nothing listening on the relay's port, eighteen
// operations queue twenty mails of five kinds, ten seconds apart on the test clock, each
// exactly its own mails; the app is closed and started again on the same store after the
// ninth. Meanwhile nothing is delivered, every mail is pending and retried (its last
// error the refused connection), and the backlog shows: the new instance
// logs "outbox backlog" with the depth and oldest age at once, and again a minute later
// with all twenty, as OutboxStats reads them. Then the relay listens again, and the clock
// steps from one retry's due time to the next: at each step exactly the mails then due
// arrive, each once (by Message-ID), with one more attempt; so the mails arrive in the
// order of their due times, and none is lost or doubled by the outage or the restart.
// Once all are sent, the stats are empty and the backlog is logged as cleared.
func TestDrillSMTPDownThenUp(t *testing.T) {
	sink := startMailSink(t)
	sink.Stop() // nothing listens on the configured port until the relay comes back
	cfg := drillConfig(t, sink)
	// A relay down at start ends a development start (app/mailcheck.go); in preprod, as in
	// production, the app starts, logs it and keeps the mails: the case of this drill.
	// drillConfig validated the rest in default mode; what else preprod requires (key
	// files, HTTPS) is not what the drill is about.
	cfg.Mode = config.ModePreprod
	clock := newTestClock()
	tokens := map[string]string{}
	ops := drillOps(tokens)
	addrs := drillAddrs(ops)

	first, firstBook, stop := mailStartEnv(t, cfg, clock, false)
	firstBook.wait("SMTP server check failed at start; mails wait in the outbox and are retried until it takes them",
		map[string]string{"addr": sink.Addr()})
	drillRun(first, addrs, ops, 0, drillRestartAfter)
	oldest := clock.Now().Add(-drillRestartAfter * drillStep) // the first mail's creation
	if st := drillStats(first); st.Pending != drillRestartAfter || st.Failed != 0 || !st.OldestCreatedAt.Equal(oldest) {
		t.Fatalf("stats before the restart: %+v, want %d pending since %v", st, drillRestartAfter, oldest)
	}
	stop()

	// The new instance reports the backlog it finds, at its first round.
	second, book, _ := mailStartEnv(t, cfg, clock, false)
	book.wait("outbox backlog", map[string]string{"depth": itoa(drillRestartAfter), "oldest_age": clock.Now().Sub(oldest).String()})
	drillRun(second, addrs, ops, drillRestartAfter, len(ops))
	mails := drillOutbox(second, addrs)

	// A minute on (a stats read is due), the warning counts all twenty. The clock moves
	// while no send is in flight: a send claimed before a jump of most of its lease would
	// find its lease too short to start, a failure of the test's clock and not the relay's.
	drillWaitQuiet(t, second, addrs)
	clock.Advance(time.Minute)
	book.wait("outbox backlog", map[string]string{"depth": itoa(len(mails)), "oldest_age": clock.Now().Sub(oldest).String()})
	waiting := drillWaitQuiet(t, second, addrs)
	for _, m := range waiting {
		if !strings.Contains(m.LastError, "refused") {
			t.Errorf("%s: last error %q, want the refused connection", drillMail{m.To, m.Kind}, m.LastError)
		}
	}
	drillWantStats(second, "while every mail waits for its retry", store.OutboxStats{Pending: len(mails), OldestCreatedAt: oldest})

	sink.Restart()
	order := drillDeliverByDueTime(t, second, sink, waiting)
	if len(order) != len(waiting) {
		t.Fatalf("%d mails delivered, want %d", len(order), len(waiting))
	}
	for i := 1; i < len(order); i++ {
		if waiting[order[i]].NextAttemptAt.Before(waiting[order[i-1]].NextAttemptAt) {
			t.Errorf("mail %d arrived after a mail due later", i)
		}
	}
	drillWantStats(second, "once everything is sent", store.OutboxStats{})
	clock.Advance(time.Minute) // a stats read is due, if none saw the outbox empty yet
	book.wait("outbox backlog cleared", map[string]string{"depth": "0"})
	sink.wantNoMoreMail(second, addrs...)
}

// drillRun runs ops[from:to] on e, drillStep apart on its clock, and checks after each
// one that the outbox holds exactly the mails of the operations so far (forgotPassword
// queues its mail after it answers: it is waited for).
func drillRun(e *testEnv, addrs []string, ops []drillOp, from, to int) {
	e.t.Helper()
	for i := from; i < to; i++ {
		ops[i].run(e)
		e.app.Support().Settle()
		if got, want := drillQueued(drillOutbox(e, addrs)), drillWantQueued(ops[:i+1]); !slices.Equal(got, want) {
			e.t.Fatalf("after %s the outbox holds %q, want %q", ops[i].name, got, want)
		}
		e.clock.Advance(drillStep)
	}
}

// drillDeliverByDueTime steps the clock through the due times of waiting (the outbox's
// mails, each waiting for its retry, the relay up) and checks that at each step exactly
// the mails then due are delivered, each once, and in the end that each was tried once
// more. It returns the IDs in the order they arrived.
func drillDeliverByDueTime(t *testing.T, e *testEnv, sink *mailSink, waiting map[string]store.Mail) []string {
	t.Helper()
	byDue := map[int64][]string{} // by NextAttemptAt, in Unix milliseconds (stored times' precision)
	for id, m := range waiting {
		ms := m.NextAttemptAt.UnixMilli()
		byDue[ms] = append(byDue[ms], id)
	}
	var order []string
	for _, ms := range slices.Sorted(maps.Keys(byDue)) {
		at, due := time.UnixMilli(ms).UTC(), byDue[ms]
		e.clock.Set(at)
		settingsUntil(t, func() bool {
			for _, id := range due {
				if m, err := e.app.Support().Mail(t.Context(), id); err != nil || m.State != store.MailSent {
					return false
				}
			}
			return true
		}, func() string { return fmt.Sprintf("mails %q, due at %v, not all sent", due, at) })
		// The sink records a message before it answers DATA, and the worker marks a mail
		// sent after the answer: the due mails are all in the sink now, and nothing else.
		if n := sink.Pending(); n != len(due) {
			t.Fatalf("at %v: %d mails in the sink, want the %d due", at, n, len(due))
		}
		for range due {
			m := sink.Next()
			id := drillMessageID(m)
			switch {
			case !slices.Contains(due, id) || slices.Contains(order, id):
				t.Fatalf("at %v: mail %q (Message-ID %q) arrived, want once each of %q", at, m.Subject, m.Header.Get("Message-Id"), due)
			case len(m.To) != 1 || m.To[0] != waiting[id].To:
				t.Fatalf("mail %s delivered to %v, queued for %s", id, m.To, waiting[id].To)
			}
			order = append(order, id)
		}
	}
	// Each was tried once more: a mail tried before it was due would have been delivered
	// then (the relay takes everything), at a step where the sink held one mail too many.
	for id, w := range waiting {
		if m, err := e.app.Support().Mail(t.Context(), id); err != nil || m.Attempts != w.Attempts+1 {
			t.Errorf("mail %s sent after %d attempts (%v), had %d before the relay came back", id, m.Attempts, err, w.Attempts)
		}
	}
	return order
}

// TestDrillSMTPRefusals: a relay answers 550 to one recipient (permanent: the mail is
// failed at the first attempt, logged, and never tried again, however late) and 451 three
// times to another (temporary: retried, each retry due within the backoff bound after
// the last, until the relay takes it, once). A third mail is delivered at once; the stats
// count the failure and the one mail still pending.
func TestDrillSMTPRefusals(t *testing.T) {
	sink := startMailSink(t)
	cfg := drillConfig(t, sink)
	const (
		ann = "ann@example.com" // refused for good
		bob = "bob@example.com" // deferred three times
		cid = "cid@example.com" // taken
		dan = "dan@example.com" // queued hours later
	)
	sink.RejectRcpt(ann, &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such mailbox"})
	deferral := &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	const deferrals = 3
	sink.ScriptRcpt(bob, slices.Repeat([]error{deferral}, deferrals)...)
	e, book, _ := mailStartEnv(t, cfg, newTestClock(), false)

	annID := mailQueuedID(book, e.register(ann, strongPassword).User.ID, mailer.KindConfirm)
	bobID := mailQueuedID(book, e.register(bob, strongPassword).User.ID, mailer.KindConfirm)
	e.register(cid, strongPassword)
	mailNext(t, sink, cid)
	e.outboxSettle(cid) // recorded sent

	failed := mailWaitState(t, e.app.Support(), annID, store.MailFailed)
	if failed.Attempts != 1 || !strings.Contains(failed.LastError, "550") {
		t.Errorf("refused mail: %d attempts, last error %q; want 1 and the 550", failed.Attempts, failed.LastError)
	}
	if r := book.wait("mail failed permanently", map[string]string{"mail_id": annID}); !strings.Contains(r.Attrs["err"], "550") {
		t.Errorf("the permanent failure is logged with %q, want the 550", r.Attrs["err"])
	}

	// Each deferral is recorded with its next attempt within the backoff bound; the clock
	// then moves to that attempt. (Full jitter may draw a wait under a millisecond, the
	// stored precision: the retry is then due at once and runs without the clock, so the
	// loop follows the attempts rather than count them.)
	base, maxBackoff := cfg.Mail.BaseBackoff, cfg.Mail.MaxBackoff
	for n := 1; ; n++ {
		m := mailWaitFor(t, e.app.Support(), bobID, fmt.Sprintf("attempt %d recorded", n), func(m store.Mail) bool {
			return m.Attempts >= n && m.LeaseOwner == ""
		})
		if m.State == store.MailSent {
			break
		}
		n = m.Attempts
		bound := min(base<<(n-1), maxBackoff)
		wait := m.NextAttemptAt.Sub(e.clock.Now())
		if m.State != store.MailPending || !strings.Contains(m.LastError, "451") || wait < 0 || wait > bound {
			t.Fatalf("after attempt %d: %s, last error %q, next attempt in %v; want pending, the 451, within [0, %v]",
				n, m.State, m.LastError, wait, bound)
		}
		book.wait("mail send failed, will retry", map[string]string{"mail_id": bobID, "attempt": itoa(n)})
		if wait > 0 { // nothing moves until the clock does
			drillWantStats(e, fmt.Sprintf("after attempt %d", n), store.OutboxStats{Pending: 1, Failed: 1, OldestCreatedAt: m.CreatedAt})
		}
		e.clock.Set(m.NextAttemptAt)
	}
	mailNext(t, sink, bob)
	if m := mailWaitState(t, e.app.Support(), bobID, store.MailSent); m.Attempts != deferrals+1 {
		t.Errorf("deferred mail sent after %d attempts, want %d", m.Attempts, deferrals+1)
	}

	// Hours later the worker still runs (dan's mail goes out) and has not tried ann again.
	e.clock.Advance(6 * time.Hour)
	e.register(dan, strongPassword)
	mailNext(t, sink, dan)
	if m, err := e.app.Support().Mail(t.Context(), annID); err != nil || m.State != store.MailFailed || m.Attempts != 1 {
		t.Errorf("the refused mail is now %s after %d attempts (%v), want failed after 1", m.State, m.Attempts, err)
	}
	for addr, want := range map[string]int{ann: 1, bob: deferrals + 1, cid: 1, dan: 1} {
		if n := sink.Rcpts(addr); n != want {
			t.Errorf("the relay was asked for %s %d times, want %d", addr, n, want)
		}
	}
	sink.wantNoMoreMail(e, ann, bob, cid, dan) // and dan's mail recorded sent
	drillWantStats(e, "at the end", store.OutboxStats{Failed: 1})
}
