package storetest

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/toktok/toktok/store"
)

// The durable outbox: claims under a lease, and the three ways a claim ends.

func newMail(id string, created time.Time) store.Mail {
	return store.Mail{
		ID:            id,
		Kind:          "confirm",
		To:            "ada@example.com",
		Subject:       "Confirm your address",
		Text:          "Open https://example.com/confirm#tok-" + id,
		HTML:          `<a href="https://example.com/confirm#tok-` + id + `">Confirm</a>`,
		State:         store.MailPending,
		CreatedAt:     created,
		NextAttemptAt: created,
	}
}

func mustEnqueue(t *testing.T, s store.Store, m store.Mail) {
	t.Helper()
	if err := s.EnqueueMail(t.Context(), m); err != nil {
		t.Fatalf("EnqueueMail(%q): %v", m.ID, err)
	}
}

func mustMail(t *testing.T, s store.Store, id string) store.Mail {
	t.Helper()
	m, err := s.MailByID(t.Context(), id)
	if err != nil {
		t.Fatalf("MailByID(%q): %v", id, err)
	}
	return m
}

func mustClaim(t *testing.T, s store.Store, worker string, now, leaseUntil time.Time, n int) []store.Mail {
	t.Helper()
	ms, err := s.ClaimMails(t.Context(), worker, now, leaseUntil, n)
	if err != nil {
		t.Fatalf("ClaimMails(%s, n=%d): %v", worker, n, err)
	}
	return ms
}

// mustClaimOne claims at now and fails unless exactly the mail id comes back.
func mustClaimOne(t *testing.T, s store.Store, id, worker string, now, leaseUntil time.Time) store.Mail {
	t.Helper()
	ms := mustClaim(t, s, worker, now, leaseUntil, 10)
	if ids := mailIDs(ms); !equalStrings(ids, []string{id}) {
		t.Fatalf("ClaimMails(%s) = %q, want [%s]", worker, ids, id)
	}
	return ms[0]
}

func mailIDs(ms []store.Mail) []string {
	ids := make([]string, len(ms))
	for i, m := range ms {
		ids[i] = m.ID
	}
	return ids
}

func checkMail(t *testing.T, what string, got, want store.Mail) {
	t.Helper()
	var d []string
	d = append(d, diff("ID", got.ID, want.ID)...)
	d = append(d, diff("Kind", got.Kind, want.Kind)...)
	d = append(d, diff("To", got.To, want.To)...)
	d = append(d, diff("Subject", got.Subject, want.Subject)...)
	d = append(d, diff("Text", got.Text, want.Text)...)
	d = append(d, diff("HTML", got.HTML, want.HTML)...)
	d = append(d, diff("State", got.State, want.State)...)
	d = append(d, diff("Attempts", got.Attempts, want.Attempts)...)
	d = append(d, timeDiff("CreatedAt", got.CreatedAt, want.CreatedAt)...)
	d = append(d, timeDiff("NextAttemptAt", got.NextAttemptAt, want.NextAttemptAt)...)
	d = append(d, diff("LeaseOwner", got.LeaseOwner, want.LeaseOwner)...)
	d = append(d, timeDiff("LeaseUntil", got.LeaseUntil, want.LeaseUntil)...)
	d = append(d, timePtrDiff("SentAt", got.SentAt, want.SentAt)...)
	d = append(d, diff("LastError", got.LastError, want.LastError)...)
	for _, line := range d {
		t.Errorf("%s: %s", what, line)
	}
}

// wantOutboxStats checks OutboxStats at now against want.
func wantOutboxStats(t *testing.T, s store.Store, what string, now time.Time, want store.OutboxStats) {
	t.Helper()
	got, err := s.OutboxStats(t.Context(), now)
	if err != nil {
		t.Fatalf("%s: OutboxStats: %v", what, err)
	}
	var d []string
	d = append(d, diff("Pending", got.Pending, want.Pending)...)
	d = append(d, diff("Due", got.Due, want.Due)...)
	d = append(d, diff("Failed", got.Failed, want.Failed)...)
	d = append(d, timeDiff("OldestCreatedAt", got.OldestCreatedAt, want.OldestCreatedAt)...)
	for _, line := range d {
		t.Errorf("%s: OutboxStats %s", what, line)
	}
}

