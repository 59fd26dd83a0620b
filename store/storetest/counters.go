package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/toktok/toktok/store"
)

// Rate-limit counters, and the purge of everything that has run its course.

func checkCounter(t *testing.T, what string, got store.Counter, wantCount int, wantResetAt time.Time) {
	t.Helper()
	d := diff("Count", got.Count, wantCount)
	if wantResetAt.IsZero() {
		if !got.ResetAt.IsZero() {
			d = append(d, fmt.Sprintf("ResetAt = %v, want the zero time", got.ResetAt))
		}
	} else {
		d = append(d, timeDiff("ResetAt", got.ResetAt, wantResetAt)...)
	}
	for _, line := range d {
		t.Errorf("%s: %s", what, line)
	}
}

func mustHit(t *testing.T, s store.Store, key string, window time.Duration, now time.Time) store.Counter {
	t.Helper()
	c, err := s.Hit(t.Context(), key, window, now)
	if err != nil {
		t.Fatalf("Hit(%q): %v", key, err)
	}
	return c
}

func mustPeek(t *testing.T, s store.Store, key string, now time.Time) store.Counter {
	t.Helper()
	c, err := s.PeekCounter(t.Context(), key, now)
	if err != nil {
		t.Fatalf("PeekCounter(%q): %v", key, err)
	}
	return c
}

func testHit(t *testing.T, s store.Store) {
	const w = time.Minute
	now := t0
	reset := now.Add(w)

	checkCounter(t, "first Hit", mustHit(t, s, "k", w, now), 1, reset)
	checkCounter(t, "second Hit", mustHit(t, s, "k", w, now.Add(10*time.Second)), 2, reset)
	// The window is fixed: a hit does not move ResetAt, whatever window it passes.
	checkCounter(t, "Hit with a longer window", mustHit(t, s, "k", time.Hour, now.Add(20*time.Second)), 3, reset)
	checkCounter(t, "Hit 1ms before the reset", mustHit(t, s, "k", w, reset.Add(-time.Millisecond)), 4, reset)

	// At ResetAt the window has ended: a new one starts with this hit.
	checkCounter(t, "Hit at ResetAt", mustHit(t, s, "k", w, reset), 1, reset.Add(w))
	checkCounter(t, "Hit in the new window", mustHit(t, s, "k", w, reset.Add(time.Second)), 2, reset.Add(w))
	later := reset.Add(24 * time.Hour)
	checkCounter(t, "Hit long after", mustHit(t, s, "k", w, later), 1, later.Add(w))

	// Keys are independent, and matched exactly.
	checkCounter(t, "Hit(other key)", mustHit(t, s, "login:ip:192.0.2.1", w, now), 1, reset)
	checkCounter(t, "Hit(other key, again)", mustHit(t, s, "login:ip:192.0.2.1", w, now), 2, reset)
	checkCounter(t, "Hit(K)", mustHit(t, s, "K", w, now), 1, reset)
}

// hitRaceKeys is how many keys testHitConcurrent races on, one race each: a
// read-then-write store loses a single race only now and then.
const hitRaceKeys = 10

func testHitConcurrent(t *testing.T, s store.Store) {
	const w = time.Minute
	now := t0.Add(time.Hour)
	for k := range hitRaceKeys {
		key := fmt.Sprintf("k%d", k)
		counts := make([]store.Counter, concurrency)
		errs := race(func(i int) error {
			var err error
			counts[i], err = s.Hit(t.Context(), key, w, now)
			return err
		})
		seen := make(map[int]int)
		for i, err := range errs {
			if err != nil {
				t.Errorf("Hit(%s) call %d: %v", key, i, err)
				continue
			}
			seen[counts[i].Count]++
			for _, line := range timeDiff("ResetAt", counts[i].ResetAt, now.Add(w)) {
				t.Errorf("Hit(%s) call %d: %s", key, i, line)
			}
		}
		for n := 1; n <= concurrency; n++ {
			if seen[n] != 1 {
				t.Errorf("Hit(%s) x%d: Count %d returned %d times, want once (counts seen: %v)", key, concurrency, n, seen[n], seen)
				break
			}
		}
		checkCounter(t, "PeekCounter("+key+") after the race", mustPeek(t, s, key, now), concurrency, now.Add(w))
	}
}

