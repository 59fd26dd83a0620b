package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/toktok/toktok/app"
	"github.com/toktok/toktok/config"
	"github.com/toktok/toktok/store"
)

// End-to-end tests of sessions: listing, refresh-token rotation, the two-tab grace window,
// replay detection, idle and absolute expiry, logout scopes, revokeSession, and several
// instances sharing one data dir. Everything goes over HTTP as an SPA sends it; the store
// is read directly only to check what the API cannot show (rotation counter, revocation
// reason, audit log).

const (
	sessDay      = 24 * time.Hour
	sessIdle     = 7 * sessDay
	sessAbsolute = 30 * sessDay
	sessGrace    = 10 * time.Second
	sessRefreshQ = `mutation($rt: String!) { refreshToken(refreshToken: $rt) { ` + payloadFields + ` } }`
	sessListQ    = `{ mySessions { id createdAt lastUsedAt expiresAt userAgent ip current } }`
)

// sessSession is one entry of mySessions.
type sessSession struct {
	ID         string
	CreatedAt  time.Time
	LastUsedAt time.Time
	ExpiresAt  time.Time
	UserAgent  *string
	IP         *string
	Current    bool
}

// sessGQL sends one operation with extra headers (User-Agent, ...).
func sessGQL(e *testEnv, bearer, query string, vars map[string]any, hdr map[string]string) gqlResponse {
	e.t.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		e.t.Fatal(err)
	}
	return e.post(bearer, "application/json", body, hdr)
}

// sessRegister registers email as an SPA does, sending userAgent.
func sessRegister(e *testEnv, email, userAgent string) authPayload {
	e.t.Helper()
	input := map[string]any{"email": e.enc(email), "password": e.enc(strongPassword)}
	var resp struct{ Register authPayload }
	e.mustData(sessGQL(e, e.anon(), `mutation($input: RegisterInput!) { register(input: $input) { `+payloadFields+` } }`,
		map[string]any{"input": input}, map[string]string{"User-Agent": userAgent}), &resp)
	return resp.Register
}

// sessLogin signs email in as an SPA does, sending userAgent.
func sessLogin(e *testEnv, email, userAgent string) authPayload {
	e.t.Helper()
	input := map[string]any{"email": e.enc(email), "password": e.enc(strongPassword)}
	var resp struct{ Login authPayload }
	e.mustData(sessGQL(e, e.anon(), `mutation($input: LoginInput!) { login(input: $input) { `+payloadFields+` } }`,
		map[string]any{"input": input}, map[string]string{"User-Agent": userAgent}), &resp)
	return resp.Login
}

// sessList returns mySessions for an access token, failing on any error.
func sessList(e *testEnv, at string) []sessSession {
	e.t.Helper()
	var resp struct{ MySessions []sessSession }
	e.mustData(e.gql(at, sessListQ, nil), &resp)
	return resp.MySessions
}

// sessIDs returns the ids of a mySessions answer, sorted.
func sessIDs(list []sessSession) []string {
	ids := make([]string, 0, len(list))
	for _, s := range list {
		ids = append(ids, s.ID)
	}
	slices.Sort(ids)
	return ids
}

// sessSID reads the session id ("sid") from an access token's payload, unverified: the
// test only needs to know which session a token names.
func sessSID(t testing.TB, at string) string {
	t.Helper()
	parts := strings.Split(at, ".")
	if len(parts) != 3 {
		t.Fatalf("access token is not a JWS: %q", at)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("access token payload: %v", err)
	}
	var c struct {
		Sid string `json:"sid"`
		Sub string `json:"sub"`
	}
	if err := json.Unmarshal(raw, &c); err != nil || c.Sid == "" {
		t.Fatalf("access token payload %s: no sid (%v)", raw, err)
	}
	return c.Sid
}

// sessWantDead checks that a session's access token and refresh token are both refused.
// It returns the refresh error's message.
func sessWantDead(e *testEnv, p authPayload) string {
	e.t.Helper()
	e.wantCode(e.meReq(p.AccessToken), "UNAUTHENTICATED")
	e.wantCode(e.gql(p.AccessToken, sessListQ, nil), "UNAUTHENTICATED")
	return e.wantCode(e.refreshReq(p.RefreshToken), "INVALID_REFRESH_TOKEN").Message
}

// sessWantAlive checks that a session's access token still works on me and mySessions.
func sessWantAlive(e *testEnv, p authPayload) {
	e.t.Helper()
	var me struct{ Me *struct{ ID string } }
	e.mustData(e.meReq(p.AccessToken), &me)
	if me.Me == nil || me.Me.ID != p.User.ID {
		e.t.Fatalf("me = %+v, want user %s", me.Me, p.User.ID)
	}
	sessList(e, p.AccessToken)
}

// sessSub returns e reporting to the subtest t, so its helpers fail the right test.
func sessSub(e *testEnv, t *testing.T) *testEnv {
	c := *e
	c.t = t
	return &c
}

// sessStored returns the stored session.
func sessStored(t *testing.T, e *testEnv, id string) store.Session {
	t.Helper()
	s, err := e.app.Support().Session(t.Context(), id)
	if err != nil {
		t.Fatalf("SessionByID(%s): %v", id, err)
	}
	return s
}

// sessAudit returns the user's audit events of type typ.
func sessAudit(t *testing.T, e *testEnv, userID, typ string) []store.AuditEvent {
	t.Helper()
	evs, err := e.app.Support().Audit(t.Context(), userID, 1000)
	if err != nil {
		t.Fatalf("AuditEvents: %v", err)
	}
	var out []store.AuditEvent
	for _, ev := range evs {
		if ev.Type == typ {
			out = append(out, ev)
		}
	}
	return out
}