// leased is m as a claim by worker until leaseUntil leaves it.
func leased(m store.Mail, worker string, leaseUntil time.Time) store.Mail {
	m.State = store.MailPending
	m.LeaseOwner = worker
	m.LeaseUntil = leaseUntil
	m.Attempts++
	return m
}

func testMailRoundTrip(t *testing.T, s store.Store) {
	wantOutboxStats(t, s, "empty outbox", t0, store.OutboxStats{})
	m := newMail("m1", t0)
	m.NextAttemptAt = t0.Add(time.Minute + 1500*time.Microsecond)
	mustEnqueue(t, s, m)
	checkMail(t, "MailByID", mustMail(t, s, "m1"), m)

	// Whatever State says, a new mail is pending; the other fields are kept as given.
	odd := newMail("m2", t0)
	odd.State = store.MailSent
	odd.Kind, odd.Text, odd.HTML = "reset", "", ""
	odd.Attempts = 2
	odd.LeaseOwner = "w9"
	odd.LeaseUntil = t0.Add(time.Hour)
	odd.LastError = "421 try later"
	mustEnqueue(t, s, odd)
	want := odd
	want.State = store.MailPending
	checkMail(t, "MailByID(state not pending)", mustMail(t, s, "m2"), want)

	blank := newMail("m3", t0)
	blank.State = ""
	mustEnqueue(t, s, blank)
	if got := mustMail(t, s, "m3").State; got != store.MailPending {
		t.Errorf("MailByID(enqueued with empty State).State = %q, want pending", got)
	}

	_, err := s.MailByID(t.Context(), "nope")
	wantErr(t, "MailByID(unknown)", err, store.ErrNotFound)

	// Every new mail is pending, whatever its State said; m2 and m3 are due at t0 exactly
	// (m2 although a lease was stored with it), m1 a minute later. The oldest is reported
	// at millisecond precision, in UTC.
	wantOutboxStats(t, s, "three new mails", t0, store.OutboxStats{Pending: 3, Due: 2, OldestCreatedAt: t0})
	wantOutboxStats(t, s, "three new mails, a millisecond early", t0.Add(-time.Millisecond),
		store.OutboxStats{Pending: 3, OldestCreatedAt: t0})
	wantOutboxStats(t, s, "three new mails, m1 due", m.NextAttemptAt, store.OutboxStats{Pending: 3, Due: 3, OldestCreatedAt: t0})
}

func testMailDuplicateID(t *testing.T, s store.Store) {
	first := newMail("m1", t0)
	mustEnqueue(t, s, first)
	dup := newMail("m1", t0.Add(time.Hour))
	dup.Subject = "Reset your password"
	wantErr(t, "EnqueueMail(duplicate id)", s.EnqueueMail(t.Context(), dup), store.ErrConflict)
	checkMail(t, "first mail after rejected duplicate", mustMail(t, s, "m1"), first)
}

