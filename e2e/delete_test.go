package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/toktok/toktok/store"
)

// deleteAccount over HTTP: the current password decides; the account is gone at once
// (login, refresh, access tokens, links), its queued mails with it; a notice goes to the
// address, which registers again at once. A crash after the first step leaves nothing
// usable, and the purge finishes the deletion.

// deleteReq sends deleteAccount with currentPassword as given.
func deleteReq(e *testEnv, bearer, current string) gqlResponse {
	e.t.Helper()
	return e.gql(bearer, `mutation($c: String!) { deleteAccount(currentPassword: $c) }`, map[string]any{"c": current})
}

// deleteOK deletes bearer's account with its (encrypted) password.
func deleteOK(e *testEnv, bearer, password string) {
	e.t.Helper()
	var resp struct{ DeleteAccount bool }
	e.mustData(deleteReq(e, bearer, e.enc(password)), &resp)
	if !resp.DeleteAccount {
		e.t.Fatal("deleteAccount = false")
	}
}

// deleteWantGone checks that nothing of a deleted account signs in: its password, its
// refresh tokens, its access tokens.
func deleteWantGone(e *testEnv, email string, sessions ...authPayload) {
	e.t.Helper()
	e.wantCode(e.loginReq(email, strongPassword), "INVALID_CREDENTIALS")
	for _, s := range sessions {
		e.wantCode(e.refreshReq(s.RefreshToken), "INVALID_REFRESH_TOKEN")
		e.wantCode(mailSessions(e, s.AccessToken), "UNAUTHENTICATED")
		e.wantCode(e.meReq(s.AccessToken), "UNAUTHENTICATED")
	}
}

func TestDeleteAccount(t *testing.T) {
	sink := startMailSink(t)
	e := mailEnv(t, sink, nil)

	a := e.register("ann@example.com", strongPassword)
	// Confirmed with its token, so that the session stays (confirming ends the others).
	e.mustData(mailConfirmAs(e, a.AccessToken, mailNext(t, sink, "ann@example.com").Token()), nil)
	b := e.login("ann@example.com", strongPassword)
	e.register("bob@example.com", strongPassword)
	bob := e.login("bob@example.com", strongPassword)
	mailNext(t, sink, "bob@example.com")
	queued := e.outboxCount("ann@example.com")

	// Refused: no account token, a wrong password, an undecryptable one. The account
	// stays as it was, and nobody is mailed.
	e.wantCode(deleteReq(e, "", e.enc(strongPassword)), "UNAUTHENTICATED")
	e.wantCode(deleteReq(e, a.AccessToken, e.enc("not my password at all")), "INVALID_CREDENTIALS")
	e.wantCode(deleteReq(e, a.AccessToken, strongPassword), "INVALID_CREDENTIALS") // --salt: not a ciphertext
	e.wantCode(deleteReq(e, a.AccessToken, "bm90IGEgY2lwaGVydGV4dA=="), "INVALID_CREDENTIALS")
	mailWantLive(e, a.AccessToken)
	e.refresh(b.RefreshToken)
	e.wantOutboxCount("ann@example.com", queued)

	deleteOK(e, a.AccessToken, strongPassword)
	notice := mailNext(t, sink, "ann@example.com")
	mailCheckNoToken(t, notice)
	if !strings.Contains(notice.Subject, "account was deleted") || !strings.Contains(notice.Text, "ann@example.com") {
		t.Errorf("notice %q:\n%s", notice.Subject, notice.Text)
	}
	// b was refreshed above: its newest tokens are the ones that must fail now.
	deleteWantGone(e, "ann@example.com", a, b)
	e.wantCode(deleteReq(e, a.AccessToken, e.enc(strongPassword)), "UNAUTHENTICATED")
	// Another account is untouched.
	mailWantLive(e, bob.AccessToken)

	// The address registers again at once: a new account, with a confirmation of its own.
	again := e.register("ann@example.com", strongPassword)
	if again.User.ID == a.User.ID || again.User.EmailConfirmed {
		t.Errorf("registered again as %+v, want a new, unconfirmed account", again.User)
	}
	mailNext(t, sink, "ann@example.com")
	mailWantLive(e, again.AccessToken)

	// The audit log keeps the deleted account's history, the deletion included.
	evs, err := e.app.Support().Audit(t.Context(), a.User.ID, 100)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, ev := range evs {
		types = append(types, ev.Type+":"+ev.Outcome)
	}
	if got := strings.Join(types, " "); !strings.Contains(got, "account_deleted:success") || !strings.Contains(got, "register:success") {
		t.Errorf("audit events of the deleted account: %s", got)
	}
	sink.wantNoMoreMail(e, "ann@example.com", "bob@example.com")
}