// sessDo sends a raw body to /graphql and reports errors instead of failing the test, so
// it may run outside the test goroutine.
func sessDo(ctx context.Context, e *testEnv, body []byte) (gqlResponse, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.srv.URL+"/graphql", bytes.NewReader(body))
	if err != nil {
		return gqlResponse{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	return e.trySend(req)
}

// sessRefreshRace presents rt n times at once and returns the responses.
func sessRefreshRace(t *testing.T, e *testEnv, rt string, n int) []gqlResponse {
	t.Helper()
	body, err := json.Marshal(map[string]any{"query": sessRefreshQ, "variables": map[string]any{"rt": rt}})
	if err != nil {
		t.Fatal(err)
	}
	start := make(chan struct{})
	out := make([]gqlResponse, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			out[i], errs[i] = sessDo(t.Context(), e, body)
		})
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// sessMinted returns the refresh tokens of the successful responses of a race and how
// many responses failed with INVALID_REFRESH_TOKEN; any other outcome fails the test.
func sessMinted(t *testing.T, rs []gqlResponse) (tokens []string, refused int) {
	t.Helper()
	for _, r := range rs {
		switch {
		case len(r.Errors) == 0 && r.Status == http.StatusOK:
			var resp struct{ RefreshToken authPayload }
			if err := json.Unmarshal(r.Data, &resp); err != nil || resp.RefreshToken.RefreshToken == "" {
				t.Fatalf("decode %s: %v", r.Data, err)
			}
			tokens = append(tokens, resp.RefreshToken.RefreshToken)
		case r.Code() == "INVALID_REFRESH_TOKEN":
			refused++
		default:
			t.Fatalf("unexpected refresh outcome (HTTP %d): %s", r.Status, r.Raw)
		}
	}
	return tokens, refused
}

// TestSessionsListing: register and login each create a session, listed with the user
// agent and IP of the request that created it, its times, and exactly one current entry:
// the session of the access token used.
func TestSessionsListing(t *testing.T) {
	e := newTestEnv(t, nil)
	t0 := e.clock.Now()
	reg := sessRegister(e, "sess-list@example.com", "SessAgent/1.0 (register)")
	e.clock.Advance(time.Minute)
	t1 := e.clock.Now()
	// X-Forwarded-For from a peer that is no trusted proxy must not change the recorded IP.
	var inResp struct{ Login authPayload }
	e.mustData(sessGQL(e, e.anon(), `mutation($input: LoginInput!) { login(input: $input) { `+payloadFields+` } }`,
		map[string]any{"input": map[string]any{"email": e.enc("sess-list@example.com"), "password": e.enc(strongPassword)}},
		map[string]string{"User-Agent": "SessAgent/2.0 (login)", "X-Forwarded-For": "203.0.113.9"}), &inResp)
	in := inResp.Login
	other := sessRegister(e, "sess-list-other@example.com", "SessAgent/3.0 (other)")

	regSID, inSID := sessSID(t, reg.AccessToken), sessSID(t, in.AccessToken)
	if regSID == inSID {
		t.Fatalf("register and login share session %s", regSID)
	}
	for _, tc := range []struct {
		name    string
		at      string
		current string
	}{
		{"with the login token", in.AccessToken, inSID},
		{"with the register token", reg.AccessToken, regSID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := sessSub(e, t)
			list := sessList(e, tc.at)
			if len(list) != 2 {
				t.Fatalf("mySessions has %d entries, want 2: %+v", len(list), list)
			}
			// Newest first.
			want := []struct {
				id, ua  string
				created time.Time
			}{
				{inSID, "SessAgent/2.0 (login)", t1},
				{regSID, "SessAgent/1.0 (register)", t0},
			}
			currents := 0
			for i, s := range list {
				w := want[i]
				if s.ID != w.id {
					t.Errorf("session %d id = %s, want %s (newest first)", i, s.ID, w.id)
				}
				if s.UserAgent == nil || *s.UserAgent != w.ua {
					t.Errorf("session %d userAgent = %v, want %q", i, s.UserAgent, w.ua)
				}
				if s.IP == nil || *s.IP != "127.0.0.1" {
					t.Errorf("session %d ip = %v, want 127.0.0.1", i, s.IP)
				}
				if !s.CreatedAt.Equal(w.created) || !s.LastUsedAt.Equal(w.created) {
					t.Errorf("session %d createdAt %v lastUsedAt %v, want both %v", i, s.CreatedAt, s.LastUsedAt, w.created)
				}
				if !s.ExpiresAt.Equal(w.created.Add(sessIdle)) {
					t.Errorf("session %d expiresAt = %v, want %v", i, s.ExpiresAt, w.created.Add(sessIdle))
				}
				if s.Current {
					currents++
					if s.ID != tc.current {
						t.Errorf("current session is %s, want %s", s.ID, tc.current)
					}
				}
			}
			if currents != 1 {
				t.Errorf("%d sessions are current, want exactly 1: %+v", currents, list)
			}
		})
	}

	t.Run("other user sees only their own", func(t *testing.T) {
		e := sessSub(e, t)
		list := sessList(e, other.AccessToken)
		if len(list) != 1 || list[0].ID != sessSID(t, other.AccessToken) || !list[0].Current {
			t.Fatalf("other user's mySessions = %+v", list)
		}
	})

	t.Run("refresh moves lastUsedAt and expiresAt, keeps current", func(t *testing.T) {
		e := sessSub(e, t)
		e.clock.Advance(2 * time.Minute)
		t2 := e.clock.Now()
		r := e.refresh(in.RefreshToken)
		if sid := sessSID(t, r.AccessToken); sid != inSID {
			t.Fatalf("refreshed access token names session %s, want %s", sid, inSID)
		}
		list := sessList(e, r.AccessToken)
		if len(list) != 2 {
			t.Fatalf("mySessions = %+v", list)
		}
		s := list[0]
		if s.ID != inSID || !s.Current {
			t.Fatalf("first session = %+v, want current %s", s, inSID)
		}
		if !s.CreatedAt.Equal(t1) || !s.LastUsedAt.Equal(t2) || !s.ExpiresAt.Equal(t2.Add(sessIdle)) {
			t.Errorf("after refresh: createdAt %v lastUsedAt %v expiresAt %v; want %v, %v, %v",
				s.CreatedAt, s.LastUsedAt, s.ExpiresAt, t1, t2, t2.Add(sessIdle))
		}
		if list[1].Current {
			t.Errorf("register session is current too: %+v", list)
		}
	})

	t.Run("needs an access token", func(t *testing.T) {
		e := sessSub(e, t)
		e.wantCode(e.gql("", sessListQ, nil), "UNAUTHENTICATED")
		e.wantCode(e.gql(e.anon(), sessListQ, nil), "UNAUTHENTICATED")
		e.wantCode(e.gql(in.RefreshToken, sessListQ, nil), "UNAUTHENTICATED")
	})
}

