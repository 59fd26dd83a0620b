package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/toktok/toktok/store"
)

// Every statement of the periodic purge finds its rows through an index: none scans a
// table (or a whole index), whatever the table's size.
func TestPurgeQueriesUseIndexes(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "toktok.db"))
	prepared := map[**sql.Stmt]string{}
	for _, q := range s.queries() {
		prepared[q.dst] = q.query
	}
	for _, tc := range []struct {
		name  string
		query string
		want  []string // in the plan
	}{
		{"purge counters", prepared[&s.st.purgeCounters], []string{"counters_reset (reset_at<?)"}},
		{"purge link tokens", prepared[&s.st.purgeLinkTokens],
			[]string{"MULTI-INDEX OR", "link_tokens_expires (expires_at<?)", "link_tokens_used (used_at<?)"}},
		{"purge sessions", prepared[&s.st.purgeSessions],
			[]string{"MULTI-INDEX OR", "sessions_ends (<expr><?)", "sessions_revoked (revoked_at<?)"}},
		{"purge finished mails", prepared[&s.st.purgeFinishedMail], []string{"mails_finished (state=? AND finished_at<?)"}},
		{"purge audit", purgeAuditSQL, []string{"audit_events_at (at<?)"}},
		{"purge challenges", prepared[&s.st.purgeChallenges], []string{"webauthn_challenges_expires (expires_at<?)"}},
		{"purge pending factors", prepared[&s.st.purgePendingFactors], []string{"mfa_factors_pending (expires_at<?)"}},
		{"deletions to finish", deletionsBeforeSQL, []string{"user_deletions_at (deleted_at<?)"}},
		{"finish: sessions", finishSQL[0], []string{"sessions_user (user_id=?)"}},
		{"finish: link tokens", finishSQL[1], []string{"link_tokens_user (user_id=?)"}},
		{"finish: mails", finishSQL[2], []string{"mails_rcpt (rcpt=? AND created_at<?)"}},
		{"finish: factors", finishSQL[3], []string{"mfa_factors_user (user_id=?)"}},
		{"finish: recovery codes", finishSQL[4], []string{"PRIMARY KEY (user_id=?)"}},
		{"finish: challenges", finishSQL[5], []string{"webauthn_challenges_user (user_id=?)"}},
		{"finish: record", finishSQL[6], []string{"PRIMARY KEY (user_id=?)"}},
		{"unconfirmed accounts", unconfirmedSQL, []string{"users_unconfirmed (created_at<?)"}},
		{"delete unconfirmed", deleteUnconfirmedSQL, []string{"(id=?)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.query == "" {
				t.Fatal("no such prepared statement")
			}
			plan := explain(t, s, tc.query, 1, 2, 3, 4)
			for _, w := range tc.want {
				if !strings.Contains(plan, w) {
					t.Errorf("the plan does not use %s:\n%s\nquery: %s", w, plan, tc.query)
				}
			}
			// SEARCH reads a range of an index; SCAN reads all of a table or an index.
			for line := range strings.SplitSeq(plan, "\n") {
				if strings.HasPrefix(line, "SCAN ") {
					t.Errorf("the plan scans (%s):\n%s\nquery: %s", line, plan, tc.query)
				}
			}
		})
	}
}

// withPurgeBatch sets purgeBatch to n and records the batches (table and rows deleted)
// for the rest of the test.
func withPurgeBatch(t *testing.T, n int, also func(table string, rows int)) *[]string {
	t.Helper()
	oldBatch, oldDone := purgeBatch, purgeBatchDone
	t.Cleanup(func() { purgeBatch, purgeBatchDone = oldBatch, oldDone })
	var batches []string
	purgeBatch = n
	purgeBatchDone = func(table string, rows int, _ time.Duration) {
		batches = append(batches, fmt.Sprintf("%s:%d", table, rows))
		if also != nil {
			also(table, rows)
		}
	}
	return &batches
}

// purgeFixture fills s with, per table, gone rows the purge at purgeAt removes and kept
// ones it keeps: 23 counters (5 kept), 31 link tokens (6 kept), 40 sessions (10 kept),
// 17 mails (4 kept), 11 WebAuthn challenges (2 kept), 9 factors (4 kept: 2 pending, 2
// confirmed), 26 audit events (3 kept) before auditBefore.
var (
	purgeAt     = testTime.Add(60 * 24 * time.Hour)
	auditBefore = purgeAt.Add(-365 * 24 * time.Hour)
)

