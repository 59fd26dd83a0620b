package e2e

import (
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/toktok/toktok/app"
)

// postWithID posts a failed login with the given X-Request-Id ("" for none) and returns
// the id the response names.
func postWithID(t *testing.T, e *testEnv, id string) string {
	t.Helper()
	body := benchBodyVars(`mutation($e:String!,$p:String!){login(input:{email:$e,password:$p}){accessToken}}`,
		map[string]any{"e": e.enc("nobody@example.com"), "p": e.enc("not the password at all")})
	hdr := map[string]string{}
	if id != "" {
		hdr["X-Request-Id"] = id
	}
	req, err := e.graphqlRequest(e.anon(), "application/json", body, hdr)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("HTTP %d", resp.StatusCode)
	}
	return resp.Header.Get("X-Request-Id")
}

// TestRequestID: every response names its request's id in X-Request-Id and the log lines
// about the request carry it (request_id); a client's own X-Request-Id is believed only
// from a trusted proxy, and only when it looks like an id.
func TestRequestID(t *testing.T) {
	for _, trusted := range []bool{false, true} {
		logs := &settingsBuffer{}
		cfg := testConfig(t)
		if trusted {
			cfg.HTTP.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
		}
		e, _ := launch(t, cfg, newTestClock(), app.Options{}, slog.NewTextHandler(logs, nil))

		a, b := postWithID(t, e, ""), postWithID(t, e, "")
		if len(a) < 20 || a == b {
			t.Errorf("trusted=%v: generated ids %q and %q", trusted, a, b)
		}
		if !strings.Contains(logs.String(), "request_id="+a) {
			t.Errorf("trusted=%v: no log line names request %s:\n%s", trusted, a, logs.String())
		}
		const mine = "proxy-7f3c9a1e-0001"
		got := postWithID(t, e, mine)
		if (got == mine) != trusted {
			t.Errorf("trusted=%v: X-Request-Id %q sent, %q answered", trusted, mine, got)
		}
		if trusted && !strings.Contains(logs.String(), "request_id="+mine) {
			t.Errorf("the proxy's id is not in the log")
		}
		for _, bad := range []string{"has space", strings.Repeat("x", 129), "quote\"d"} {
			if got := postWithID(t, e, bad); got == bad || got == "" {
				t.Errorf("trusted=%v: X-Request-Id %q answered as %q", trusted, bad, got)
			}
		}
		// Every route has one, not only /graphql.
		resp, err := e.srv.Client().Get(e.srv.URL + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.Header.Get("X-Request-Id") == "" {
			t.Errorf("/healthz without X-Request-Id")
		}
	}
}
