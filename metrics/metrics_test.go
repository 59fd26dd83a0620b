package metrics

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/toktok/toktok/store"
)

func scrape(t *testing.T, m *Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	var p expfmt.TextParser
	fams, err := p.TextToMetricFamilies(strings.NewReader(rec.Body.String()))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, rec.Body.String())
	}
	return fams
}

// TestMetrics: what each method records, as Prometheus's parser reads it back: the
// business counters derived from GraphQL results, build info, the hashing gauges read at
// scrape time, the outbox gauges absent until their first read; and a nil *Metrics
// records nothing without failing.
func TestMetrics(t *testing.T) {
	var none *Metrics
	none.GraphQL("login", CodeOK, time.Millisecond)
	none.HTTP("graphql", 200, time.Millisecond)
	none.SecurityEvent("lockout", "failure")
	none.RateLimited("ip_login")
	none.MailOutcome("sent")
	none.OutboxStats(store.OutboxStats{}, time.Now())

	m := New(Build{Version: "v9.9.9", Revision: "abc", Go: "go1.26"})
	busy := 1
	observe := m.Hashing(4, func() int { return busy })
	observe(0)
	observe(30 * time.Millisecond)
	m.GraphQL("login", "RATE_LIMITED", 2*time.Millisecond)
	m.GraphQL("refreshToken", CodeOK, time.Millisecond)
	m.SecurityEvent("lockout", "failure")
	fams := scrape(t, m)
	if _, ok := fams["toktok_outbox_pending"]; ok {
		t.Errorf("outbox gauges before any read")
	}
	now := time.Now()
	m.OutboxStats(store.OutboxStats{Pending: 5, Due: 2, Failed: 1, OldestCreatedAt: now.Add(-90 * time.Second)}, now)
	m.OutboxStats(store.OutboxStats{Pending: 4, Due: 2, Failed: 1, OldestCreatedAt: now.Add(-90 * time.Second)}, now)
	fams = scrape(t, m)
	value := func(name string, labels ...string) float64 {
		f, ok := fams[name]
		if !ok {
			return -1
		}
	next:
		for _, x := range f.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, l := range x.GetLabel() {
					found = found || l.GetName() == labels[i] && l.GetValue() == labels[i+1]
				}
				if !found {
					continue next
				}
			}
			switch {
			case x.Counter != nil:
				return x.Counter.GetValue()
			case x.Gauge != nil:
				return x.Gauge.GetValue()
			case x.Histogram != nil:
				return float64(x.Histogram.GetSampleCount())
			}
		}
		return -1
	}
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"toktok_logins_total", []string{"result", "rate_limited"}, 1},
		{"toktok_refreshes_total", []string{"result", "success"}, 1},
		{"toktok_lockouts_total", nil, 1},
		{"toktok_build_info", []string{"version", "v9.9.9", "revision", "abc"}, 1},
		{"toktok_password_hash_slots", nil, 4},
		{"toktok_password_hash_slots_busy", nil, 1},
		{"toktok_password_hash_wait_seconds", nil, 2},
		{"toktok_outbox_pending", nil, 4},
		{"toktok_outbox_due", nil, 2},
		{"toktok_outbox_oldest_pending_age_seconds", nil, 90},
	} {
		if got := value(c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	busy = 3
	if got := scrape(t, m)["toktok_password_hash_slots_busy"].GetMetric()[0].GetGauge().GetValue(); got != 3 {
		t.Errorf("busy read at scrape time: %v, want 3", got)
	}
}