// deleteLinkHash is the stored key of an email-link token.
func deleteLinkHash(raw string) string {
	sum := sha256.Sum256([]byte(raw))
	return hex.EncodeToString(sum[:])
}

// deleteUnsent returns the link token of the one pending mail to addr, read through the
// outbox without sending it (the app runs no worker).
func deleteUnsent(t *testing.T, e *testEnv, addr string) (store.Mail, string) {
	t.Helper()
	ms := e.outboxTo(addr)
	if len(ms) != 1 || ms[0].State != store.MailPending {
		t.Fatalf("outbox to %s: %d mails, want one pending", addr, len(ms))
	}
	opened, err := e.app.Support().OpenMail(ms[0])
	if err != nil {
		t.Fatal(err)
	}
	_, tok, ok := strings.Cut(opened.Text, "token=")
	if !ok {
		t.Fatalf("the %s mail carries no link", ms[0].Kind)
	}
	tok, _, _ = strings.Cut(tok, "\n")
	return ms[0], strings.TrimSpace(tok)
}

// Mails queued for the account and not sent yet are deleted with it; the notice is not.
func TestDeleteAccountQueuedMails(t *testing.T) {
	cfg := testConfig(t)
	e, _, _ := mailStartEnv(t, cfg, newTestClock(), true) // no worker: mails stay queued
	a := e.register("ann@example.com", strongPassword)
	confirm, tok := deleteUnsent(t, e, "ann@example.com")
	e.clock.Advance(time.Minute)

	deleteOK(e, a.AccessToken, strongPassword)
	ms := e.outboxTo("ann@example.com")
	if len(ms) != 1 || ms[0].Kind != "account_deleted" || ms[0].State != store.MailPending || ms[0].ID == confirm.ID {
		var kinds []string
		for _, m := range ms {
			kinds = append(kinds, m.Kind)
		}
		t.Fatalf("outbox to the deleted address: %v, want only the deletion notice", kinds)
	}
	if _, err := e.app.Support().LinkToken(t.Context(), deleteLinkHash(tok), store.LinkConfirm); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the confirmation link after the deletion: %v, want it removed", err)
	}
	mailWantInvalidToken(e, mailConfirm(e, tok))
}

// A crash right after the first step (simulated by running only that step): the account is
// already unusable and its address free; the purge removes what the crash left.
func TestDeleteAccountCrashBetweenSteps(t *testing.T) {
	cfg := testConfig(t)
	e, _, _ := mailStartEnv(t, cfg, newTestClock(), true)
	st := e.app.Support()
	a := e.register("ann@example.com", strongPassword)
	b := e.login("ann@example.com", strongPassword)
	_, tok := deleteUnsent(t, e, "ann@example.com")
	var sess struct{ MySessions []struct{ ID string } }
	e.mustData(mailSessions(e, a.AccessToken), &sess)
	if len(sess.MySessions) != 2 {
		t.Fatalf("sessions before the deletion: %+v", sess.MySessions)
	}
	e.clock.Advance(time.Minute)

	if _, err := st.BeginUserDeletion(t.Context(), a.User.ID); err != nil {
		t.Fatal(err)
	}
	// Unusable at once, though its rows are still there.
	deleteWantGone(e, "ann@example.com", a, b)
	for _, s := range sess.MySessions {
		if _, err := st.Session(t.Context(), s.ID); err != nil {
			t.Fatalf("session %s before the purge: %v (the crash left it)", s.ID, err)
		}
	}
	if _, err := st.LinkToken(t.Context(), deleteLinkHash(tok), store.LinkConfirm); err != nil {
		t.Fatalf("the confirmation link before the purge: %v (the crash left it)", err)
	}
	if n := len(e.outboxTo("ann@example.com")); n != 1 {
		t.Fatalf("%d mails to the address before the purge, want the confirmation", n)
	}

	// The purge, at its next run, finishes the deletion.
	e.clock.Advance(time.Minute)
	st.Purge(t.Context())
	for _, s := range sess.MySessions {
		if _, err := st.Session(t.Context(), s.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("session %s after the purge: %v, want it removed", s.ID, err)
		}
	}
	if _, err := st.LinkToken(t.Context(), deleteLinkHash(tok), store.LinkConfirm); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the confirmation link after the purge: %v, want it removed", err)
	}
	if n := len(e.outboxTo("ann@example.com")); n != 0 {
		t.Errorf("%d mails to the address after the purge, want none", n)
	}
	mailWantInvalidToken(e, mailConfirm(e, tok))

	// The address is free; a new account there is none of the old one's business.
	again := e.register("ann@example.com", strongPassword)
	e.clock.Advance(time.Minute)
	st.Purge(t.Context())
	mailWantLive(e, again.AccessToken)
	if n := len(e.outboxTo("ann@example.com")); n != 1 {
		t.Errorf("%d mails to the address after a second purge, want the new account's confirmation", n)
	}
}
