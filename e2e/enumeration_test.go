package e2e

import (
	"encoding/json"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/toktok/toktok/config"
)

// --enumeration-protection, on both stores. Off (the default), register answers an
// address already used with EMAIL_TAKEN. On, it answers exactly as for a new address (no
// tokens for either), creates nothing, and mails the owner one signup_attempt notice
// (limited per account as confirmation resends are) with nothing the requester typed;
// login of an unconfirmed address is INVALID_CREDENTIALS with the message of a wrong
// password, until the confirmation link is followed.

// enumerationStores runs test on SQLite and on MongoDB (FerretDB in this process, or
// TOKTOK_TEST_MONGODB_URI), whatever TOKTOK_TEST_STORE says.
func enumerationStores(t *testing.T, test func(t *testing.T, store func(*config.Config))) {
	t.Run("sqlite", func(t *testing.T) {
		test(t, func(c *config.Config) { c.Store.URI, c.Store.Database = "", "" })
	})
	t.Run("mongodb", func(t *testing.T) {
		uri, db := testMongo(t).NewDatabase(t)
		test(t, func(c *config.Config) { c.Store.URI, c.Store.Database = uri, db })
	})
}

// enumerationPayload asks register for every field of its answer.
const enumerationPayload = `accessToken tokenType expiresIn expiresAt refreshToken refreshExpiresAt
	user { id email emailConfirmed pendingEmail role name surname pseudo lang agreement data disabled
		createdAt updatedAt lastLoginAt loginCount }`

// enumerationRegister sends register as an SPA does, asking for every field.
func enumerationRegister(e *testEnv, email, password string, extra map[string]any) gqlResponse {
	e.t.Helper()
	return e.registerReqFields(email, password, extra, enumerationPayload)
}

func enumerationJSON(t *testing.T, raw []byte) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("%v: %s", err, raw)
	}
	return v
}

// enumerationUsers counts the accounts, as an ADMIN sees them.
func enumerationUsers(e *testEnv, admin string) int {
	e.t.Helper()
	var resp struct{ Users struct{ TotalCount int } }
	e.mustData(e.gql(admin, `{ users { totalCount } }`, nil), &resp)
	return resp.Users.TotalCount
}

// enumerationKinds lists the kinds of the outbox mails to addr, sorted (mails of one
// instant of the test clock come in no particular order).
func enumerationKinds(e *testEnv, addr string) []string {
	e.t.Helper()
	e.app.Support().Settle()
	var kinds []string
	for _, m := range e.outboxTo(addr) {
		kinds = append(kinds, m.Kind)
	}
	slices.Sort(kinds)
	return kinds
}

func TestEnumerationProtectionOff(t *testing.T) {
	enumerationStores(t, func(t *testing.T, store func(*config.Config)) {
		e := newTestEnv(t, store)
		if e.cfg.Account.EnumerationProtection {
			t.Fatal("--enumeration-protection is on by default")
		}
		if tok := e.register("ann@example.com", strongPassword); tok.AccessToken == "" {
			t.Error("register signs in by default")
		}
		e.wantCode(e.registerReq("ann@example.com", "another strong passphrase", nil), "EMAIL_TAKEN")
		if kinds := enumerationKinds(e, "ann@example.com"); !slices.Equal(kinds, []string{"confirm"}) {
			t.Errorf("outbox to the used address: %v, want only its confirmation", kinds)
		}
	})
}