const (
	countersGone, countersKept     = 18, 5
	tokensGone, tokensKept         = 25, 6
	sessionsGone, sessionsKept     = 30, 10
	mailsGone, mailsKept           = 13, 4
	challengesGone, challengesKept = 9, 2
	factorsGone, factorsKept       = 5, 4
	auditGone, auditKept           = 23, 3

	// purgeGone is what PurgeExpired removes of the fixture.
	purgeGone = countersGone + tokensGone + sessionsGone + mailsGone + challengesGone + factorsGone
)

func purgeFixture(t *testing.T, s *Store) {
	t.Helper()
	ctx := t.Context()
	const day = 24 * time.Hour
	now := purgeAt
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := range countersGone + countersKept {
		at := now.Add(-time.Hour) // its window ended at now - 59 minutes
		if i >= countersGone {
			at = now
		}
		_, err := s.Hit(ctx, fmt.Sprintf("c%03d", i), time.Minute, at)
		must(err)
	}
	for i := range tokensGone + tokensKept {
		lt := store.LinkToken{Hash: fmt.Sprintf("t%03d", i), UserID: "u1", Purpose: store.LinkConfirm,
			Email: "u1@example.com", CreatedAt: now.Add(-10 * day), ExpiresAt: now.Add(day)}
		switch {
		case i >= tokensGone: // live
		case i%2 == 0: // expired two days ago
			lt.ExpiresAt = now.Add(-2 * day)
		default: // used two days ago
			used := now.Add(-2 * day)
			lt.UsedAt = &used
		}
		must(s.CreateLinkToken(ctx, lt))
	}
	for i := range sessionsGone + sessionsKept {
		ss := store.Session{ID: fmt.Sprintf("s%03d", i), UserID: "u1", CreatedAt: now.Add(-40 * day),
			LastUsedAt: now, IdleExpiresAt: now.Add(time.Hour), AbsoluteExpiresAt: now.Add(day), RotatedAt: now}
		switch {
		case i >= sessionsGone: // live
		case i%3 == 0:
			ss.IdleExpiresAt = now.Add(-2 * day)
		case i%3 == 1:
			ss.AbsoluteExpiresAt = now.Add(-2 * day)
		default:
			revoked := now.Add(-2 * day)
			ss.RevokedAt, ss.RevokedReason = &revoked, "logout"
		}
		must(s.CreateSession(ctx, ss))
	}
	for i := range mailsGone + mailsKept {
		must(s.EnqueueMail(ctx, store.Mail{ID: fmt.Sprintf("m%03d", i), To: "u1@example.com",
			CreatedAt: now.Add(-30 * day), NextAttemptAt: now.Add(-30 * day)}))
	}
	claimed, err := s.ClaimMails(ctx, "w1", now.Add(-20*day), now.Add(-20*day).Add(time.Minute), mailsGone+mailsKept)
	must(err)
	if len(claimed) != mailsGone+mailsKept {
		t.Fatalf("claimed %d mails, want %d", len(claimed), mailsGone+mailsKept)
	}
	for i := range mailsGone + mailsKept {
		id := fmt.Sprintf("m%03d", i)
		at := now.Add(-20 * day)
		if i >= mailsGone {
			at = now.Add(-day)
		}
		if i%2 == 0 {
			must(s.MarkMailSent(ctx, id, "w1", at))
		} else {
			must(s.MarkMailFailed(ctx, id, "w1", at, "550 rejected"))
		}
	}
	mfaPurgeFixture(t, s)
	for i := range auditGone + auditKept {
		at := auditBefore.Add(-time.Hour)
		if i >= auditGone {
			at = auditBefore
		}
		must(s.AppendAudit(ctx, store.AuditEvent{ID: fmt.Sprintf("e%03d", i), At: at, Type: "login", Outcome: "success", UserID: "u1"}))
	}
}

