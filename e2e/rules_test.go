package e2e

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/url"
	"os"
	"reflect"
	"testing"

	"github.com/toktok/toktok/config"
	"github.com/toktok/toktok/password"
	"github.com/toktok/toktok/store"
)

// Rules of SECURITY.md checked over HTTP, each by a test that fails when the rule is
// removed from the code (issue 8).

// rulesSeed stores a confirmed account with pw, disabled or not, as an admin's tools would
// leave it.
func rulesSeed(t *testing.T, e *testEnv, email, pw string, disabled bool) {
	t.Helper()
	hash, err := password.New(e.app.Support().HashParams(), 1).Hash(t.Context(), pw)
	if err != nil {
		t.Fatal(err)
	}
	now := e.clock.Now().UTC()
	u := store.User{
		ID: rand.Text(), Email: email, PasswordHash: hash, Role: store.RoleUser, Lang: "en",
		EmailConfirmed: true, Disabled: disabled, CreatedAt: now, UpdatedAt: now,
	}
	if err := e.app.Support().SeedUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
}

// rulesShape is the structure of a decoded JSON value: its object keys, recursively, with
// every other value reduced to its JSON type.
func rulesShape(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[k] = rulesShape(x)
		}
		return out
	case []any:
		return "array"
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "bool"
	case nil:
		return "null"
	}
	return "?"
}

// TestRulesLoginAnswersAlike: login answers a confirmed, an unconfirmed, a disabled and
// an unknown account the same (status and body, byte for byte) when the password is
// wrong; with the right password the confirmed and unconfirmed accounts both sign in with
// payloads of one shape, the disabled one answers ACCOUNT_DISABLED (only now, the password
// being right) and the unknown one still answers as a wrong password.
func TestRulesLoginAnswersAlike(t *testing.T) {
	e := newTestEnv(t, nil) // --salt and --anojwt on, as by default
	rulesSeed(t, e, "confirmed@example.com", strongPassword, false)
	rulesSeed(t, e, "disabled@example.com", strongPassword, true)
	e.register("unconfirmed@example.com", strongPassword)
	accounts := []string{"confirmed@example.com", "unconfirmed@example.com", "disabled@example.com", "unknown@example.com"}

	wrong := e.loginReq("unknown@example.com", "not the right passphrase")
	e.wantCode(wrong, "INVALID_CREDENTIALS")
	for _, addr := range accounts {
		r := e.loginReq(addr, "not the right passphrase")
		if r.Status != wrong.Status || !bytes.Equal(r.Raw, wrong.Raw) {
			t.Errorf("wrong password for %s answered %d %s; for an unknown address %d %s", addr, r.Status, r.Raw, wrong.Status, wrong.Raw)
		}
	}

	shapes := map[string]any{}
	for addr, confirmed := range map[string]bool{"confirmed@example.com": true, "unconfirmed@example.com": false} {
		r := e.loginReq(addr, strongPassword)
		var data struct{ Login map[string]any }
		e.mustData(r, &data)
		user, _ := data.Login["user"].(map[string]any)
		if user["email"] != addr || user["emailConfirmed"] != confirmed {
			t.Errorf("login of %s answered user %v", addr, user)
		}
		shapes[addr] = rulesShape(data.Login)
	}
	if !reflect.DeepEqual(shapes["confirmed@example.com"], shapes["unconfirmed@example.com"]) {
		t.Errorf("sign-in payloads differ in shape: confirmed %v, unconfirmed %v", shapes["confirmed@example.com"], shapes["unconfirmed@example.com"])
	}

	off := e.wantCode(e.loginReq("disabled@example.com", strongPassword), "ACCOUNT_DISABLED")
	if off.Message != "this account is disabled" || !reflect.DeepEqual(off.Extensions, map[string]any{"code": "ACCOUNT_DISABLED"}) {
		t.Errorf("disabled account, right password: %q %v", off.Message, off.Extensions)
	}
	if r := e.loginReq("unknown@example.com", strongPassword); r.Status != wrong.Status || !bytes.Equal(r.Raw, wrong.Raw) {
		t.Errorf("unknown address answered %d %s; a wrong password %d %s", r.Status, r.Raw, wrong.Status, wrong.Raw)
	}
}

// TestRulesForgotPasswordAnswersAlike: forgotPassword answers true, with no error and the
// same bytes, for an unknown, an unconfirmed, a confirmed and a disabled address.
func TestRulesForgotPasswordAnswersAlike(t *testing.T) {
	e := newTestEnv(t, nil)
	rulesSeed(t, e, "confirmed@example.com", strongPassword, false)
	rulesSeed(t, e, "disabled@example.com", strongPassword, true)
	e.register("unconfirmed@example.com", strongPassword)

	const want = `{"data":{"forgotPassword":true}}`
	answers := map[string][]string{}
	for _, addr := range []string{"unknown@example.com", "unconfirmed@example.com", "confirmed@example.com", "disabled@example.com"} {
		r := e.gql(e.anon(), `mutation($e: String!) { forgotPassword(email: $e) }`, map[string]any{"e": e.enc(addr)})
		answers[string(r.Raw)] = append(answers[string(r.Raw)], addr)
	}
	e.app.Support().Settle()
	if len(answers) != 1 || answers[want] == nil {
		t.Errorf("forgotPassword answered %d ways %v, want every address %s", len(answers), answers, want)
	}
}

// TestRulesLinkTokensStoredHashed: the token of a mailed link is known to the store only
// by its SHA-256 hash: the store finds the link by the hash and not by the raw token, and
// on SQLite the raw token occurs in none of the database's files while the hex hash does.
func TestRulesLinkTokensStoredHashed(t *testing.T) {
	sink := startMailSink(t)
	e := newTestEnv(t, func(c *config.Config) { sink.Configure(c) })
	e.register("ann@example.com", strongPassword)
	confirm := sink.NextTo("ann@example.com")
	e.mustData(e.gql(e.anon(), `mutation($e: String!) { forgotPassword(email: $e) }`, map[string]any{"e": e.enc("ann@example.com")}), nil)
	reset := sink.NextTo("ann@example.com")

	for _, tc := range []struct {
		name    string
		mail    sinkMail
		purpose store.LinkPurpose
	}{
		{"confirmation", confirm, store.LinkConfirm},
		{"reset", reset, store.LinkReset},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := url.QueryUnescape(tc.mail.Token())
			if err != nil || raw == "" {
				t.Fatalf("no token in the %s mail (%v):\n%s", tc.name, err, tc.mail.Text)
			}
			sum := sha256.Sum256([]byte(raw))
			hash := hex.EncodeToString(sum[:])
			if _, err := e.app.Support().LinkToken(t.Context(), hash, tc.purpose); err != nil {
				t.Errorf("the link is not stored under its hash: %v", err)
			}
			if _, err := e.app.Support().LinkToken(t.Context(), raw, tc.purpose); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("lookup by the raw token = %v, want ErrNotFound", err)
			}
			path := e.cfg.Store.SQLitePath()
			if path == "" {
				return // MongoDB: its files are the server's
			}
			var files []byte
			for _, suffix := range []string{"", "-wal", "-shm"} {
				b, err := os.ReadFile(path + suffix)
				if errors.Is(err, os.ErrNotExist) && suffix != "" {
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				files = append(files, b...)
			}
			if bytes.Contains(files, []byte(raw)) {
				t.Error("the raw token is in the SQLite files")
			}
			if !bytes.Contains(files, []byte(hash)) {
				t.Error("the token's hash is not in the SQLite files")
			}
		})
	}
}