func testPeekCounter(t *testing.T, s store.Store) {
	const w = time.Minute
	now := t0
	reset := now.Add(w)
	checkCounter(t, "PeekCounter(absent)", mustPeek(t, s, "k", now), 0, time.Time{})

	for range 3 {
		mustHit(t, s, "k", w, now)
	}
	// Peeking does not count, however often.
	for range 3 {
		checkCounter(t, "PeekCounter", mustPeek(t, s, "k", now.Add(time.Second)), 3, reset)
	}
	checkCounter(t, "Hit after PeekCounter", mustHit(t, s, "k", w, now.Add(2*time.Second)), 4, reset)
	checkCounter(t, "PeekCounter 1ms before the reset", mustPeek(t, s, "k", reset.Add(-time.Millisecond)), 4, reset)
	checkCounter(t, "PeekCounter at ResetAt", mustPeek(t, s, "k", reset), 0, time.Time{})
	checkCounter(t, "PeekCounter after ResetAt", mustPeek(t, s, "k", reset.Add(time.Hour)), 0, time.Time{})
	checkCounter(t, "PeekCounter(other key)", mustPeek(t, s, "k2", now), 0, time.Time{})

	// Peeking at an ended window does not reset it either: the next hit does.
	checkCounter(t, "Hit after the window", mustHit(t, s, "k", w, reset), 1, reset.Add(w))
}

func testHoldCounter(t *testing.T, s store.Store) {
	const w = time.Minute
	now := t0
	ctx := t.Context()

	// Absent: created with Count 0, held until then.
	until := now.Add(15*time.Minute + 321*time.Microsecond)
	if err := s.HoldCounter(ctx, "cool", until); err != nil {
		t.Fatalf("HoldCounter(absent): %v", err)
	}
	checkCounter(t, "PeekCounter(held)", mustPeek(t, s, "cool", now), 0, until)
	// The held window has not ended, so a hit counts in it.
	checkCounter(t, "Hit(held)", mustHit(t, s, "cool", w, now.Add(time.Minute)), 1, until)
	checkCounter(t, "PeekCounter at the hold's end", mustPeek(t, s, "cool", until), 0, time.Time{})
	checkCounter(t, "Hit at the hold's end", mustHit(t, s, "cool", w, until), 1, until.Add(w))

	// Existing: the window is extended, the count kept.
	reset := now.Add(w)
	mustHit(t, s, "k", w, now)
	mustHit(t, s, "k", w, now)
	held := reset.Add(10 * time.Minute)
	if err := s.HoldCounter(ctx, "k", held); err != nil {
		t.Fatalf("HoldCounter: %v", err)
	}
	checkCounter(t, "PeekCounter after HoldCounter", mustPeek(t, s, "k", reset), 2, held)
	// An earlier (or equal) hold never shortens it.
	for _, earlier := range []time.Time{held, reset, now.Add(-time.Hour)} {
		if err := s.HoldCounter(ctx, "k", earlier); err != nil {
			t.Fatalf("HoldCounter(earlier): %v", err)
		}
	}
	checkCounter(t, "PeekCounter after earlier holds", mustPeek(t, s, "k", reset), 2, held)
	checkCounter(t, "Hit while held", mustHit(t, s, "k", w, reset), 3, held)
}

// testReleaseHit: a released hit is taken back within its window, never below zero, and
// not at all once the window has moved on (a new window, a cooldown) or the key is gone.
func testReleaseHit(t *testing.T, s store.Store) {
	const w = time.Minute
	now := t0
	ctx := t.Context()
	release := func(key string, c store.Counter) {
		t.Helper()
		if err := s.ReleaseHit(ctx, key, c); err != nil {
			t.Fatalf("ReleaseHit(%q): %v", key, err)
		}
	}
	mustHit(t, s, "k", w, now)
	c := mustHit(t, s, "k", w, now)
	release("k", c)
	checkCounter(t, "after one release", mustPeek(t, s, "k", now), 1, now.Add(w))
	release("k", c)
	release("k", c)
	checkCounter(t, "released past zero", mustPeek(t, s, "k", now), 0, now.Add(w))
	checkCounter(t, "Hit after the releases", mustHit(t, s, "k", w, now), 1, now.Add(w))

	// A new window: the old window's release changes nothing.
	old := mustHit(t, s, "k", w, now)
	renewed := mustHit(t, s, "k", w, now.Add(w))
	release("k", old)
	checkCounter(t, "release of the old window", mustPeek(t, s, "k", now.Add(w)), renewed.Count, renewed.ResetAt)

	// A cooldown moved ResetAt: the release is moot.
	held := mustHit(t, s, "h", w, now)
	if err := s.HoldCounter(ctx, "h", now.Add(time.Hour)); err != nil {
		t.Fatalf("HoldCounter: %v", err)
	}
	release("h", held)
	checkCounter(t, "release after a hold", mustPeek(t, s, "h", now), 1, now.Add(time.Hour))

	release("absent", store.Counter{Count: 1, ResetAt: now.Add(w)})
	checkCounter(t, "release of an absent key", mustPeek(t, s, "absent", now), 0, time.Time{})
}

