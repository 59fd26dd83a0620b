package e2e

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/toktok/toktok/config"
)

// scrape reads /metrics from e's main listener and parses it with Prometheus's own text
// parser.
func (e *testEnv) scrape() map[string]*dto.MetricFamily {
	e.t.Helper()
	resp, err := e.srv.Client().Get(e.srv.URL + "/metrics")
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		e.t.Fatalf("GET /metrics: HTTP %d, %v: %.200s", resp.StatusCode, err, body)
	}
	var p expfmt.TextParser
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		e.t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

// metricValue is the value of the counter, gauge or (the sample count of the) histogram
// name whose labels include want; -1 when there is none.
func metricValue(fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	f, ok := fams[name]
	if !ok {
		return -1
	}
next:
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if labels[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return -1
}

// TestMetricsCountTheFlows: the requests a front end makes show in /metrics, parsed by
// Prometheus's parser: operations by root field and code with their latency, the login,
// registration and refresh counters by result, replays, rate-limit refusals by limit,
// security events, HTTP routes, build info, process and Go runtime metrics; and no label
// carries an address, an IP or a token.
func TestMetricsCountTheFlows(t *testing.T) {
	e := newTestEnv(t, func(c *config.Config) {
		c.Token.RefreshGrace = 0 // the second use of a refresh token is a replay
		c.Limits.IPRegister = config.Rate{N: 1, Window: time.Hour}
	})
	const email = "metrics@example.com"
	p := e.register(email, strongPassword)
	e.wantCode(e.registerReq("metrics2@example.com", strongPassword, nil), "RATE_LIMITED")
	e.login(email, strongPassword)
	e.wantCode(e.loginReq(email, "wrong password, certainly"), "INVALID_CREDENTIALS")
	e.meReq(p.AccessToken)
	e.refresh(p.RefreshToken)
	e.wantCode(e.refreshReq(p.RefreshToken), "INVALID_REFRESH_TOKEN") // a replay

	fams := e.scrape()
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"toktok_graphql_requests_total", map[string]string{"operation": "login", "code": "OK"}, 1},
		{"toktok_graphql_requests_total", map[string]string{"operation": "login", "code": "INVALID_CREDENTIALS"}, 1},
		{"toktok_graphql_requests_total", map[string]string{"operation": "register", "code": "RATE_LIMITED"}, 1},
		{"toktok_graphql_request_duration_seconds", map[string]string{"operation": "login"}, 2},
		{"toktok_logins_total", map[string]string{"result": "success"}, 1},
		{"toktok_logins_total", map[string]string{"result": "invalid_credentials"}, 1},
		{"toktok_registrations_total", map[string]string{"result": "success"}, 1},
		{"toktok_registrations_total", map[string]string{"result": "rate_limited"}, 1},
		{"toktok_refreshes_total", map[string]string{"result": "success"}, 1},
		{"toktok_refreshes_total", map[string]string{"result": "invalid_refresh_token"}, 1},
		{"toktok_refresh_replays_total", nil, 1},
		{"toktok_rate_limited_total", map[string]string{"limit": "ip_register"}, 1},
		{"toktok_security_events_total", map[string]string{"type": "login", "outcome": "success"}, 1},
		{"toktok_security_events_total", map[string]string{"type": "refresh_reuse", "outcome": "failure"}, 1},
		{"toktok_build_info", nil, 1},
		// The login's session; the registration's ended with the replay.
		{"toktok_sessions_active", nil, 1},
	} {
		if got := metricValue(fams, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if got := metricValue(fams, "toktok_graphql_requests_total", map[string]string{"operation": "me", "code": "OK"}); got < 1 {
		t.Errorf("me not counted: %v", got)
	}
	if got := metricValue(fams, "toktok_http_requests_total", map[string]string{"handler": "graphql", "code": "200"}); got < 7 {
		t.Errorf("GraphQL HTTP requests counted %v, want 7 at least", got)
	}
	// The replay's rotation lost on the counter: a conflict (through the one-statement
	// rotation where the store has it).
	if a, b := metricValue(fams, "toktok_store_errors_total", map[string]string{"op": "AdvanceSessionWithUser", "kind": "conflict"}),
		metricValue(fams, "toktok_store_errors_total", map[string]string{"op": "AdvanceSession", "kind": "conflict"}); a < 1 && b < 1 {
		t.Errorf("the replay's conflict not counted: %v, %v", a, b)
	}
	if got := metricValue(fams, "toktok_store_call_duration_seconds", map[string]string{"op": "CreateUser"}); got != 1 {
		t.Errorf("CreateUser calls observed: %v, want 1", got)
	}
	// register hashes, each login checks: three derivations, each observed waiting.
	if got := metricValue(fams, "toktok_password_hash_wait_seconds", nil); got < 3 {
		t.Errorf("hash waits observed %v, want 3 at least", got)
	}
	if got := metricValue(fams, "toktok_password_hash_slots", nil); got != float64(e.cfg.Password.Concurrency) && e.cfg.Password.Concurrency > 0 {
		t.Errorf("hash slots %v, want %d", got, e.cfg.Password.Concurrency)
	}
	if got := metricValue(fams, "toktok_password_hash_slots_busy", nil); got != 0 {
		t.Errorf("hash slots busy at rest: %v", got)
	}
	// The confirmation mail goes out through the worker, which also reads the outbox's
	// stats when it starts.
	deadline := time.Now().Add(10 * time.Second)
	for metricValue(fams, "toktok_mails_total", map[string]string{"outcome": "sent"}) < 1 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		fams = e.scrape()
	}
	if got := metricValue(fams, "toktok_mails_total", map[string]string{"outcome": "sent"}); got < 1 {
		t.Errorf("mails sent: %v", got)
	}
	for _, name := range []string{"toktok_outbox_pending", "toktok_outbox_due", "toktok_outbox_failed", "toktok_outbox_oldest_pending_age_seconds"} {
		if got := metricValue(fams, name, nil); got < 0 {
			t.Errorf("%s = %v", name, got)
		}
	}
	for _, name := range []string{"process_resident_memory_bytes", "go_goroutines", "go_gc_duration_seconds"} {
		if _, ok := fams[name]; !ok {
			t.Errorf("%s missing", name)
		}
	}
	// Bounded cardinality: nothing a caller sent is a label value.
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				v := l.GetValue()
				if strings.Contains(v, "@") || strings.Contains(v, "127.0.0.1") || strings.Contains(v, p.User.ID) ||
					len(v) > 64 && name != "toktok_build_info" {
					t.Errorf("%s{%s=%q}: a label holds caller data", name, l.GetName(), v)
				}
			}
		}
	}
}