// TestSessionsRefreshRotation: every refresh returns a new refresh token and a working
// access token, and slides the idle expiry.
func TestSessionsRefreshRotation(t *testing.T) {
	e := newTestEnv(t, nil)
	t0 := e.clock.Now()
	reg := e.register("sess-rotate@example.com", strongPassword)
	if !reg.RefreshExpiresAt.Equal(t0.Add(sessIdle)) {
		t.Fatalf("register refreshExpiresAt = %v, want %v", reg.RefreshExpiresAt, t0.Add(sessIdle))
	}
	sid := sessSID(t, reg.AccessToken)

	e.clock.Advance(3 * time.Minute)
	t1 := e.clock.Now()
	r := e.refreshReq(reg.RefreshToken)
	if cc := r.Header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
		t.Errorf("refresh response Cache-Control = %q, want no-store", cc)
	}
	var resp struct{ RefreshToken authPayload }
	e.mustData(r, &resp)
	p1 := resp.RefreshToken
	if p1.RefreshToken == "" || p1.RefreshToken == reg.RefreshToken {
		t.Fatalf("refresh token not rotated: %q", p1.RefreshToken)
	}
	if p1.AccessToken == "" || p1.AccessToken == reg.AccessToken {
		t.Fatalf("no new access token")
	}
	if p1.TokenType != "Bearer" || p1.ExpiresIn != 900 || !p1.ExpiresAt.Equal(t1.Add(15*time.Minute)) {
		t.Errorf("access part = %s %d %v, want Bearer 900 %v", p1.TokenType, p1.ExpiresIn, p1.ExpiresAt, t1.Add(15*time.Minute))
	}
	if !p1.RefreshExpiresAt.Equal(t1.Add(sessIdle)) {
		t.Errorf("refreshExpiresAt = %v, want %v (idle expiry slides)", p1.RefreshExpiresAt, t1.Add(sessIdle))
	}
	if p1.User.ID != reg.User.ID || p1.User.Email != "sess-rotate@example.com" {
		t.Errorf("payload user = %+v", p1.User)
	}
	if got := sessSID(t, p1.AccessToken); got != sid {
		t.Errorf("refreshed access token names session %s, want %s", got, sid)
	}
	sessWantAlive(e, authPayload{AccessToken: p1.AccessToken, User: p1.User})
	if s := sessStored(t, e, sid); s.Counter != 1 || !s.RotatedAt.Equal(t1) {
		t.Errorf("stored session counter %d rotatedAt %v, want 1 at %v", s.Counter, s.RotatedAt, t1)
	}

	// The new one rotates in turn.
	e.clock.Advance(3 * time.Minute)
	t2 := e.clock.Now()
	p2 := e.refresh(p1.RefreshToken)
	if p2.RefreshToken == p1.RefreshToken || p2.RefreshToken == reg.RefreshToken {
		t.Fatalf("second refresh did not rotate")
	}
	if !p2.RefreshExpiresAt.Equal(t2.Add(sessIdle)) || !p2.RefreshExpiresAt.After(p1.RefreshExpiresAt) {
		t.Errorf("second refreshExpiresAt = %v, want %v", p2.RefreshExpiresAt, t2.Add(sessIdle))
	}
	sessWantAlive(e, authPayload{AccessToken: p2.AccessToken, User: p2.User})
	// The access tokens of earlier rotations of a live session stay valid until they expire.
	sessWantAlive(e, reg)
	if s := sessStored(t, e, sid); s.Counter != 2 {
		t.Errorf("stored counter = %d, want 2", s.Counter)
	}
}

