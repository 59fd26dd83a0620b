package e2e

import (
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/toktok/toktok/app"
	"github.com/toktok/toktok/config"
)

// The tests of the settings (issue 8): each setting of the configuration table has a test
// that shows it changing what the service does, and that fails when the setting is
// ignored. They live in settings_*_test.go, are all named TestSettings*, and share the
// helpers below. The map from every flag to its test is in docs/testing.md.

// settingsWait bounds every wait of these tests. It guards against a hanging test; no
// test measures time with it.
const settingsWait = 10 * time.Second

// settingsStart starts the app on cfg (which it validates) with opts behind a test HTTP
// server, on the test clock. Unlike startEnvWith it keeps opts.Log, for the tests that
// read the log; without one the log is discarded.
func settingsStart(t *testing.T, cfg config.Config, clock *testClock, opts app.Options) *testEnv {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	var next slog.Handler
	if opts.Log != nil {
		next = opts.Log.Handler()
	}
	e, _ := launch(t, cfg, clock, opts, next)
	return e
}

// settingsPlain is testConfig with the credential fields in clear and no anonymous token,
// for tests about something else: one request per operation.
func settingsPlain(t *testing.T) config.Config {
	cfg := testConfig(t)
	cfg.Credentials.Encrypt, cfg.Account.AnonJWT = false, false
	return cfg
}

// settingsUntil polls cond every few milliseconds until it holds, and fails the test when
// it does not within settingsWait; what (called on failure) says what was awaited and
// what was seen.
func settingsUntil(t *testing.T, cond func() bool, what func() string) {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.NewTimer(settingsWait)
	defer deadline.Stop()
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline.C:
			t.Fatalf("not within %v: %s", settingsWait, what())
		case <-t.Context().Done():
			t.Fatal("test ended while waiting")
		}
	}
}

// settingsFrom sends one operation as a client at ip behind the trusted proxy (the test
// server's peer is 127.0.0.1, which the config must list in --trusted-proxies).
func settingsFrom(e *testEnv, ip, bearer, query string, vars map[string]any) gqlResponse {
	e.t.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		e.t.Fatal(err)
	}
	return e.post(bearer, "application/json", body, map[string]string{"X-Forwarded-For": ip})
}

// settingsRetryAfter returns the retryAfter of a RATE_LIMITED answer, failing the test
// on any other answer.
func settingsRetryAfter(t *testing.T, r gqlResponse) int {
	t.Helper()
	if r.Code() != "RATE_LIMITED" {
		t.Fatalf("want RATE_LIMITED, got HTTP %d: %s", r.Status, r.Raw)
	}
	ra, ok := r.Errors[0].Extensions["retryAfter"].(float64)
	if !ok || ra <= 0 {
		t.Fatalf("RATE_LIMITED without a positive retryAfter: %s", r.Raw)
	}
	return int(ra)
}