func testClaimMails(t *testing.T, s store.Store) {
	// Mails that are not claimable: one sent, one failed, one leased to w0 until after now.
	now := t0.Add(time.Hour)
	for _, id := range []string{"sent", "failed", "leased"} {
		m := newMail(id, t0.Add(-time.Hour))
		mustEnqueue(t, s, m)
		mustClaimOne(t, s, id, "w0", t0, now.Add(time.Millisecond))
	}
	if err := s.MarkMailSent(t.Context(), "sent", "w0", t0); err != nil {
		t.Fatalf("MarkMailSent: %v", err)
	}
	if err := s.MarkMailFailed(t.Context(), "failed", "w0", t0, "550 no such user"); err != nil {
		t.Fatalf("MarkMailFailed: %v", err)
	}

	// Enqueued in an order unrelated to when they are due.
	due := map[string]time.Duration{
		"due-new": -time.Minute, "future": time.Millisecond, "due-now": 0, "due-old": -30 * time.Minute,
	}
	for _, id := range []string{"due-new", "future", "due-now", "due-old"} {
		m := newMail(id, t0)
		m.NextAttemptAt = now.Add(due[id])
		mustEnqueue(t, s, m)
	}

	// Depth counts the leased mail; Due every pending mail but "future"; the final mails
	// count only as Failed, and the oldest pending mail is the leased one.
	wantOutboxStats(t, s, "before the claim", now,
		store.OutboxStats{Pending: 5, Due: 4, Failed: 1, OldestCreatedAt: t0.Add(-time.Hour)})

	lease := now.Add(5*time.Minute + 250*time.Microsecond)
	got := mustClaim(t, s, "w1", now, lease, 10)
	// Oldest NextAttemptAt first; NextAttemptAt == now is due.
	want := []string{"due-old", "due-new", "due-now"}
	if ids := mailIDs(got); !equalStrings(ids, want) {
		t.Fatalf("ClaimMails = %q, want %q", ids, want)
	}
	for _, m := range got {
		before := newMail(m.ID, t0)
		before.NextAttemptAt = now.Add(due[m.ID])
		checkMail(t, "claimed "+m.ID, m, leased(before, "w1", lease))
		checkMail(t, "stored "+m.ID, mustMail(t, s, m.ID), leased(before, "w1", lease))
	}

	// Everything due is leased now.
	if got := mustClaim(t, s, "w2", now, lease, 10); len(got) != 0 {
		t.Errorf("second ClaimMails = %q, want nothing", mailIDs(got))
	}
	// The future mail becomes due, and w0's lease on "leased" ends, a millisecond later.
	got = mustClaim(t, s, "w2", now.Add(time.Millisecond), lease, 10)
	if ids := mailIDs(got); !equalStrings(ids, []string{"leased", "future"}) {
		t.Errorf("ClaimMails(1ms later) = %q, want [leased future]", ids)
	}
	for _, id := range []string{"sent", "failed"} {
		if m := mustMail(t, s, id); m.Attempts != 1 || m.LeaseOwner != "" {
			t.Errorf("final mail %s was claimed: Attempts %d, LeaseOwner %q", id, m.Attempts, m.LeaseOwner)
		}
	}
	// Claims change no count: a mail being sent is still pending, and due.
	wantOutboxStats(t, s, "after the claims", now.Add(time.Millisecond),
		store.OutboxStats{Pending: 5, Due: 5, Failed: 1, OldestCreatedAt: t0.Add(-time.Hour)})
}

func testClaimMailsLimit(t *testing.T, s store.Store) {
	now := t0.Add(time.Hour)
	// m0..m4 due a minute apart, enqueued out of order; a and b due at the same instant
	// after them, where the ID breaks the tie.
	for _, i := range []int{3, 0, 4, 1, 2} {
		m := newMail(fmt.Sprintf("m%d", i), t0)
		m.NextAttemptAt = t0.Add(time.Duration(i) * time.Minute)
		mustEnqueue(t, s, m)
	}
	for _, id := range []string{"b", "a"} {
		m := newMail(id, t0)
		m.NextAttemptAt = t0.Add(10 * time.Minute)
		mustEnqueue(t, s, m)
	}
	lease := now.Add(time.Minute)

	for _, n := range []int{0, -1} {
		if got := mustClaim(t, s, "w1", now, lease, n); len(got) != 0 {
			t.Errorf("ClaimMails(n=%d) = %q, want nothing", n, mailIDs(got))
		}
	}
	if m := mustMail(t, s, "m0"); m.Attempts != 0 || m.LeaseOwner != "" {
		t.Errorf("after ClaimMails(n<=0): m0 Attempts %d, LeaseOwner %q; want untouched", m.Attempts, m.LeaseOwner)
	}

	for _, step := range []struct {
		n    int
		want []string
	}{
		{2, []string{"m0", "m1"}},
		{1, []string{"m2"}},
		{3, []string{"m3", "m4", "a"}},
		{10, []string{"b"}},
		{10, nil},
	} {
		got := mustClaim(t, s, "w1", now, lease, step.n)
		if ids := mailIDs(got); !equalStrings(ids, step.want) {
			t.Errorf("ClaimMails(n=%d) = %q, want %q", step.n, ids, step.want)
		}
	}
}