// TestSessionsGraceWindow: the previous refresh token answers with the current one inside
// the grace window; after it, or two rotations back, it is a replay that ends the session.
func TestSessionsGraceWindow(t *testing.T) {
	t.Run("previous token within the window answers the current one", func(t *testing.T) {
		e := newTestEnv(t, nil)
		reg := e.register("sess-grace@example.com", strongPassword)
		sid := sessSID(t, reg.AccessToken)
		p1 := e.refresh(reg.RefreshToken) // tab 1
		e.clock.Advance(sessGrace - time.Second)
		p1b := e.refresh(reg.RefreshToken) // tab 2, a moment late
		if p1b.RefreshToken != p1.RefreshToken {
			t.Fatalf("grace answer %q differs from the current token %q", p1b.RefreshToken, p1.RefreshToken)
		}
		if p1b.User.ID != reg.User.ID || !p1b.RefreshExpiresAt.Equal(p1.RefreshExpiresAt) {
			t.Errorf("grace payload user %s refreshExpiresAt %v, want %s %v", p1b.User.ID, p1b.RefreshExpiresAt, reg.User.ID, p1.RefreshExpiresAt)
		}
		s := sessStored(t, e, sid)
		if s.RevokedAt != nil || s.Counter != 1 {
			t.Fatalf("after a grace answer: revoked %v counter %d, want live at 1", s.RevokedAt, s.Counter)
		}
		sessWantAlive(e, authPayload{AccessToken: p1b.AccessToken, User: p1b.User})
		sessWantAlive(e, authPayload{AccessToken: p1.AccessToken, User: p1.User})
		p2 := e.refresh(p1.RefreshToken)
		if p2.RefreshToken == p1.RefreshToken {
			t.Fatal("current token did not rotate after a grace answer")
		}
		if len(sessAudit(t, e, reg.User.ID, "refresh_reuse")) != 0 {
			t.Error("a grace answer was audited as refresh_reuse")
		}
	})

	t.Run("previous token after the window revokes the session", func(t *testing.T) {
		e := newTestEnv(t, nil)
		reg := e.register("sess-replay@example.com", strongPassword)
		bystander := e.login("sess-replay@example.com", strongPassword)
		sid := sessSID(t, reg.AccessToken)
		p1 := e.refresh(reg.RefreshToken)
		e.clock.Advance(sessGrace + time.Second)
		replayMsg := e.wantCode(e.refreshReq(reg.RefreshToken), "INVALID_REFRESH_TOKEN").Message

		// The revocation is kept though the request failed.
		s := sessStored(t, e, sid)
		if s.RevokedAt == nil || s.RevokedReason != "refresh_reuse" {
			t.Fatalf("after replay: revokedAt %v reason %q, want revoked for refresh_reuse", s.RevokedAt, s.RevokedReason)
		}
		if msg := sessWantDead(e, p1); msg != replayMsg {
			t.Errorf("messages differ: %q vs %q", msg, replayMsg)
		}
		e.wantCode(e.meReq(reg.AccessToken), "UNAUTHENTICATED")
		// Presenting the stolen one again changes nothing.
		e.wantCode(e.refreshReq(reg.RefreshToken), "INVALID_REFRESH_TOKEN")

		evs := sessAudit(t, e, reg.User.ID, "refresh_reuse")
		if len(evs) != 1 {
			t.Fatalf("%d refresh_reuse audit events, want 1", len(evs))
		}
		if evs[0].Outcome != "failure" || evs[0].IP != "127.0.0.1" || !bytes.Contains(evs[0].Detail, []byte(sid)) {
			t.Errorf("audit event = %+v detail %s", evs[0], evs[0].Detail)
		}
		for _, secret := range []string{reg.RefreshToken, p1.RefreshToken} {
			if bytes.Contains(evs[0].Detail, []byte(secret)) {
				t.Error("the audit event holds a refresh token")
			}
		}

		// Only that session ended.
		sessWantAlive(e, bystander)
		list := sessList(e, bystander.AccessToken)
		if len(list) != 1 || list[0].ID != sessSID(t, bystander.AccessToken) {
			t.Errorf("bystander's mySessions = %+v, want only itself", list)
		}
		e.refresh(bystander.RefreshToken)
	})

	t.Run("two rotations old is a replay even within the window", func(t *testing.T) {
		e := newTestEnv(t, nil)
		reg := e.register("sess-old@example.com", strongPassword)
		sid := sessSID(t, reg.AccessToken)
		p1 := e.refresh(reg.RefreshToken)
		p2 := e.refresh(p1.RefreshToken)
		e.wantCode(e.refreshReq(reg.RefreshToken), "INVALID_REFRESH_TOKEN")
		if s := sessStored(t, e, sid); s.RevokedAt == nil {
			t.Fatal("a token two rotations old did not revoke the session")
		}
		sessWantDead(e, p2)
		if len(sessAudit(t, e, reg.User.ID, "refresh_reuse")) != 1 {
			t.Error("no refresh_reuse audit event")
		}
	})

	t.Run("previous token after a grace answer and the window is a replay", func(t *testing.T) {
		e := newTestEnv(t, nil)
		reg := e.register("sess-late@example.com", strongPassword)
		p1 := e.refresh(reg.RefreshToken)
		e.clock.Advance(sessGrace / 2)
		e.refresh(reg.RefreshToken) // within the window: fine
		e.clock.Advance(sessGrace)  // the window counts from the rotation, not the grace answer
		e.wantCode(e.refreshReq(reg.RefreshToken), "INVALID_REFRESH_TOKEN")
		sessWantDead(e, p1)
	})
}

// TestSessionsZeroGrace: with the grace window configured to 0 there is no window: the
// previous token is a replay at once, even in the same instant.
func TestSessionsZeroGrace(t *testing.T) {
	e := newTestEnv(t, func(c *config.Config) { c.Token.RefreshGrace = 0 })
	reg := e.register("sess-zero@example.com", strongPassword)
	sid := sessSID(t, reg.AccessToken)
	p1 := e.refresh(reg.RefreshToken)
	// The clock has not moved: a 0 s window must still not answer the previous token.
	r := e.refreshReq(reg.RefreshToken)
	if r.Code() != "INVALID_REFRESH_TOKEN" {
		got := r.Code()
		if got == "" {
			got = "a fresh token pair (the grace answer)"
		}
		t.Errorf("grace 0: the previous token presented in the same instant answered %s, want INVALID_REFRESH_TOKEN (a replay)", got)
	}
	if s := sessStored(t, e, sid); s.RevokedAt == nil {
		t.Errorf("grace 0: replaying the previous token did not revoke the session")
	}
	// Once the replay is detected, the current token dies with the session.
	if r.Code() == "INVALID_REFRESH_TOKEN" {
		sessWantDead(e, p1)
	}
}

// TestSessionsConcurrentRefresh: many tabs presenting one refresh token at once cause one
// rotation; the grace window hands every one the same new token.
func TestSessionsConcurrentRefresh(t *testing.T) {
	const n = 20
	t.Run("grace 10s", func(t *testing.T) {
		e := newTestEnv(t, nil)
		reg := e.register("sess-race@example.com", strongPassword)
		sid := sessSID(t, reg.AccessToken)
		tokens, refused := sessMinted(t, sessRefreshRace(t, e, reg.RefreshToken, n))
		if refused != 0 || len(tokens) != n {
			t.Errorf("%d successes, %d refused; want all %d to succeed within the grace window", len(tokens), refused, n)
		}
		for _, tok := range tokens {
			if tok != tokens[0] {
				t.Fatalf("two different refresh tokens minted: %q and %q", tokens[0], tok)
			}
		}
		s := sessStored(t, e, sid)
		if s.Counter != 1 || s.RevokedAt != nil {
			t.Fatalf("stored session counter %d revoked %v, want one rotation and live", s.Counter, s.RevokedAt)
		}
		if len(tokens) > 0 {
			p := e.refresh(tokens[0])
			sessWantAlive(e, p)
		}
	})

	t.Run("grace 0", func(t *testing.T) {
		e := newTestEnv(t, func(c *config.Config) { c.Token.RefreshGrace = 0 })
		reg := e.register("sess-race0@example.com", strongPassword)
		sid := sessSID(t, reg.AccessToken)
		tokens, refused := sessMinted(t, sessRefreshRace(t, e, reg.RefreshToken, n))
		for _, tok := range tokens {
			if tok != tokens[0] {
				t.Fatalf("two different refresh tokens minted: %q and %q", tokens[0], tok)
			}
		}
		if s := sessStored(t, e, sid); s.Counter != 1 {
			t.Errorf("stored counter = %d, want exactly one rotation", s.Counter)
		}
		if len(tokens) != 1 {
			t.Errorf("grace 0: %d successes and %d refusals, want exactly 1 success", len(tokens), refused)
		}
	})
}

