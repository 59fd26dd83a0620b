package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/toktok/toktok/config"
)

// Unconfirmed accounts: the purge deletes an account whose address is still unconfirmed
// --unconfirmed-ttl after its creation (no notice: the address was never proven), with an
// audit event; its address registers again. A confirmed account of the same age stays;
// --unconfirmed-ttl=0 keeps every account, and the confirmation mail then says nothing of
// a deletion.

// unconfirmedWantEvent checks that the deleted user has an unconfirmed_deleted event.
func unconfirmedWantEvent(t *testing.T, e *testEnv, userID string) {
	t.Helper()
	evs, err := e.app.Support().Audit(t.Context(), userID, 20)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		if ev.Type == "unconfirmed_deleted" {
			if ev.Outcome != "success" || ev.UserID != userID {
				t.Errorf("event %+v", ev)
			}
			return
		}
	}
	t.Errorf("no unconfirmed_deleted event for %s among %+v", userID, evs)
}

func TestUnconfirmedAccountsPurged(t *testing.T) {
	for _, tc := range []struct {
		name     string
		ttl      time.Duration // --unconfirmed-ttl; -1: left at its default
		after    time.Duration // when the account goes (0: never)
		sentence string        // what the confirmation mail says of it ("" : nothing)
	}{
		{"default", -1, 7 * 24 * time.Hour, "an unconfirmed account is deleted 7 days after it was created"},
		{"1h", time.Hour, time.Hour, "an unconfirmed account is deleted 1 hour after it was created"},
		{"off", 0, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sink := startMailSink(t)
			e := mailEnv(t, sink, func(c *config.Config) {
				if tc.ttl >= 0 {
					c.Store.UnconfirmedTTL = tc.ttl
				}
			})
			st := e.app.Support()
			ann := e.register("ann@example.com", strongPassword)
			annMail := mailNext(t, sink, "ann@example.com")
			bob := e.register("bob@example.com", strongPassword)
			e.mustData(mailConfirmAs(e, bob.AccessToken, mailNext(t, sink, "bob@example.com").Token()), nil)
			if tc.sentence != "" && !strings.Contains(strings.Join(strings.Fields(annMail.Text), " "), tc.sentence) {
				t.Errorf("the confirmation mail lacks %q:\n%s", tc.sentence, annMail.Text)
			}
			if tc.sentence == "" && strings.Contains(annMail.Text, "delete") {
				t.Errorf("the confirmation mail speaks of a deletion with --unconfirmed-ttl=0:\n%s", annMail.Text)
			}

			// Just before the period: kept.
			wait := tc.after
			if wait == 0 {
				wait = 3 * 365 * 24 * time.Hour
			}
			e.clock.Advance(wait - time.Minute)
			st.Purge(t.Context())
			e.login("ann@example.com", strongPassword)

			e.clock.Advance(2 * time.Minute)
			st.Purge(t.Context())
			e.login("bob@example.com", strongPassword) // confirmed: kept, whatever its age
			if tc.after == 0 {
				mailWantLive(e, e.login("ann@example.com", strongPassword).AccessToken)
				return
			}
			deleteWantGone(e, "ann@example.com", ann)
			unconfirmedWantEvent(t, e, ann.User.ID)
			for _, m := range e.outboxTo("ann@example.com") {
				if m.Kind != "confirm" {
					t.Errorf("a %s mail to the deleted address, want no notice", m.Kind)
				}
			}
			// The address registers again; the new account is young, so kept.
			again := e.register("ann@example.com", strongPassword)
			mailNext(t, sink, "ann@example.com")
			st.Purge(t.Context())
			mailWantLive(e, again.AccessToken)
		})
	}
}
