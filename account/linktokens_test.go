package account

import (
	"bytes"
	"errors"
	"os"
	"testing"

	"github.com/toktok/toktok/mailer"
	"github.com/toktok/toktok/store"
)

// TestLinkTokensStoredHashed: an email-link token is stored only as its SHA-256 hash.
// After each flow that mails a link, the raw token (read from the mail, as its reader
// would) occurs nowhere in the SQLite database, its WAL or its shared-memory index, while
// the hex hash does; and the store finds the link by the hash, never by the raw token.
func TestLinkTokensStoredHashed(t *testing.T) {
	for _, tc := range []struct {
		name    string
		run     func(f *fixture, tok Tokens) error
		kind    string
		to      string
		purpose store.LinkPurpose
	}{
		{"register", func(*fixture, Tokens) error { return nil }, mailer.KindConfirm, "ann@example.com", store.LinkConfirm},
		{"resendConfirmation", func(f *fixture, tok Tokens) error {
			_, err := f.svc.ResendConfirmation(f.t.Context(), f.principal(tok))
			return err
		}, mailer.KindConfirm, "ann@example.com", store.LinkConfirm},
		{"forgotPassword", func(f *fixture, _ Tokens) error {
			err := f.svc.ForgotPassword(f.t.Context(), "ann@example.com", nil)
			f.svc.Wait()
			return err
		}, mailer.KindReset, "ann@example.com", store.LinkReset},
		{"changeEmail", func(f *fixture, tok Tokens) error {
			return f.svc.ChangeEmail(f.t.Context(), f.principal(tok), "new@example.com", strongPW)
		}, mailer.KindEmailChange, "new@example.com", store.LinkEmailChange},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			tok := f.register("ann@example.com", strongPW)
			if tc.name != "register" {
				f.mails() // the signup confirmation
			}
			if err := tc.run(f, tok); err != nil {
				t.Fatal(err)
			}
			var raw string
			for _, m := range f.mails() {
				if m.Kind == tc.kind && m.To == tc.to {
					raw = linkToken(t, m)
				}
			}
			if raw == "" {
				t.Fatalf("no %s mail to %s", tc.kind, tc.to)
			}
			hash := hashLinkToken(raw)

			db := f.storedBytes()
			if bytes.Contains(db, []byte(raw)) {
				t.Errorf("the raw %s token is in the database files", tc.purpose)
			}
			if !bytes.Contains(db, []byte(hash)) {
				t.Errorf("the SHA-256 hash of the %s token is not in the database files", tc.purpose)
			}
			now := f.clock.Now()
			if _, err := f.store.LinkToken(t.Context(), hash, tc.purpose, now); err != nil {
				t.Errorf("LinkToken(hash) = %v, want the stored link", err)
			}
			if _, err := f.store.LinkToken(t.Context(), raw, tc.purpose, now); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("LinkToken(raw) = %v, want ErrNotFound", err)
			}
		})
	}
}

// storedBytes is everything the SQLite store holds on disk: the database file, its WAL
// (where recent writes sit until a checkpoint) and its shared-memory index.
func (f *fixture) storedBytes() []byte {
	f.t.Helper()
	var all []byte
	for _, suffix := range []string{"", "-wal", "-shm"} {
		b, err := os.ReadFile(f.dbPath + suffix)
		if errors.Is(err, os.ErrNotExist) && suffix != "" {
			continue
		}
		if err != nil {
			f.t.Fatal(err)
		}
		all = append(all, b...)
	}
	return all
}