// TestSessionsExpiry: the idle expiry ends a session nobody refreshes; refreshing slides
// it but never past the absolute expiry.
func TestSessionsExpiry(t *testing.T) {
	t.Run("idle", func(t *testing.T) {
		e := newTestEnv(t, nil)
		idle := e.register("sess-idle@example.com", strongPassword)
		active := e.login("sess-idle@example.com", strongPassword)
		e.clock.Advance(sessIdle - time.Second)
		active = e.refresh(active.RefreshToken) // just in time
		e.clock.Advance(2 * time.Second)        // 7 d + 1 s after sign-in
		msg := e.wantCode(e.refreshReq(idle.RefreshToken), "INVALID_REFRESH_TOKEN").Message
		if again := sessWantDead(e, idle); msg != again {
			t.Errorf("messages differ: %q vs %q", msg, again)
		}
		list := sessList(e, active.AccessToken)
		if len(list) != 1 || list[0].ID != sessSID(t, active.AccessToken) {
			t.Errorf("mySessions lists an expired session: %+v", list)
		}
		e.refresh(active.RefreshToken)
	})

	t.Run("sliding until the absolute expiry", func(t *testing.T) {
		e := newTestEnv(t, nil)
		t0 := e.clock.Now()
		p := e.register("sess-abs@example.com", strongPassword)
		abs := t0.Add(sessAbsolute)
		for day := 6; day <= 24; day += 6 {
			e.clock.Advance(6 * sessDay)
			now := e.clock.Now()
			p = e.refresh(p.RefreshToken)
			// Slides to now + 7 d, capped at the absolute expiry (day 24: 31 d > 30 d).
			want := now.Add(sessIdle)
			if want.After(abs) {
				want = abs
			}
			if !p.RefreshExpiresAt.Equal(want) {
				t.Errorf("day %d: refreshExpiresAt = %v, want %v", day, p.RefreshExpiresAt, want)
			}
			sessWantAlive(e, p)
		}
		// A minute before the absolute expiry the session still refreshes, never past it.
		e.clock.Advance(6*sessDay - time.Minute)
		p = e.refresh(p.RefreshToken)
		if !p.RefreshExpiresAt.Equal(abs) {
			t.Errorf("refreshExpiresAt = %v, want the absolute expiry %v", p.RefreshExpiresAt, abs)
		}
		list := sessList(e, p.AccessToken)
		if len(list) != 1 || !list[0].ExpiresAt.Equal(abs) {
			t.Errorf("mySessions = %+v, want expiresAt %v", list, abs)
		}
		if s := sessStored(t, e, sessSID(t, p.AccessToken)); s.IdleExpiresAt.After(abs) {
			t.Errorf("stored idle expiry %v is past the absolute one %v", s.IdleExpiresAt, abs)
		}
		// Past it, everything ends, even the access token issued a minute ago.
		e.clock.Advance(2 * time.Minute)
		sessWantDead(e, p)
	})
}