// A worker that dies leaves its lease to expire; another worker then takes the mail over,
// and the first one's late outcome is refused.
func testClaimMailsExpiredLease(t *testing.T, s store.Store) {
	m := newMail("m1", t0)
	mustEnqueue(t, s, m)
	lease1 := t0.Add(2 * time.Minute)
	mustClaimOne(t, s, "m1", "w1", t0.Add(time.Minute), lease1)

	if got := mustClaim(t, s, "w2", lease1.Add(-time.Millisecond), lease1.Add(time.Hour), 10); len(got) != 0 {
		t.Fatalf("ClaimMails before the lease ends = %q, want nothing", mailIDs(got))
	}
	lease2 := lease1.Add(time.Minute)
	got := mustClaimOne(t, s, "m1", "w2", lease1, lease2) // LeaseUntil <= now: free
	want := leased(leased(m, "w1", lease1), "w2", lease2)
	checkMail(t, "taken over", got, want)

	at := lease1.Add(time.Second)
	wantErr(t, "MarkMailSent(previous owner)", s.MarkMailSent(t.Context(), "m1", "w1", at), store.ErrConflict)
	wantErr(t, "MarkMailRetry(previous owner)", s.MarkMailRetry(t.Context(), "m1", "w1", at, "timeout"), store.ErrConflict)
	wantErr(t, "MarkMailFailed(previous owner)", s.MarkMailFailed(t.Context(), "m1", "w1", at, "timeout"), store.ErrConflict)
	checkMail(t, "after the previous owner's outcomes", mustMail(t, s, "m1"), want)

	if err := s.MarkMailSent(t.Context(), "m1", "w2", at); err != nil {
		t.Errorf("MarkMailSent(current owner): %v", err)
	}
}

// claimRounds is how many claimers race in each round of testClaimMailsConcurrent; each
// count comes twice, as a store that claims by reading then writing loses a race only now
// and then.
var claimRounds = []int{2, 3, 4, 2, 3, 4}

const claimMailsPerRound = 50

func testClaimMailsConcurrent(t *testing.T, s store.Store) {
	now := t0.Add(time.Hour)
	// Leases outlast the test, so mails of earlier rounds stay taken.
	lease := now.Add(24 * time.Hour)
	for round, claimers := range claimRounds {
		prefix := fmt.Sprintf("r%d-%d-", round, claimers)
		for i := range claimMailsPerRound {
			m := newMail(fmt.Sprintf("%sm%02d", prefix, i), t0)
			m.NextAttemptAt = t0.Add(time.Duration(i%7) * time.Millisecond)
			mustEnqueue(t, s, m)
		}

		var (
			mu     sync.Mutex
			claims = map[string][]string{} // mail ID -> workers that got it
			wg     sync.WaitGroup
			start  = make(chan struct{})
		)
		for c := range claimers {
			worker := fmt.Sprintf("%sw%d", prefix, c)
			wg.Go(func() {
				<-start
				// Small batches, so the claimers take turns many times. A correct store
				// runs out after at most claimMailsPerRound non-empty claims; the bound
				// turns a store that hands out mails again into a failure, not a hang.
				for range claimMailsPerRound + 1 {
					ms, err := s.ClaimMails(t.Context(), worker, now, lease, 3)
					if err != nil {
						t.Errorf("ClaimMails(%s): %v", worker, err)
						return
					}
					if len(ms) == 0 {
						return
					}
					mu.Lock()
					for _, m := range ms {
						claims[m.ID] = append(claims[m.ID], worker)
						if m.LeaseOwner != worker || m.Attempts != 1 {
							t.Errorf("%s claimed %s: LeaseOwner %q, Attempts %d; want itself and 1", worker, m.ID, m.LeaseOwner, m.Attempts)
						}
					}
					mu.Unlock()
				}
			})
		}
		close(start)
		wg.Wait()

		for i := range claimMailsPerRound {
			id := fmt.Sprintf("%sm%02d", prefix, i)
			workers := claims[id]
			delete(claims, id)
			if len(workers) != 1 {
				t.Errorf("%d claimers: mail %s claimed by %q, want exactly one", claimers, id, workers)
				continue
			}
			if m := mustMail(t, s, id); m.LeaseOwner != workers[0] || m.Attempts != 1 {
				t.Errorf("%d claimers: stored %s: LeaseOwner %q, Attempts %d; want %q and 1", claimers, id, m.LeaseOwner, m.Attempts, workers[0])
			}
		}
		for id, workers := range claims {
			t.Errorf("%d claimers: mail %s of another round claimed by %q", claimers, id, workers)
		}
	}
}