func TestEnumerationProtection(t *testing.T) {
	enumerationStores(t, func(t *testing.T, store func(*config.Config)) {
		sink := startMailSink(t)
		// As --enumeration-protection=yes --limit-confirm-resends=2/1h would.
		e := mailEnv(t, sink, func(c *config.Config) {
			store(c)
			c.Account.EnumerationProtection = true
			c.Limits.ConfirmResends = config.Rate{N: 2, Window: time.Hour}
		})
		const annPW, otherPW = strongPassword, "mallory's own passphrase 42"

		// The owner of the address: registered (no session), confirmed, signed in. As the
		// first account confirmed, it is the ADMIN that counts the accounts below.
		var first struct{ Register authPayload }
		e.mustData(enumerationRegister(e, "ann@example.com", annPW, map[string]any{"lang": "fr"}), &first)
		if first.Register.AccessToken != "" || first.Register.RefreshToken != "" {
			t.Errorf("protected register returned tokens: %+v", first.Register)
		}
		e.mustData(mailConfirm(e, mailNext(t, sink, "ann@example.com").Token()), nil)
		admin := e.login("ann@example.com", annPW).AccessToken
		before, err := e.app.Support().User(t.Context(), "ann@example.com")
		if err != nil {
			t.Fatal(err)
		}
		if n := enumerationUsers(e, admin); n != 1 {
			t.Fatalf("%d accounts, want 1", n)
		}

		// The used address and a new one, with the same typed input, answer alike.
		typed := map[string]any{
			"name": "Mallory Typed-Name", "surname": "Typed-Surname", "pseudo": "typed-pseudo",
			"lang": "en", "agreement": true, "data": map[string]any{"note": "typed-data"},
		}
		used := enumerationRegister(e, "ann@example.com", otherPW, typed)
		fresh := enumerationRegister(e, "amy@example.com", otherPW, typed)
		for _, r := range []gqlResponse{used, fresh} {
			e.mustData(r, nil)
		}
		if used.Status != fresh.Status || used.Status != http.StatusOK {
			t.Errorf("status %d for the used address, %d for a new one", used.Status, fresh.Status)
		}
		hu, hf := used.Header.Clone(), fresh.Header.Clone()
		// Date and the request id differ between any two responses; the id is random and
		// present on both.
		if hu.Get("X-Request-Id") == "" || hf.Get("X-Request-Id") == "" {
			t.Errorf("a response without X-Request-Id: used %q, new %q", hu.Get("X-Request-Id"), hf.Get("X-Request-Id"))
		}
		for _, h := range []http.Header{hu, hf} {
			h.Del("Date")
			h.Del("X-Request-Id")
		}
		if !reflect.DeepEqual(hu, hf) {
			t.Errorf("headers differ:\nused %v\nnew  %v", hu, hf)
		}
		ju, jf := enumerationJSON(t, used.Raw), enumerationJSON(t, fresh.Raw)
		if !reflect.DeepEqual(rulesShape(ju), rulesShape(jf)) {
			t.Errorf("shapes differ:\nused %s\nnew  %s", used.Raw, fresh.Raw)
		}
		var u, f struct{ Register authPayload }
		e.mustData(used, &u)
		e.mustData(fresh, &f)
		for _, p := range []authPayload{u.Register, f.Register} {
			now := e.clock.Now()
			if p.AccessToken != "" || p.RefreshToken != "" || p.TokenType != "Bearer" || p.ExpiresIn != 0 ||
				!p.ExpiresAt.Equal(now) || !p.RefreshExpiresAt.Equal(now) ||
				p.User.EmailConfirmed || p.User.Role != "USER" || p.User.LoginCount != 0 || p.User.Lang != "en" {
				t.Errorf("payload %+v, want no tokens, expiring now, an unconfirmed USER never signed in", p)
			}
		}
		if uid, fid := u.Register.User.ID, f.Register.User.ID; uid == before.ID || len(uid) != len(fid) || uid == fid {
			t.Errorf("ids: used address %q (owner's %q), new address %q", uid, before.ID, fid)
		}
		// Byte for byte the same once the id and the address are set aside (the clock is
		// the test's: every instant is the same).
		same := func(m map[string]any) string {
			user := m["data"].(map[string]any)["register"].(map[string]any)["user"].(map[string]any)
			user["id"], user["email"] = "", ""
			b, _ := json.Marshal(m)
			return string(b)
		}
		if a, b := same(ju), same(jf); a != b {
			t.Errorf("answers differ:\nused %s\nnew  %s", a, b)
		}

		// Nothing was created for the used address, nothing changed on its account.
		if n := enumerationUsers(e, admin); n != 2 {
			t.Errorf("%d accounts, want 2 (the owner and the new address)", n)
		}
		after, err := e.app.Support().User(t.Context(), "ann@example.com")
		if err != nil {
			t.Fatal(err)
		}
		if after.ID != before.ID || after.Name != nil || after.PasswordHash != before.PasswordHash ||
			after.Lang != "fr" || !after.UpdatedAt.Equal(before.UpdatedAt) {
			t.Errorf("the owner's account changed: %+v", after)
		}
		e.wantCode(e.loginReq("ann@example.com", otherPW), "INVALID_CREDENTIALS")
		e.login("ann@example.com", annPW)

		// The owner got one notice, in French, with nothing typed and no link; the new
		// address got its confirmation.
		got := mailCollect(t, sink, 2)
		notice, confirm := got["ann@example.com"], got["amy@example.com"]
		if kinds := enumerationKinds(e, "ann@example.com"); !slices.Equal(kinds, []string{"confirm", "signup_attempt"}) {
			t.Errorf("outbox to the owner: %v, want its confirmation and one signup_attempt", kinds)
		}
		if kinds := enumerationKinds(e, "amy@example.com"); !slices.Equal(kinds, []string{"confirm"}) {
			t.Errorf("outbox to the new address: %v, want its confirmation", kinds)
		}
		if !strings.Contains(notice.Subject, "Quelqu'un") || !strings.Contains(notice.Text, "ann@example.com") {
			t.Errorf("notice %q:\n%s", notice.Subject, notice.Text)
		}
		for _, s := range []string{"Mallory", "Typed", "typed", otherPW, "http", "token"} {
			if strings.Contains(notice.Subject+notice.Text+notice.HTML, s) {
				t.Errorf("the notice carries %q:\n%s", s, notice.Text)
			}
		}
		if confirm.Token() == "" {
			t.Fatalf("the new address's mail has no link:\n%s", confirm.Text)
		}

		// Two notices an hour: the third attempt mails nothing and answers the same.
		for range 2 {
			var again struct{ Register authPayload }
			e.mustData(enumerationRegister(e, "ann@example.com", otherPW, typed), &again)
			if again.Register.AccessToken != "" || again.Register.User.Email != "ann@example.com" {
				t.Errorf("payload %+v", again.Register)
			}
		}
		if kinds := enumerationKinds(e, "ann@example.com"); !slices.Equal(kinds, []string{"confirm", "signup_attempt", "signup_attempt"}) {
			t.Errorf("outbox to the owner: %v, want two signup_attempt notices at most", kinds)
		}
		mailNext(t, sink, "ann@example.com")

		// Before confirmation, the right password fails as a wrong one does.
		right := e.wantCode(e.loginReq("amy@example.com", otherPW), "INVALID_CREDENTIALS")
		wrong := e.wantCode(e.loginReq("amy@example.com", "not the password at all"), "INVALID_CREDENTIALS")
		unknown := e.wantCode(e.loginReq("nobody@example.com", otherPW), "INVALID_CREDENTIALS")
		if right.Message != wrong.Message || right.Message != unknown.Message || !strings.Contains(right.Message, "confirmed") {
			t.Errorf("messages: right %q, wrong %q, unknown %q", right.Message, wrong.Message, unknown.Message)
		}
		if !reflect.DeepEqual(right.Extensions, wrong.Extensions) {
			t.Errorf("extensions: right %v, wrong %v", right.Extensions, wrong.Extensions)
		}

		// Confirmed through the link, it signs in.
		e.mustData(mailConfirm(e, confirm.Token()), nil)
		if p := e.login("amy@example.com", otherPW); p.AccessToken == "" || p.User.ID != f.Register.User.ID || !p.User.EmailConfirmed {
			t.Errorf("login after confirmation: %+v", p)
		}
	})
}