// sessFlip changes the character at i of s to another base64url character.
func sessFlip(s string, i int) string {
	b := []byte(s)
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

// TestSessionsInvalidRefreshTokens: whatever is wrong with a refresh token, the answer is
// INVALID_REFRESH_TOKEN with one message, the same as for a replay or an expired session;
// and a bad token does not harm the session it imitates.
func TestSessionsInvalidRefreshTokens(t *testing.T) {
	e := newTestEnv(t, nil)
	reg := e.register("sess-bad@example.com", strongPassword)
	rt := reg.RefreshToken

	flip := sessFlip
	cases := map[string]string{
		"tampered middle":     flip(rt, len(rt)/2),
		"tampered first byte": flip(rt, len("rt1_")),
		"tampered last":       flip(rt, len(rt)-1),
		"truncated":           rt[:len(rt)-4],
		"extended":            rt + "AAAA",
		"random":              "rt1_" + strings.Repeat("x", 40),
		"random no prefix":    "Zm9vYmFyYmF6cXV4cXV1eHF1dXpxdXV4",
		"access token":        reg.AccessToken,
		"anonymous token":     e.anon(),
		"empty":               "",
		"whitespace":          " " + rt,
		"upper-cased":         strings.ToUpper(rt),
		"unknown session":     e.app.Support().RefreshToken("SESSNOSUCHSESSION", 0),
		"counter ahead":       e.app.Support().RefreshToken(sessSID(t, reg.AccessToken), 5),
		"forged":              "rt1_AAAAAAAAAABTRVNTTk9TVUNIU0VTU0lPTgAAAAAAAAAAAAAAAAAAAAA",
	}
	var msgs []string
	for name, tok := range cases {
		if tok == rt {
			t.Fatalf("%s: not changed", name)
		}
		r := e.refreshReq(tok)
		got := e.wantCode(r, "INVALID_REFRESH_TOKEN")
		if strings.Contains(got.Message, tok) && tok != "" {
			t.Errorf("%s: message echoes the token: %q", name, got.Message)
		}
		msgs = append(msgs, got.Message)
	}
	// Replay and expiry answer the same message.
	p1 := e.login("sess-bad@example.com", strongPassword)
	p2 := e.refresh(p1.RefreshToken)
	e.clock.Advance(sessGrace + time.Second)
	msgs = append(msgs, e.wantCode(e.refreshReq(p1.RefreshToken), "INVALID_REFRESH_TOKEN").Message)
	msgs = append(msgs, e.wantCode(e.refreshReq(p2.RefreshToken), "INVALID_REFRESH_TOKEN").Message)
	p3 := e.login("sess-bad@example.com", strongPassword)
	e.clock.Advance(sessIdle + time.Second)
	msgs = append(msgs, e.wantCode(e.refreshReq(p3.RefreshToken), "INVALID_REFRESH_TOKEN").Message)
	for _, m := range msgs {
		if m != msgs[0] {
			t.Fatalf("INVALID_REFRESH_TOKEN messages differ: %q", slices.Compact(slices.Sorted(slices.Values(msgs))))
		}
	}
	if msgs[0] == "" {
		t.Fatal("empty message")
	}
}

// TestSessionsBadRefreshTokenHarmless: tokens that fail to authenticate (tampered, random,
// another kind) are refused without revoking the session they imitate.
func TestSessionsBadRefreshTokenHarmless(t *testing.T) {
	e := newTestEnv(t, nil)
	reg := e.register("sess-harmless@example.com", strongPassword)
	rt := reg.RefreshToken
	for _, tok := range []string{
		sessFlip(rt, len(rt)/2), sessFlip(rt, len("rt1_")), sessFlip(rt, len(rt)-1),
		rt[:len(rt)-4], rt + "AA", reg.AccessToken, "", strings.ToUpper(rt),
	} {
		if tok == rt {
			continue
		}
		e.wantCode(e.refreshReq(tok), "INVALID_REFRESH_TOKEN")
	}
	s := sessStored(t, e, sessSID(t, reg.AccessToken))
	if s.RevokedAt != nil || s.Counter != 0 {
		t.Fatalf("bad tokens changed the session: revoked %v counter %d", s.RevokedAt, s.Counter)
	}
	sessWantAlive(e, reg)
	e.refresh(rt)
	if len(sessAudit(t, e, reg.User.ID, "refresh_reuse")) != 0 {
		t.Error("a bad token was audited as a replay")
	}
}

// TestSessionsAccessTokenExpiry: an access token is refused 15 min (plus the 30 s leeway)
// after issue; a refresh gives a working one.
func TestSessionsAccessTokenExpiry(t *testing.T) {
	e := newTestEnv(t, nil)
	reg := e.register("sess-exp@example.com", strongPassword)
	e.clock.Advance(15*time.Minute + 29*time.Second)
	sessWantAlive(e, reg) // inside the leeway
	e.clock.Advance(2 * time.Second)
	e.wantCode(e.meReq(reg.AccessToken), "UNAUTHENTICATED")
	e.wantCode(e.gql(reg.AccessToken, sessListQ, nil), "UNAUTHENTICATED")
	e.wantCode(e.gql(reg.AccessToken, `mutation { logout }`, nil), "UNAUTHENTICATED")

	now := e.clock.Now()
	p := e.refresh(reg.RefreshToken)
	if !p.ExpiresAt.Equal(now.Add(15*time.Minute)) || p.ExpiresIn != 900 {
		t.Errorf("new access token expiresAt %v expiresIn %d, want %v 900", p.ExpiresAt, p.ExpiresIn, now.Add(15*time.Minute))
	}
	sessWantAlive(e, p)
	e.wantCode(e.meReq(reg.AccessToken), "UNAUTHENTICATED")
}

// sessThree signs one user in three times (register, then two logins with distinct user
// agents) and another user once.
func sessThree(e *testEnv, prefix string) (a [3]authPayload, b authPayload) {
	e.t.Helper()
	a[0] = sessRegister(e, prefix+"-a@example.com", "SessAgent/a0")
	e.clock.Advance(time.Minute)
	a[1] = sessLogin(e, prefix+"-a@example.com", "SessAgent/a1")
	e.clock.Advance(time.Minute)
	a[2] = sessLogin(e, prefix+"-a@example.com", "SessAgent/a2")
	b = sessRegister(e, prefix+"-b@example.com", "SessAgent/b")
	return a, b
}

// TestSessionsLogout: each scope ends exactly its sessions, at once, and nobody else's.
func TestSessionsLogout(t *testing.T) {
	for _, tc := range []struct {
		name      string
		op        string
		ended     []int
		againCode string // a second logout with the same token: "" means it succeeds
	}{
		{"scope omitted is CURRENT", `mutation { logout }`, []int{0}, "UNAUTHENTICATED"},
		{"CURRENT", `mutation { logout(scope: CURRENT) }`, []int{0}, "UNAUTHENTICATED"},
		{"CURRENT by variable", `mutation($s: LogoutScope) { logout(scope: $s) }`, []int{0}, "UNAUTHENTICATED"},
		{"OTHERS", `mutation { logout(scope: OTHERS) }`, []int{1, 2}, ""},
		{"ALL", `mutation { logout(scope: ALL) }`, []int{0, 1, 2}, "UNAUTHENTICATED"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newTestEnv(t, nil)
			a, b := sessThree(e, "sess-logout")
			var vars map[string]any
			if strings.Contains(tc.op, "$s") {
				vars = map[string]any{"s": "CURRENT"}
			}
			var resp struct{ Logout bool }
			e.mustData(e.gql(a[0].AccessToken, tc.op, vars), &resp)
			if !resp.Logout {
				t.Fatal("logout answered false")
			}

			var alive []string
			for i := range a {
				if !slices.Contains(tc.ended, i) {
					alive = append(alive, sessSID(t, a[i].AccessToken))
				}
			}
			slices.Sort(alive)
			for i, p := range a {
				if slices.Contains(tc.ended, i) {
					sessWantDead(e, p)
					continue
				}
				sessWantAlive(e, p)
				if got := sessIDs(sessList(e, p.AccessToken)); !slices.Equal(got, alive) {
					t.Errorf("session %d: mySessions ids %v, want %v", i, got, alive)
				}
			}
			// The other user is untouched.
			sessWantAlive(e, b)
			if got := sessList(e, b.AccessToken); len(got) != 1 {
				t.Errorf("other user's mySessions = %+v", got)
			}

			again := e.gql(a[0].AccessToken, tc.op, vars)
			if tc.againCode == "" {
				e.mustData(again, nil)
			} else {
				e.wantCode(again, tc.againCode)
			}

			// Refresh tokens of live sessions still rotate; the other user's too.
			for i, p := range a {
				if !slices.Contains(tc.ended, i) {
					e.refresh(p.RefreshToken)
				}
			}
			e.refresh(b.RefreshToken)
			if evs := sessAudit(t, e, a[0].User.ID, "logout"); len(evs) == 0 {
				t.Error("no logout audit event")
			}
		})
	}

	t.Run("needs a signed-in user", func(t *testing.T) {
		e := newTestEnv(t, nil)
		reg := e.register("sess-logout-anon@example.com", strongPassword)
		for name, bearer := range map[string]string{
			"no token":        "",
			"anonymous token": e.anon(),
			"refresh token":   reg.RefreshToken,
			"garbage":         "not-a-token",
			"tampered access": reg.AccessToken[:len(reg.AccessToken)-3] + "AAA",
		} {
			for _, scope := range []string{"", "(scope: OTHERS)", "(scope: ALL)"} {
				r := e.gql(bearer, `mutation { logout`+scope+` }`, nil)
				if r.Code() != "UNAUTHENTICATED" {
					t.Errorf("%s, logout%s: %s, want UNAUTHENTICATED", name, scope, r.Raw)
				}
			}
		}
		sessWantAlive(e, reg)
	})
}