// mfaPurgeFixture is purgeFixture's challenges and factors: expired challenges go, pending
// factors expired two days ago go, and confirmed factors stay however old.
func mfaPurgeFixture(t *testing.T, s *Store) {
	t.Helper()
	ctx := t.Context()
	const day = 24 * time.Hour
	now := purgeAt
	if err := s.CreateUser(ctx, testUser("u1")); err != nil {
		t.Fatal(err)
	}
	for i := range challengesGone + challengesKept {
		c := store.Challenge{ID: fmt.Sprintf("ch%03d", i), Kind: store.ChallengeMFA, UserID: "u1",
			CreatedAt: now.Add(-time.Hour), ExpiresAt: now.Add(-time.Minute)}
		if i >= challengesGone {
			c.ExpiresAt = now // kept: expired, but not before now
		}
		if err := s.CreateChallenge(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	for i := range factorsGone + factorsKept {
		expires := now.Add(-2 * day)
		f := store.Factor{ID: fmt.Sprintf("f%03d", i), UserID: "u1", Type: store.FactorTOTP,
			CreatedAt: now.Add(-3 * day), ExpiresAt: &expires}
		switch i - factorsGone {
		case 0, 1: // pending, expired less than a day ago
			expires = now.Add(-day)
		case 2, 3: // confirmed
			f.Confirmed = true
		}
		if err := s.CreateFactor(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
}

// rowsIn counts table's rows.
func rowsIn(t *testing.T, s *Store, table string) int {
	t.Helper()
	var n int
	if err := s.db.QueryRowContext(t.Context(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// A purge of many more rows than a batch deletes them all, a batch at a time, and counts
// them; what it must keep is kept.
func TestPurgeDeletesInBatches(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "toktok.db"))
	purgeFixture(t, s)
	const batch = 4
	batches := withPurgeBatch(t, batch, nil)

	n, err := s.PurgeExpired(t.Context(), purgeAt)
	if want := purgeGone; err != nil || n != want {
		t.Fatalf("PurgeExpired = %d, %v; want %d, nil", n, err, want)
	}
	// Full batches, then one short batch (maybe empty) that ends each table.
	var want []string
	for _, tb := range []struct {
		name string
		gone int
	}{{"counters", countersGone}, {"link_tokens", tokensGone}, {"sessions", sessionsGone}, {"mails", mailsGone},
		{"webauthn_challenges", challengesGone}, {"mfa_factors", factorsGone}} {
		for range tb.gone / batch {
			want = append(want, fmt.Sprintf("%s:%d", tb.name, batch))
		}
		want = append(want, fmt.Sprintf("%s:%d", tb.name, tb.gone%batch))
	}
	if got := strings.Join(*batches, " "); got != strings.Join(want, " ") {
		t.Errorf("batches:\n%s\nwant:\n%s", got, strings.Join(want, " "))
	}
	for table, kept := range map[string]int{"counters": countersKept, "link_tokens": tokensKept, "sessions": sessionsKept,
		"mails": mailsKept, "webauthn_challenges": challengesKept, "mfa_factors": factorsKept} {
		if got := rowsIn(t, s, table); got != kept {
			t.Errorf("%s: %d rows left, want %d", table, got, kept)
		}
	}

	*batches = nil
	n, err = s.PurgeAudit(t.Context(), auditBefore)
	if err != nil || n != auditGone {
		t.Fatalf("PurgeAudit = %d, %v; want %d, nil", n, err, auditGone)
	}
	if len(*batches) != auditGone/batch+1 {
		t.Errorf("PurgeAudit batches: %v, want %d", *batches, auditGone/batch+1)
	}
	if got := rowsIn(t, s, "audit_events"); got != auditKept {
		t.Errorf("audit events: %d left, want %d", got, auditKept)
	}

	// Nothing left to do: one empty batch each.
	*batches = nil
	if n, err := s.PurgeExpired(t.Context(), purgeAt); err != nil || n != 0 {
		t.Errorf("second PurgeExpired = %d, %v; want 0, nil", n, err)
	}
	if got := strings.Join(*batches, " "); got != "counters:0 link_tokens:0 sessions:0 mails:0 webauthn_challenges:0 mfa_factors:0" {
		t.Errorf("second PurgeExpired batches: %s", got)
	}
}

// Between two batches the purge holds no transaction: other writers get the write lock
// at once. Here, from inside the purge (after its first sessions batch), a refresh of a
// session, a new session and a login count commit while the purge has sessions left to
// delete. Were the batches one transaction, each write would wait for the purge, which
// waits for the write: it would fail after the busy timeout with ErrUnavailable.
func TestPurgeLetsWritersInBetweenBatches(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "toktok.db"))
	purgeFixture(t, s)
	ctx := t.Context()
	const batch = 4
	var (
		wrote       bool
		leftAtWrite int
	)
	withPurgeBatch(t, batch, func(table string, _ int) {
		if table != "sessions" || wrote {
			return
		}
		wrote = true
		live := fmt.Sprintf("s%03d", sessionsGone) // the first live session
		if _, err := s.AdvanceSession(ctx, live, 0, purgeAt, purgeAt.Add(time.Hour)); err != nil {
			t.Errorf("AdvanceSession during the purge: %v", err)
		}
		ss := store.Session{ID: "s-new", UserID: "u1", CreatedAt: purgeAt, LastUsedAt: purgeAt,
			IdleExpiresAt: purgeAt.Add(time.Hour), AbsoluteExpiresAt: purgeAt.Add(24 * time.Hour), RotatedAt: purgeAt}
		if err := s.CreateSession(ctx, ss); err != nil {
			t.Errorf("CreateSession during the purge: %v", err)
		}
		if _, err := s.Hit(ctx, "login:u1", time.Minute, purgeAt); err != nil {
			t.Errorf("Hit during the purge: %v", err)
		}
		leftAtWrite = rowsIn(t, s, "sessions")
	})

	n, err := s.PurgeExpired(ctx, purgeAt)
	if want := purgeGone; err != nil || n != want {
		t.Fatalf("PurgeExpired = %d, %v; want %d, nil", n, err, want)
	}
	if !wrote {
		t.Fatal("the purge deleted no sessions batch")
	}
	// The writes were committed with expired sessions still in the table: the purge was
	// under way, not done.
	if want := sessionsGone - batch + sessionsKept + 1; leftAtWrite != want {
		t.Errorf("sessions when the writes committed: %d, want %d (one batch purged, one created)", leftAtWrite, want)
	}
	if sess, err := s.SessionByID(ctx, fmt.Sprintf("s%03d", sessionsGone)); err != nil || sess.Counter != 1 {
		t.Errorf("refreshed session after the purge = %+v, %v; want counter 1", sess, err)
	}
	if _, err := s.SessionByID(ctx, "s-new"); err != nil {
		t.Errorf("session created during the purge: %v", err)
	}
	if got := rowsIn(t, s, "sessions"); got != sessionsKept+1 {
		t.Errorf("sessions left: %d, want %d", got, sessionsKept+1)
	}
}

// A canceled context stops the purge between batches: what was deleted stays deleted
// and is counted, the rest waits for the next pass.
func TestPurgeStopsWhenCanceled(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "toktok.db"))
	purgeFixture(t, s)
	const batch = 4
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	batches := withPurgeBatch(t, batch, func(string, int) { cancel() })

	n, err := s.PurgeExpired(ctx, purgeAt)
	if !errors.Is(err, store.ErrUnavailable) || n != batch {
		t.Errorf("canceled PurgeExpired = %d, %v; want %d and ErrUnavailable", n, err, batch)
	}
	if len(*batches) != 1 {
		t.Errorf("batches after the cancellation: %v, want one", *batches)
	}
	if got := rowsIn(t, s, "counters"); got != countersGone+countersKept-batch {
		t.Errorf("counters left: %d, want %d", got, countersGone+countersKept-batch)
	}
	if got := rowsIn(t, s, "sessions"); got != sessionsGone+sessionsKept {
		t.Errorf("sessions left: %d, want all %d", got, sessionsGone+sessionsKept)
	}

	ctx, cancel = context.WithCancel(t.Context())
	defer cancel()
	*batches = nil
	n, err = s.PurgeAudit(ctx, auditBefore)
	if !errors.Is(err, store.ErrUnavailable) || n != batch || len(*batches) != 1 {
		t.Errorf("canceled PurgeAudit = %d, %v after %v; want %d and ErrUnavailable after one batch", n, err, *batches, batch)
	}

	// The next pass does the rest.
	purgeBatchDone = nil
	n, err = s.PurgeExpired(t.Context(), purgeAt)
	if want := purgeGone - batch; err != nil || n != want {
		t.Errorf("next PurgeExpired = %d, %v; want %d, nil", n, err, want)
	}
}

// BeginUnconfirmedDeletions deletes unconfirmedChunk accounts a transaction, oldest first,
// and returns every deletion of its limit.
func TestBeginUnconfirmedDeletionsInChunks(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "toktok.db"))
	ctx := t.Context()
	old := unconfirmedChunk
	unconfirmedChunk = 3
	t.Cleanup(func() { unconfirmedChunk = old })
	for i := range 11 {
		u := testUser(fmt.Sprintf("u%02d", i))
		u.CreatedAt = testTime.Add(time.Duration(i) * time.Minute)
		u.EmailConfirmed = i == 4 // kept
		if err := s.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	cutoff := testTime.Add(time.Hour)
	ds, err := s.BeginUnconfirmedDeletions(ctx, cutoff, cutoff, 8)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range ds {
		got = append(got, d.UserID)
	}
	if want := "u00 u01 u02 u03 u05 u06 u07 u08"; strings.Join(got, " ") != want {
		t.Errorf("deleted %v, want %s", got, want)
	}
	if n := rowsIn(t, s, "user_deletions"); n != 8 {
		t.Errorf("deletion records: %d, want 8", n)
	}
	if n := rowsIn(t, s, "users"); n != 3 { // u04, u09, u10
		t.Errorf("users left: %d, want 3", n)
	}
}