func testMarkMailSent(t *testing.T, s store.Store) {
	m := newMail("m1", t0)
	mustEnqueue(t, s, m)
	// A first attempt fails, so there is a LastError to keep.
	mustClaimOne(t, s, "m1", "w1", t0, t0.Add(time.Minute))
	next := t0.Add(2 * time.Minute)
	if err := s.MarkMailRetry(t.Context(), "m1", "w1", next, "421 busy"); err != nil {
		t.Fatalf("MarkMailRetry: %v", err)
	}
	lease := next.Add(time.Minute)
	claimed := mustClaimOne(t, s, "m1", "w1", next, lease)

	// Someone else cannot record the outcome.
	for _, worker := range []string{"w2", "", "W1"} {
		err := s.MarkMailSent(t.Context(), "m1", worker, next)
		wantErr(t, fmt.Sprintf("MarkMailSent(worker %q)", worker), err, store.ErrConflict)
	}
	checkMail(t, "after refused MarkMailSent", mustMail(t, s, "m1"), claimed)

	at := next.Add(3*time.Second + 456*time.Microsecond)
	if err := s.MarkMailSent(t.Context(), "m1", "w1", at); err != nil {
		t.Fatalf("MarkMailSent: %v", err)
	}
	want := claimed
	want.State = store.MailSent
	want.SentAt = &at
	want.LeaseOwner, want.LeaseUntil = "", time.Time{}
	want.Text, want.HTML = "", "" // scrubbed: they held the link token
	want.LastError = "421 busy"
	checkMail(t, "after MarkMailSent", mustMail(t, s, "m1"), want)

	// Final: no second outcome, and no claim.
	later := at.Add(time.Minute)
	wantErr(t, "MarkMailSent(again)", s.MarkMailSent(t.Context(), "m1", "w1", later), store.ErrConflict)
	wantErr(t, "MarkMailRetry(sent)", s.MarkMailRetry(t.Context(), "m1", "w1", later, "x"), store.ErrConflict)
	wantErr(t, "MarkMailFailed(sent)", s.MarkMailFailed(t.Context(), "m1", "w1", later, "x"), store.ErrConflict)
	if got := mustClaim(t, s, "w1", later.Add(365*24*time.Hour), later.Add(366*24*time.Hour), 10); len(got) != 0 {
		t.Errorf("ClaimMails after sent = %q, want nothing", mailIDs(got))
	}
	checkMail(t, "after refused outcomes", mustMail(t, s, "m1"), want)

	// A sent mail counts nowhere.
	wantOutboxStats(t, s, "after MarkMailSent", later, store.OutboxStats{})

	// A mail nobody claimed belongs to no worker, not even the empty one.
	mustEnqueue(t, s, newMail("m2", t0))
	wantErr(t, "MarkMailSent(unclaimed, empty worker)", s.MarkMailSent(t.Context(), "m2", "", at), store.ErrConflict)
	checkMail(t, "unclaimed mail", mustMail(t, s, "m2"), newMail("m2", t0))

	wantErr(t, "MarkMailSent(unknown)", s.MarkMailSent(t.Context(), "nope", "w1", at), store.ErrNotFound)
	wantErr(t, "MarkMailRetry(unknown)", s.MarkMailRetry(t.Context(), "nope", "w1", at, "x"), store.ErrNotFound)
	wantErr(t, "MarkMailFailed(unknown)", s.MarkMailFailed(t.Context(), "nope", "w1", at, "x"), store.ErrNotFound)
}