// TestSessionsRevokeSession: a user ends one of their own sessions by id, and nobody
// else's; the answer does not say why nothing was ended.
func TestSessionsRevokeSession(t *testing.T) {
	e := newTestEnv(t, nil)
	a, b := sessThree(e, "sess-revoke")
	sids := [3]string{sessSID(t, a[0].AccessToken), sessSID(t, a[1].AccessToken), sessSID(t, a[2].AccessToken)}
	bsid := sessSID(t, b.AccessToken)
	revoke := func(bearer, id string) gqlResponse {
		t.Helper()
		return e.gql(bearer, `mutation($id: ID!) { revokeSession(id: $id) }`, map[string]any{"id": id})
	}
	want := func(bearer, id string, ok bool) {
		t.Helper()
		var resp struct{ RevokeSession bool }
		e.mustData(revoke(bearer, id), &resp)
		if resp.RevokeSession != ok {
			t.Fatalf("revokeSession(%s) = %v, want %v", id, resp.RevokeSession, ok)
		}
	}

	if got := sessIDs(sessList(e, a[0].AccessToken)); !slices.Equal(got, sessIDs([]sessSession{{ID: sids[0]}, {ID: sids[1]}, {ID: sids[2]}})) {
		t.Fatalf("mySessions ids %v, want %v", got, sids)
	}

	// Another of one's own sessions: ends at once.
	want(a[0].AccessToken, sids[1], true)
	sessWantDead(e, a[1])
	if s := sessStored(t, e, sids[1]); s.RevokedAt == nil {
		t.Error("revoked session not marked revoked")
	}
	// Already revoked, unknown, another user's: false, and nothing changes.
	want(a[0].AccessToken, sids[1], false)
	want(a[0].AccessToken, "SESSNOSUCHSESSIONID", false)
	want(a[0].AccessToken, "", false)
	want(a[0].AccessToken, bsid, false)
	sessWantAlive(e, b)
	if s := sessStored(t, e, bsid); s.RevokedAt != nil {
		t.Fatal("another user's session was revoked")
	}
	// The other user cannot end ours either.
	want(b.AccessToken, sids[2], false)
	sessWantAlive(e, a[2])

	if got := sessIDs(sessList(e, a[0].AccessToken)); len(got) != 2 || slices.Contains(got, sids[1]) {
		t.Errorf("mySessions after revoke = %v", got)
	}

	// One's own current session: true, and the token is refused at once.
	want(a[0].AccessToken, sids[0], true)
	sessWantDead(e, a[0])
	e.wantCode(revoke(a[0].AccessToken, sids[2]), "UNAUTHENTICATED")
	sessWantAlive(e, a[2])
	e.refresh(a[2].RefreshToken)
	e.refresh(b.RefreshToken)

	// Without a signed-in user.
	e.wantCode(revoke("", sids[2]), "UNAUTHENTICATED")
	e.wantCode(revoke(e.anon(), sids[2]), "UNAUTHENTICATED")
	sessWantAlive(e, a[2])
	if evs := sessAudit(t, e, a[0].User.ID, "session_revoke"); len(evs) != 2 {
		t.Errorf("%d session_revoke audit events, want 2", len(evs))
	}
}

// TestSessionsDisabledUser: a disabled account's session neither refreshes nor
// authenticates. The account is made directly in the store (no admin API yet).
func TestSessionsDisabledUser(t *testing.T) {
	e := newTestEnv(t, nil)
	ctx := t.Context()
	now := e.clock.Now()
	mk := func(id string, disabled bool) (rt, at string) {
		t.Helper()
		u := store.User{
			ID: id, Email: strings.ToLower(id) + "@example.com", PasswordHash: "unused", Role: store.RoleUser,
			Lang: "en", Disabled: disabled, CreatedAt: now, UpdatedAt: now,
		}
		if err := e.app.Support().SeedUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		s := store.Session{
			ID: id + "S", UserID: id, CreatedAt: now, LastUsedAt: now, RotatedAt: now,
			IdleExpiresAt: now.Add(sessIdle), AbsoluteExpiresAt: now.Add(sessAbsolute),
		}
		if err := e.app.Support().SeedSession(ctx, s); err != nil {
			t.Fatal(err)
		}
		at, err := e.app.Support().AccessToken(id, s.ID, "USER", false)
		if err != nil {
			t.Fatal(err)
		}
		return e.app.Support().RefreshToken(s.ID, 0), at
	}
	// The same construction works for an enabled account, so what follows is due to the flag.
	okRT, okAT := mk("SESSENABLED", false)
	e.mustData(e.meReq(okAT), nil)
	e.refresh(okRT)

	rt, at := mk("SESSDISABLED", true)
	e.wantCode(e.meReq(at), "UNAUTHENTICATED")
	e.wantCode(e.gql(at, sessListQ, nil), "UNAUTHENTICATED")
	msg := e.wantCode(e.refreshReq(rt), "INVALID_REFRESH_TOKEN").Message
	if want := e.wantCode(e.refreshReq("rt1_bogus"), "INVALID_REFRESH_TOKEN").Message; msg != want {
		t.Errorf("disabled account message %q differs from %q", msg, want)
	}
}