// The purge commits its batches without SQLite's automatic checkpoint (which would run in
// its COMMIT, after the lock is released, and count as lock time) and checkpoints after
// each batch instead: the WAL is copied into the database as the purge goes, and the
// connection it used goes back to the pool checkpointing automatically again.
func TestPurgeCheckpointsBetweenBatches(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "toktok.db"))
	purgeFixture(t, s)
	batches := withPurgeBatch(t, 4, nil)
	var checkpoints, lastLog, lastCopied int
	old := purgeCheckpointDone
	t.Cleanup(func() { purgeCheckpointDone = old })
	purgeCheckpointDone = func(logFrames, copied int, _ time.Duration) {
		checkpoints++
		lastLog, lastCopied = logFrames, copied
	}
	// Inside a batch (the hook runs between the batch's commit and the checkpoint), the
	// purge's connection has automatic checkpoints off.
	purgeBatchDone = func(table string, rows int, _ time.Duration) {
		*batches = append(*batches, fmt.Sprintf("%s:%d", table, rows))
	}
	p, err := s.purgeConn(t.Context(), "test")
	if err != nil {
		t.Fatal(err)
	}
	var pages int
	if err := p.c.QueryRowContext(t.Context(), `PRAGMA wal_autocheckpoint`).Scan(&pages); err != nil || pages != 0 {
		t.Fatalf("purge connection: wal_autocheckpoint %d, %v; want 0", pages, err)
	}
	p.release()

	if _, err := s.PurgeExpired(t.Context(), purgeAt); err != nil {
		t.Fatal(err)
	}
	if checkpoints != len(*batches) {
		t.Errorf("%d checkpoints for %d batches, want one after each", checkpoints, len(*batches))
	}
	if lastLog == 0 || lastCopied != lastLog {
		t.Errorf("last checkpoint: %d of %d frames copied, want all (no reader holds them)", lastCopied, lastLog)
	}
	// Every connection of the pool (all checked out at once, so the purge's is among
	// them) checkpoints automatically again.
	n := s.db.Stats().MaxOpenConnections
	conns := make([]*sql.Conn, n)
	for i := range conns {
		c, err := s.db.Conn(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns[i] = c
		if err := c.QueryRowContext(t.Context(), `PRAGMA wal_autocheckpoint`).Scan(&pages); err != nil || pages != 1000 {
			t.Errorf("connection %d: wal_autocheckpoint %d, %v; want SQLite's 1000", i, pages, err)
		}
	}
}

// The batch size follows the lock holds: halved after a batch over purgeHoldTarget (not
// below purgeBatchMin), doubled after one under half of it (not above purgeBatch), kept
// in between.
func TestNextPurgeLimit(t *testing.T) {
	for _, c := range []struct {
		limit int
		held  time.Duration
		want  int
	}{
		{100, 45 * time.Millisecond, 50},
		{50, 21 * time.Millisecond, 25},
		{12, 30 * time.Millisecond, purgeBatchMin},
		{purgeBatchMin, 200 * time.Millisecond, purgeBatchMin},
		{25, 15 * time.Millisecond, 25},
		{25, 20 * time.Millisecond, 25},
		{25, 9 * time.Millisecond, 50},
		{60, 2 * time.Millisecond, 100},
		{100, time.Millisecond, 100},
	} {
		if got := nextPurgeLimit(c.limit, c.held); got != c.want {
			t.Errorf("nextPurgeLimit(%d, %v) = %d, want %d", c.limit, c.held, got, c.want)
		}
	}
}