func testMarkMailRetry(t *testing.T, s store.Store) {
	m := newMail("m1", t0)
	mustEnqueue(t, s, m)
	claimed := mustClaimOne(t, s, "m1", "w1", t0, t0.Add(time.Minute))

	wantErr(t, "MarkMailRetry(other worker)",
		s.MarkMailRetry(t.Context(), "m1", "w2", t0.Add(time.Hour), "x"), store.ErrConflict)
	checkMail(t, "after refused MarkMailRetry", mustMail(t, s, "m1"), claimed)

	next := t0.Add(10*time.Minute + 777*time.Microsecond)
	long := strings.Repeat("x", 600)
	if err := s.MarkMailRetry(t.Context(), "m1", "w1", next, long); err != nil {
		t.Fatalf("MarkMailRetry: %v", err)
	}
	// Still pending, body kept, lease released, due again at next.
	want := claimed
	want.NextAttemptAt = next
	want.LastError = long[:500]
	want.LeaseOwner, want.LeaseUntil = "", time.Time{}
	checkMail(t, "after MarkMailRetry", mustMail(t, s, "m1"), want)

	if got := mustClaim(t, s, "w2", next.Add(-time.Millisecond), next.Add(time.Hour), 10); len(got) != 0 {
		t.Errorf("ClaimMails before NextAttemptAt = %q, want nothing", mailIDs(got))
	}
	lease := next.Add(time.Minute)
	got := mustClaimOne(t, s, "m1", "w2", next, lease)
	checkMail(t, "claimed again", got, leased(want, "w2", lease))

	// A short message replaces the last one; a long one is cut at a character boundary.
	next2 := next.Add(time.Hour)
	if err := s.MarkMailRetry(t.Context(), "m1", "w2", next2, "timeout"); err != nil {
		t.Fatalf("MarkMailRetry(short): %v", err)
	}
	if got := mustMail(t, s, "m1").LastError; got != "timeout" {
		t.Errorf("LastError = %q, want %q", got, "timeout")
	}
	mustClaimOne(t, s, "m1", "w3", next2, next2.Add(time.Minute))
	multi := "x" + strings.Repeat("é", 300) // byte 500 is the middle of an "é"
	if err := s.MarkMailRetry(t.Context(), "m1", "w3", next2, multi); err != nil {
		t.Fatalf("MarkMailRetry(multibyte): %v", err)
	}
	checkTruncated(t, "LastError(multibyte)", mustMail(t, s, "m1").LastError, multi)
}

// checkTruncated checks got is msg cut to at most 500 bytes at a character boundary, and
// no shorter than that needs.
func checkTruncated(t *testing.T, what, got, msg string) {
	t.Helper()
	if len(got) > 500 || len(got) < 500-utf8.UTFMax+1 || !strings.HasPrefix(msg, got) || !utf8.ValidString(got) {
		t.Errorf("%s = %d bytes (valid UTF-8: %t, prefix: %t), want the longest valid prefix of at most 500 bytes",
			what, len(got), utf8.ValidString(got), strings.HasPrefix(msg, got))
	}
}

func testMarkMailFailed(t *testing.T, s store.Store) {
	m := newMail("m1", t0)
	m.NextAttemptAt = t0.Add(time.Second)
	mustEnqueue(t, s, m)
	claimed := mustClaimOne(t, s, "m1", "w1", t0.Add(time.Minute), t0.Add(2*time.Minute))

	wantErr(t, "MarkMailFailed(other worker)",
		s.MarkMailFailed(t.Context(), "m1", "w2", t0.Add(time.Minute), "x"), store.ErrConflict)
	checkMail(t, "after refused MarkMailFailed", mustMail(t, s, "m1"), claimed)

	at := t0.Add(90 * time.Second)
	msg := "550 " + strings.Repeat("é", 400)
	if err := s.MarkMailFailed(t.Context(), "m1", "w1", at, msg); err != nil {
		t.Fatalf("MarkMailFailed: %v", err)
	}
	got := mustMail(t, s, "m1")
	checkTruncated(t, "LastError", got.LastError, msg)
	want := claimed
	want.State = store.MailFailed
	want.LeaseOwner, want.LeaseUntil = "", time.Time{}
	want.Text, want.HTML = "", ""
	want.LastError = got.LastError
	checkMail(t, "after MarkMailFailed", got, want)

	later := at.Add(time.Minute)
	wantErr(t, "MarkMailSent(failed)", s.MarkMailSent(t.Context(), "m1", "w1", later), store.ErrConflict)
	wantErr(t, "MarkMailFailed(again)", s.MarkMailFailed(t.Context(), "m1", "w1", later, "x"), store.ErrConflict)
	if got := mustClaim(t, s, "w1", later.Add(365*24*time.Hour), later.Add(366*24*time.Hour), 10); len(got) != 0 {
		t.Errorf("ClaimMails after failed = %q, want nothing", mailIDs(got))
	}
	checkMail(t, "after refused outcomes", mustMail(t, s, "m1"), want)

	// A failed mail leaves the backlog: nothing is pending, so there is no oldest.
	wantOutboxStats(t, s, "after MarkMailFailed", later, store.OutboxStats{Failed: 1})
	// A younger pending mail is the oldest one: the failed mail, older, is not pending.
	young := newMail("m2", later)
	young.NextAttemptAt = later.Add(time.Minute)
	mustEnqueue(t, s, young)
	wantOutboxStats(t, s, "a mail younger than the failed one", later, store.OutboxStats{Pending: 1, Failed: 1, OldestCreatedAt: later})
}