// TestSessionsTwoServers: two instances on one data dir (shared store, keys and refresh
// secret) treat each other's tokens and revocations as their own.
func TestSessionsTwoServers(t *testing.T) {
	cfg := testConfig(t)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	clock := newTestClock()
	shared := sharedSQLite(t, cfg)
	e1 := startEnvWith(t, cfg, clock, app.Options{Store: shared()})
	e2 := startEnvWith(t, cfg, clock, app.Options{Store: shared()})

	t.Run("tokens cross", func(t *testing.T) {
		e1, e2 := sessSub(e1, t), sessSub(e2, t)
		reg := e1.register("sess-two@example.com", strongPassword)
		sessWantAlive(e2, reg)
		if l := sessList(e2, reg.AccessToken); len(l) != 1 || !l[0].Current {
			t.Fatalf("mySessions on server 2 = %+v", l)
		}
		p := e2.refresh(reg.RefreshToken)
		sessWantAlive(e1, p)
		// Within the grace window the other server answers the same current token.
		if g := e1.refresh(reg.RefreshToken); g.RefreshToken != p.RefreshToken {
			t.Errorf("grace answer on server 1 %q differs from server 2's %q", g.RefreshToken, p.RefreshToken)
		}
		in := e2.login("sess-two@example.com", strongPassword)
		if l := sessList(e1, in.AccessToken); len(l) != 2 {
			t.Errorf("mySessions on server 1 lists %d sessions, want 2", len(l))
		}
	})

	t.Run("replay on the other server revokes on both", func(t *testing.T) {
		e1, e2 := sessSub(e1, t), sessSub(e2, t)
		reg := e1.register("sess-two-replay@example.com", strongPassword)
		p := e1.refresh(reg.RefreshToken)
		clock.Advance(sessGrace + time.Second)
		e2.wantCode(e2.refreshReq(reg.RefreshToken), "INVALID_REFRESH_TOKEN")
		for _, e := range []*testEnv{e1, e2} {
			sessWantDead(e, p)
		}
		if len(sessAudit(t, e1, reg.User.ID, "refresh_reuse")) != 1 {
			t.Error("no refresh_reuse audit event")
		}
	})

	t.Run("logout on one ends the session on the other", func(t *testing.T) {
		e1, e2 := sessSub(e1, t), sessSub(e2, t)
		reg := e2.register("sess-two-logout@example.com", strongPassword)
		keep := e1.login("sess-two-logout@example.com", strongPassword)
		e1.mustData(e1.gql(reg.AccessToken, `mutation { logout }`, nil), nil)
		sessWantDead(e2, reg)
		sessWantDead(e1, reg)
		sessWantAlive(e2, keep)
		e2.mustData(e2.gql(keep.AccessToken, `mutation { logout(scope: ALL) }`, nil), nil)
		sessWantDead(e1, keep)
	})

	t.Run("revokeSession on one ends it on the other", func(t *testing.T) {
		e1, e2 := sessSub(e1, t), sessSub(e2, t)
		a := e1.register("sess-two-revoke@example.com", strongPassword)
		b := e2.login("sess-two-revoke@example.com", strongPassword)
		var resp struct{ RevokeSession bool }
		e2.mustData(e2.gql(a.AccessToken, `mutation($id: ID!) { revokeSession(id: $id) }`,
			map[string]any{"id": sessSID(t, b.AccessToken)}), &resp)
		if !resp.RevokeSession {
			t.Fatal("revokeSession answered false")
		}
		sessWantDead(e1, b)
		sessWantAlive(e1, a)
	})
}

// TestSessionsLongUserAgent: a user agent longer than the stored limit is cut, and what is
// listed is still text: a prefix of what was sent, valid UTF-8.
func TestSessionsLongUserAgent(t *testing.T) {
	e := newTestEnv(t, nil)
	ua := "SessAgent/" + strings.Repeat("€", 300) // 910 bytes; a 3-byte rune straddles any byte limit
	p := sessRegister(e, "sess-ua@example.com", ua)
	var resp struct {
		MySessions []struct{ UserAgent *string }
	}
	r := e.gql(p.AccessToken, `{ mySessions { userAgent } }`, nil)
	if !utf8.Valid(r.Raw) {
		t.Errorf("the mySessions response is not valid UTF-8 (ends %q)", r.Raw[len(r.Raw)-8:])
	}
	e.mustData(r, &resp)
	if len(resp.MySessions) != 1 || resp.MySessions[0].UserAgent == nil {
		t.Fatalf("mySessions = %+v", resp.MySessions)
	}
	got := *resp.MySessions[0].UserAgent
	if !utf8.ValidString(got) || !strings.HasPrefix(ua, got) || len(got) > 512 || len(got) < 500 {
		t.Errorf("stored user agent is %d bytes, valid UTF-8 %v, a prefix of the sent one %v; want a valid prefix of 510-512 bytes (ends %q)",
			len(got), utf8.ValidString(got), strings.HasPrefix(ua, got), got[max(0, len(got)-6):])
	}
	stored := sessStored(t, e, sessSID(t, p.AccessToken)).UserAgent
	if !utf8.ValidString(stored) {
		t.Errorf("the store holds an invalid UTF-8 user agent (ends %q)", stored[max(0, len(stored)-4):])
	}
}

// TestSessionsOneRefreshPerDocument: a document may hold one refreshToken only, so one
// request cannot both rotate a token and replay it (or race itself).
func TestSessionsOneRefreshPerDocument(t *testing.T) {
	e := newTestEnv(t, nil)
	reg := e.register("sess-doc@example.com", strongPassword)
	r := e.gql("", `mutation($rt: String!) {
		a: refreshToken(refreshToken: $rt) { refreshToken }
		b: refreshToken(refreshToken: $rt) { refreshToken }
	}`, map[string]any{"rt": reg.RefreshToken})
	e.wantCode(r, "GRAPHQL_VALIDATION_FAILED")
	if s := sessStored(t, e, sessSID(t, reg.AccessToken)); s.Counter != 0 || s.RevokedAt != nil {
		t.Fatalf("a refused document changed the session: counter %d revoked %v", s.Counter, s.RevokedAt)
	}
	e.refresh(reg.RefreshToken)
}
