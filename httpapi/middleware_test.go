package httpapi

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/toktok/toktok/account"
	"github.com/toktok/toktok/token"
)

func prefixes(t *testing.T, ss ...string) []netip.Prefix {
	t.Helper()
	var out []netip.Prefix
	for _, s := range ss {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

func TestClientIP(t *testing.T) {
	proxies := prefixes(t, "10.0.0.0/8", "2001:db8:1::/48")
	for _, tc := range []struct {
		name, remote string
		xff          []string // one header value per line
		trusted      []netip.Prefix
		want         string
	}{
		{name: "direct client", remote: "203.0.113.7:5555", want: "203.0.113.7"},
		{name: "forwarded-for ignored without trusted proxies", remote: "203.0.113.7:5555", xff: []string{"6.6.6.6"}, want: "203.0.113.7"},
		{name: "forwarded-for ignored from an untrusted peer", remote: "203.0.113.7:5555", xff: []string{"6.6.6.6"}, trusted: proxies, want: "203.0.113.7"},
		{name: "trusted proxy: right-most untrusted hop", remote: "10.1.2.3:80", xff: []string{"6.6.6.6, 198.51.100.9"}, trusted: proxies, want: "198.51.100.9"},
		{name: "chain of trusted proxies is skipped", remote: "10.1.2.3:80", xff: []string{"198.51.100.9, 10.9.9.9, 10.8.8.8"}, trusted: proxies, want: "198.51.100.9"},
		{name: "several header lines count as one list", remote: "10.1.2.3:80", xff: []string{"6.6.6.6", "198.51.100.9"}, trusted: proxies, want: "198.51.100.9"},
		{name: "ip:port hop", remote: "10.1.2.3:80", xff: []string{"198.51.100.9:4444"}, trusted: proxies, want: "198.51.100.9"},
		{name: "bracketed IPv6 hop with port", remote: "10.1.2.3:80", xff: []string{"[2001:db8:2::5]:4444"}, trusted: proxies, want: "2001:db8:2::5"},
		{name: "garbage hop stops the walk at the peer", remote: "10.1.2.3:80", xff: []string{"6.6.6.6, not-an-ip"}, trusted: proxies, want: "10.1.2.3"},
		{name: "only trusted hops: the peer", remote: "10.1.2.3:80", xff: []string{"10.4.4.4"}, trusted: proxies, want: "10.1.2.3"},
		{name: "IPv6 peer", remote: "[2001:db8:9::1]:443", want: "2001:db8:9::1"},
		{name: "IPv6 trusted proxy", remote: "[2001:db8:1::7]:443", xff: []string{"2001:db8:77::1"}, trusted: proxies, want: "2001:db8:77::1"},
		{name: "IPv4-mapped peer is unmapped", remote: "[::ffff:203.0.113.7]:80", want: "203.0.113.7"},
		{name: "IPv4-mapped trusted proxy matches its IPv4 prefix", remote: "[::ffff:10.1.2.3]:80", xff: []string{"198.51.100.9"}, trusted: proxies, want: "198.51.100.9"},
		{name: "IPv4-mapped hop is unmapped", remote: "10.1.2.3:80", xff: []string{"::ffff:198.51.100.9"}, trusted: proxies, want: "198.51.100.9"},
		{name: "remote without port", remote: "203.0.113.7", want: "203.0.113.7"},
		{name: "unparsable remote is kept as is", remote: "pipe", want: "pipe"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/graphql", nil)
			r.RemoteAddr = tc.remote
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := clientIP(r, tc.trusted); got != tc.want {
				t.Errorf("clientIP = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestClientInfoPutsIPAndAgentInContext(t *testing.T) {
	var got account.Client
	h := clientInfo(nil, http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		got = account.ClientFrom(r.Context())
	}))
	r := httptest.NewRequest(http.MethodPost, "/graphql", nil)
	r.RemoteAddr = "203.0.113.7:1"
	r.Header.Set("User-Agent", "spa/1.0")
	h.ServeHTTP(httptest.NewRecorder(), r)
	if got.IP != "203.0.113.7" || got.UserAgent != "spa/1.0" {
		t.Fatalf("client = %+v", got)
	}
}

func TestOriginAllowed(t *testing.T) {
	listed := []string{"https://app.example.com", "https://Admin.Example.com/"}
	for _, tc := range []struct {
		origin string
		dev    bool
		want   bool
	}{
		{"https://app.example.com", false, true},
		{"https://APP.example.com", false, true},   // host names are case-insensitive
		{"https://admin.example.com", false, true}, // a configured trailing slash is ignored
		{"http://app.example.com", false, false},   // another scheme is another origin
		{"https://app.example.com:8443", false, false},
		{"https://evil.example.com", false, false},
		{"https://app.example.com.evil.test", false, false},
		{"http://localhost:5173", false, false}, // loopback only in development modes
		{"http://localhost:5173", true, true},
		{"http://127.0.0.1:3000", true, true},
		{"http://[::1]:3000", true, true},
		{"https://app.localhost", true, true},
		{"http://localhost.evil.test", true, false},
		{"http://10.0.0.1:3000", true, false},
		{"file://localhost", true, false},
		{"null", true, false},
		{"", true, false},
	} {
		if got := originAllowed(listed, tc.dev)(tc.origin); got != tc.want {
			t.Errorf("originAllowed(%q, dev=%v) = %v, want %v", tc.origin, tc.dev, got, tc.want)
		}
	}
}

func TestSecurityHeadersAndBodyLimit(t *testing.T) {
	var readErr error
	h := securityHeaders(1024, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		buf := make([]byte, 4096)
		for readErr == nil {
			_, readErr = r.Body.Read(buf)
		}
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(strings.Repeat("x", 2000))))
	if rec.Header().Get("X-Content-Type-Options") != "nosniff" || rec.Header().Get("X-Frame-Options") != "DENY" {
		t.Errorf("headers = %v", rec.Header())
	}
	var tooBig *http.MaxBytesError
	if !errors.As(readErr, &tooBig) || tooBig.Limit != 1024 {
		t.Errorf("reading 2000 bytes through a 1024-byte limit: %v", readErr)
	}
}

func TestNoStore(t *testing.T) {
	rec := httptest.NewRecorder()
	noStore(http.NotFoundHandler()).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/graphql", nil))
	if rec.Header().Get("Cache-Control") != "no-store" || rec.Header().Get("Pragma") != "no-cache" {
		t.Errorf("headers = %v", rec.Header())
	}
}

func TestAuthenticate(t *testing.T) {
	key, _, err := token.LoadOrGenerateKey(token.ES256, t.TempDir()+"/k.pem")
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := token.New(token.Config{Issuer: "http://toktok.test", Audience: "toktok"}, key)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	access, _, err := tokens.IssueAccess("U1", "S1", "USER", true, now)
	if err != nil {
		t.Fatal(err)
	}
	anon, _, err := tokens.IssueAnonymous(now)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, header string
		at           time.Time
		want         account.Kind
	}{
		{"no header", "", now, account.KindNone},
		{"access token", "Bearer " + access, now, account.KindAccess},
		{"scheme is case-insensitive", "bearer " + access, now, account.KindAccess},
		{"anonymous token", "Bearer " + anon, now, account.KindAnonymous},
		{"expired access token", "Bearer " + access, now.Add(time.Hour), account.KindInvalid},
		{"another scheme", "Basic dXNlcjpwYXNz", now, account.KindInvalid},
		{"garbage", "Bearer not.a.token", now, account.KindInvalid},
		{"no token", "Bearer", now, account.KindInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got account.Auth
			h := authenticate(tokens, func() time.Time { return tc.at }, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got = account.AuthFrom(r.Context())
			}))
			r := httptest.NewRequest(http.MethodPost, "/graphql", nil)
			if tc.header != "" {
				r.Header.Set("Authorization", tc.header)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			if got.Kind != tc.want {
				t.Fatalf("kind = %v, want %v", got.Kind, tc.want)
			}
			if tc.want == account.KindAccess && (got.Access.UserID != "U1" || got.Access.SessionID != "S1") {
				t.Errorf("claims = %+v", got.Access)
			}
			if rec.Code != http.StatusOK || rec.Body.Len() != 0 {
				t.Errorf("authenticate answered the request itself: %d %q", rec.Code, rec.Body)
			}
		})
	}
}