func mustMailsTo(t *testing.T, s store.Store, to string) []store.Mail {
	t.Helper()
	ms, err := s.MailsTo(t.Context(), to)
	if err != nil {
		t.Fatalf("MailsTo(%q): %v", to, err)
	}
	return ms
}

// testMailsTo: every mail to one address, whatever its state, oldest first, as stored.
func testMailsTo(t *testing.T, s store.Store) {
	if got := mustMailsTo(t, s, "ada@example.com"); len(got) != 0 {
		t.Fatalf("MailsTo(empty outbox) = %q, want nothing", mailIDs(got))
	}

	// Enqueued in an order unrelated to when they were created; "tie-a" and "tie-b" were
	// created at the same instant, where the ID breaks the tie.
	created := map[string]time.Duration{
		"late": 3 * time.Minute, "tie-b": 2 * time.Minute, "first": 0, "tie-a": 2 * time.Minute,
		"sent": time.Minute, "failed": 90 * time.Second,
	}
	for _, id := range []string{"late", "tie-b", "first", "tie-a", "sent", "failed"} {
		m := newMail(id, t0.Add(created[id]))
		m.NextAttemptAt = t0.Add(time.Hour - created[id]) // due in the opposite order
		mustEnqueue(t, s, m)
	}
	// Other addresses, matched exactly: another mailbox, another case, a longer address.
	for id, to := range map[string]string{"bob": "bob@example.com", "case": "Ada@example.com", "longer": "ada@example.com.evil"} {
		m := newMail(id, t0)
		m.To = to
		mustEnqueue(t, s, m)
	}

	// Every mail claimed, then one sent and one failed: the list shows each as it is.
	at := t0.Add(2 * time.Hour)
	if got := mustClaim(t, s, "w1", at, at.Add(time.Minute), 100); len(got) != 9 {
		t.Fatalf("ClaimMails = %q, want the 9 mails", mailIDs(got))
	}
	if err := s.MarkMailSent(t.Context(), "sent", "w1", at); err != nil {
		t.Fatalf("MarkMailSent: %v", err)
	}
	if err := s.MarkMailFailed(t.Context(), "failed", "w1", at, "550 no such user"); err != nil {
		t.Fatalf("MarkMailFailed: %v", err)
	}

	// The stats cover every address: 7 pending mails (all leased, all due) and the failed
	// one; the oldest pending ones ("first", and the mails to the other addresses) were
	// created at t0.
	wantOutboxStats(t, s, "every mail claimed, one sent, one failed", at,
		store.OutboxStats{Pending: 7, Due: 7, Failed: 1, OldestCreatedAt: t0})

	got := mustMailsTo(t, s, "ada@example.com")
	want := []string{"first", "sent", "failed", "tie-a", "tie-b", "late"}
	if ids := mailIDs(got); !equalStrings(ids, want) {
		t.Fatalf("MailsTo = %q, want %q", ids, want)
	}
	first := newMail("first", t0)
	first.NextAttemptAt = t0.Add(time.Hour)
	checkMail(t, "MailsTo's first (pending, leased, body kept)", got[0], leased(first, "w1", at.Add(time.Minute)))
	if got[1].Text != "" || got[1].HTML != "" {
		t.Errorf("MailsTo's sent mail has a body: %q", got[1].Text)
	}
	states := map[string]store.MailState{}
	for _, m := range got {
		checkMail(t, "MailsTo's "+m.ID, m, mustMail(t, s, m.ID))
		states[m.ID] = m.State
	}
	if states["sent"] != store.MailSent || states["failed"] != store.MailFailed || states["first"] != store.MailPending {
		t.Errorf("MailsTo states = %v, want sent, failed and the rest pending (leased)", states)
	}

	for to, want := range map[string][]string{
		"bob@example.com": {"bob"}, "Ada@example.com": {"case"}, "ada@example.com.evil": {"longer"},
		"nobody@example.com": nil, "": nil, "ada@example": nil,
	} {
		if ids := mailIDs(mustMailsTo(t, s, to)); !equalStrings(ids, want) {
			t.Errorf("MailsTo(%q) = %q, want %q", to, ids, want)
		}
	}
}