func testResetCounter(t *testing.T, s store.Store) {
	const w = time.Minute
	now := t0
	ctx := t.Context()
	mustHit(t, s, "k", w, now)
	mustHit(t, s, "k", w, now)
	mustHit(t, s, "other", w, now)
	if err := s.HoldCounter(ctx, "held", now.Add(time.Hour)); err != nil {
		t.Fatalf("HoldCounter: %v", err)
	}

	for _, key := range []string{"k", "held"} {
		if err := s.ResetCounter(ctx, key); err != nil {
			t.Fatalf("ResetCounter(%q): %v", key, err)
		}
		checkCounter(t, "PeekCounter after ResetCounter("+key+")", mustPeek(t, s, key, now), 0, time.Time{})
	}
	checkCounter(t, "PeekCounter(other key)", mustPeek(t, s, "other", now), 1, now.Add(w))

	// The next hit starts a new window.
	later := now.Add(time.Second)
	checkCounter(t, "Hit after ResetCounter", mustHit(t, s, "k", w, later), 1, later.Add(w))

	for _, key := range []string{"absent", "held"} {
		if err := s.ResetCounter(ctx, key); err != nil {
			t.Errorf("ResetCounter(%q, absent): %v", key, err)
		}
	}
}

func testPurgeExpired(t *testing.T, s store.Store) {
	const day = 24 * time.Hour
	ctx := t.Context()
	now := t0.Add(60 * day)
	const w = time.Minute

	// Counters: removed once ResetAt <= now.
	mustHit(t, s, "c-live", w, now.Add(-10*time.Second))
	mustHit(t, s, "c-ended", w, now.Add(-2*w))
	mustHit(t, s, "c-ends-now", w, now.Add(-w))
	if err := s.HoldCounter(ctx, "c-held", now.Add(time.Hour)); err != nil {
		t.Fatalf("HoldCounter: %v", err)
	}
	const countersGone = 2

	// Link tokens: removed once expired or used more than a day before now.
	tok := func(hash string, expires time.Time) {
		lt := newLinkToken(hash, "u1", store.LinkConfirm, expires.Add(-7*day))
		lt.ExpiresAt = expires
		mustCreateLinkToken(t, s, lt)
	}
	tok("t-live", now.Add(time.Hour))
	tok("t-expired-recently", now.Add(-time.Hour))
	tok("t-expired-a-day-ago", now.Add(-day))
	tok("t-expired-long-ago", now.Add(-day-time.Millisecond))
	tok("t-used-recently", now.Add(6*day))
	mustConsume(t, s, "t-used-recently", store.LinkConfirm, now.Add(-time.Hour))
	tok("t-used-long-ago", now.Add(6*day)) // not expired yet, but used
	mustConsume(t, s, "t-used-long-ago", store.LinkConfirm, now.Add(-day-time.Millisecond))
	mustCreateLinkToken(t, s, store.LinkToken{
		Hash: "t-voided-long-ago", UserID: "u2", Purpose: store.LinkReset, Email: "b@example.com",
		CreatedAt: now.Add(-3 * day), ExpiresAt: now.Add(day),
	})
	if n, err := s.VoidLinkTokens(ctx, "u2", store.LinkReset, now.Add(-2*day)); err != nil || n != 1 {
		t.Fatalf("VoidLinkTokens = %d, %v; want 1, nil", n, err)
	}
	const tokensGone = 3

	// Sessions: removed once their earlier expiry, or their revocation, is more than a day
	// before now.
	mustCreateUser(t, s, minimalUser("u1", "a@example.com"))
	sess := func(id string, idle, abs time.Time, revoked *time.Time) {
		ss := newSession(id, "u1", now.Add(-40*day))
		ss.IdleExpiresAt, ss.AbsoluteExpiresAt, ss.RevokedAt = idle, abs, revoked
		if revoked != nil {
			ss.RevokedReason = "logout"
		}
		mustCreateSession(t, s, ss)
	}
	future := now.Add(day)
	sess("s-live", future, future, nil)
	sess("s-revoked-recently", future, future, ptr(now.Add(-time.Hour)))
	sess("s-revoked-a-day-ago", future, future, ptr(now.Add(-day)))
	sess("s-revoked-long-ago", future, future, ptr(now.Add(-day-time.Millisecond)))
	sess("s-idle-recently", now.Add(-time.Hour), future, nil)
	sess("s-idle-long-ago", now.Add(-2*day), future, nil)
	sess("s-absolute-long-ago", future, now.Add(-2*day), nil)
	const sessionsGone = 3

	// Mails: sent and failed ones removed once final for more than 7 days, counted from
	// when they became final, not from when they were queued.
	finish := func(id string, at time.Time, sent bool) {
		mustEnqueue(t, s, newMail(id, now.Add(-30*day)))
		mustClaimOne(t, s, id, "w1", at, at.Add(time.Minute))
		var err error
		if sent {
			err = s.MarkMailSent(ctx, id, "w1", at)
		} else {
			err = s.MarkMailFailed(ctx, id, "w1", at, "550 rejected")
		}
		if err != nil {
			t.Fatalf("finishing %s: %v", id, err)
		}
	}
	finish("m-sent-long-ago", now.Add(-7*day-time.Millisecond), true)
	finish("m-sent-7-days-ago", now.Add(-7*day), true)
	finish("m-sent-recently", now.Add(-day), true)
	finish("m-failed-long-ago", now.Add(-8*day), false)
	finish("m-failed-recently", now.Add(-time.Hour), false)
	mustEnqueue(t, s, newMail("m-leased-old", now.Add(-30*day))) // its lease long expired
	mustClaimOne(t, s, "m-leased-old", "w1", now.Add(-20*day), now.Add(-19*day))
	mustEnqueue(t, s, newMail("m-pending-old", now.Add(-30*day)))
	const mailsGone = 2

	n, err := s.PurgeExpired(ctx, now)
	if want := countersGone + tokensGone + sessionsGone + mailsGone; err != nil || n != want {
		t.Fatalf("PurgeExpired = %d, %v; want %d, nil", n, err, want)
	}

	// What is left is intact and what is gone is gone.
	checkCounter(t, "c-live", mustPeek(t, s, "c-live", now), 1, now.Add(-10*time.Second).Add(w))
	checkCounter(t, "c-held", mustPeek(t, s, "c-held", now), 0, now.Add(time.Hour))
	for _, id := range []string{"s-live", "s-revoked-recently", "s-revoked-a-day-ago", "s-idle-recently"} {
		mustSession(t, s, id)
	}
	for _, id := range []string{"s-revoked-long-ago", "s-idle-long-ago", "s-absolute-long-ago"} {
		_, err := s.SessionByID(ctx, id)
		wantErr(t, "SessionByID(purged "+id+")", err, store.ErrNotFound)
	}
	for _, id := range []string{"m-sent-7-days-ago", "m-sent-recently", "m-failed-recently", "m-pending-old", "m-leased-old"} {
		mustMail(t, s, id)
	}
	for _, id := range []string{"m-sent-long-ago", "m-failed-long-ago"} {
		_, err := s.MailByID(ctx, id)
		wantErr(t, "MailByID(purged "+id+")", err, store.ErrNotFound)
	}
	mustUser(t, s, "u1")

	// Nothing more to do at the same instant.
	if n, err := s.PurgeExpired(ctx, now); err != nil || n != 0 {
		t.Errorf("second PurgeExpired = %d, %v; want 0, nil", n, err)
	}
	// The live token still works; the purged expired one is still refused.
	mustConsume(t, s, "t-live", store.LinkConfirm, now)
	consumeFails(t, s, "purged", "t-expired-long-ago", store.LinkConfirm, now)
	// A purged token's hash is free again (it could only collide by chance).
	mustCreateLinkToken(t, s, newLinkToken("t-used-long-ago", "u1", store.LinkConfirm, now))

	// A millisecond later the boundary rows go too.
	n, err = s.PurgeExpired(ctx, now.Add(time.Millisecond))
	if err != nil || n != 3 {
		t.Errorf("PurgeExpired(1ms later) = %d, %v; want 3 (t-expired-a-day-ago, s-revoked-a-day-ago, m-sent-7-days-ago)", n, err)
	}
}
