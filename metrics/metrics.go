// Package metrics is TokTok's Prometheus instrumentation: one registry per app (no global
// state, so tests and several apps in one process do not share counters), the collectors
// the operations guide documents, and the handler that serves them.
//
// Cardinality is bounded by construction: every label value comes from a fixed set (the
// schema's root fields, the contract's error codes, our route names, our audit event
// types and limit names); nothing the caller sends (a user id, an email, an IP address, a
// token, a client-chosen operation name) ever becomes a label.
package metrics

import (
	"context"
	"errors"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/toktok/toktok/store"
)

// Namespace prefixes every TokTok metric.
const Namespace = "toktok"

// Build identifies the running binary: the module version and the VCS revision.
type Build struct {
	Version  string // module version, "(devel)" for a build from a checkout
	Revision string // VCS revision, "" when unknown
	Modified bool   // the working tree had local changes
	Go       string // the Go version that built it
}

// ReadBuild reads Build from the binary's embedded build information.
func ReadBuild() Build {
	b := Build{Version: "(devel)"}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return b
	}
	b.Go = bi.GoVersion
	if bi.Main.Version != "" {
		b.Version = bi.Main.Version
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Revision = s.Value
		case "vcs.modified":
			b.Modified = s.Value == "true"
		}
	}
	return b
}

// Metrics holds the collectors. Its methods are safe for concurrent use and cheap; a nil
// *Metrics records nothing, so code paths need no checks when metrics are off.
type Metrics struct {
	reg *prometheus.Registry

	gqlRequests  *prometheus.CounterVec
	gqlDuration  *prometheus.HistogramVec
	httpRequests *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec
	events       *prometheus.CounterVec
	logins       *prometheus.CounterVec
	registers    *prometheus.CounterVec
	refreshes    *prometheus.CounterVec
	replays      prometheus.Counter
	lockouts     prometheus.Counter
	rateLimited  *prometheus.CounterVec
	hashWait     prometheus.Observer
	mails        *prometheus.CounterVec
	outbox       [4]prometheus.Gauge // pending, due, failed, oldest pending age
	outboxOnce   sync.Once           // registers them at the first read: absent before
	storeCalls   *prometheus.HistogramVec
	storeErrors  *prometheus.CounterVec
}

// latencyBuckets span a cached `me` (well under a millisecond) to a login waiting for a
// hashing slot (seconds).
var latencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// New builds the collectors and registers them, with the process and Go runtime
// collectors and toktok_build_info, on a registry of their own.
func New(b Build) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: name, Help: help}, labels)
		m.reg.MustRegister(c)
		return c
	}
	histogram := func(name, help string, labels ...string) *prometheus.HistogramVec {
		h := prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Name: name, Help: help, Buckets: latencyBuckets,
		}, labels)
		m.reg.MustRegister(h)
		return h
	}
	m.gqlRequests = counter("graphql_requests_total",
		"GraphQL operations by root field (\"invalid\" when the document did not validate, \"multiple\" for several root fields) and result code (OK or the contract's error code).",
		"operation", "code")
	m.gqlDuration = histogram("graphql_request_duration_seconds",
		"Time from reading a GraphQL request to its response, by root field.", "operation")
	m.httpRequests = counter("http_requests_total", "HTTP requests by route and status code.", "handler", "code")
	m.httpDuration = histogram("http_request_duration_seconds", "HTTP request latency by route.", "handler")
	m.events = counter("security_events_total",
		"Security events (the audit log's types) by outcome.", "type", "outcome")
	m.logins = counter("logins_total", "login mutations by result (success, or the error code lower-cased).", "result")
	m.registers = counter("registrations_total", "register mutations by result.", "result")
	m.refreshes = counter("refreshes_total", "refreshToken mutations by result.", "result")
	m.replays = counter("refresh_replays_total", "Refresh tokens presented again after rotation (the session is revoked).").WithLabelValues()
	m.lockouts = counter("lockouts_total", "Accounts locked out after repeated failed logins.").WithLabelValues()
	m.rateLimited = counter("rate_limited_total", "Requests refused by a rate limit, by limit.", "limit")
	m.hashWait = histogram("password_hash_wait_seconds",
		"How long each password hash or check waited for a hashing slot (0 when one was free).").WithLabelValues()
	m.storeCalls = histogram("store_call_duration_seconds", "Store calls by method, successful or not.", "op")
	m.storeErrors = counter("store_errors_total",
		"Store calls that returned an error, by method and kind: not_found and conflict are answers (an unknown id, a lost race); unavailable, canceled and other are failures.",
		"op", "kind")
	m.mails = counter("mails_total", "Mail sends recorded by the outbox worker, by outcome (sent, retried, failed).", "outcome")
	for i, g := range [...]struct{ name, help string }{
		{"outbox_pending", "Mails neither sent nor failed (the outbox's depth)"},
		{"outbox_due", "Pending mails due now (waiting for no backoff)"},
		{"outbox_failed", "Mails kept as failed (for about a week)"},
		{"outbox_oldest_pending_age_seconds", "How long the oldest pending mail has waited (0 when none)"},
	} {
		m.outbox[i] = prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: Namespace, Name: g.name,
			Help: g.help + ", as the outbox worker's backlog watch last read it (about every minute).",
		})
	}
	info := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: Namespace, Name: "build_info",
		Help: "Always 1; the labels name the module version, VCS revision and Go version of the binary.",
	}, []string{"version", "revision", "modified", "goversion"})
	info.WithLabelValues(b.Version, b.Revision, strconv.FormatBool(b.Modified), b.Go).Set(1)
	m.reg.MustRegister(info,
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewGoCollector())
	return m
}

// Registry is where further collectors of the app register (gauges sampled from the
// outbox or the store, say).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in Prometheus's text (or negotiated) exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// GraphQL records one GraphQL response: its root field (operation), its code and how long
// it took. The business counters of login, register and refreshToken follow from it.
func (m *Metrics) GraphQL(operation, code string, d time.Duration) {
	if m == nil {
		return
	}
	m.gqlRequests.WithLabelValues(operation, code).Inc()
	m.gqlDuration.WithLabelValues(operation).Observe(d.Seconds())
	result := "success"
	if code != CodeOK {
		result = strings.ToLower(code)
	}
	switch operation {
	case "login":
		m.logins.WithLabelValues(result).Inc()
	case "register":
		m.registers.WithLabelValues(result).Inc()
	case "refreshToken":
		m.refreshes.WithLabelValues(result).Inc()
	}
}

// CodeOK is the code label of a GraphQL response without errors.
const CodeOK = "OK"

// HTTP records one HTTP request to a named route.
func (m *Metrics) HTTP(handler string, status int, d time.Duration) {
	if m == nil {
		return
	}
	m.httpRequests.WithLabelValues(handler, strconv.Itoa(status)).Inc()
	m.httpDuration.WithLabelValues(handler).Observe(d.Seconds())
}

// SecurityEvent records an audit event by type and outcome; refresh_reuse and lockout
// also count in their own counters.
func (m *Metrics) SecurityEvent(typ, outcome string) {
	if m == nil {
		return
	}
	m.events.WithLabelValues(typ, outcome).Inc()
	switch typ {
	case "refresh_reuse":
		m.replays.Inc()
	case "lockout":
		m.lockouts.Inc()
	}
}

// Hashing registers the hashing slots' gauges, read at each scrape (slots, and busy from
// the function), and returns the observer of each derivation's wait for a slot, for
// password.Hasher.SetSlotObserver.
func (m *Metrics) Hashing(slots int, busy func() int) func(time.Duration) {
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "password_hash_slots", Help: "How many password derivations may run at once.",
		}, func() float64 { return float64(slots) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "password_hash_slots_busy", Help: "Password derivations running now.",
		}, func() float64 { return float64(busy()) }))
	return func(d time.Duration) { m.hashWait.Observe(d.Seconds()) }
}

// MailOutcome counts one recorded outcome of the outbox worker (mailer.WorkerConfig.OnOutcome).
func (m *Metrics) MailOutcome(outcome string) {
	if m == nil {
		return
	}
	m.mails.WithLabelValues(outcome).Inc()
}

// OutboxStats sets the outbox gauges from a read of its stats at now
// (mailer.WorkerConfig.OnStats). They are absent from /metrics until the first read, so
// that no one mistakes "not read yet" for an empty outbox.
func (m *Metrics) OutboxStats(st store.OutboxStats, now time.Time) {
	if m == nil {
		return
	}
	m.outboxOnce.Do(func() {
		for _, g := range m.outbox {
			m.reg.MustRegister(g)
		}
	})
	m.outbox[0].Set(float64(st.Pending))
	m.outbox[1].Set(float64(st.Due))
	m.outbox[2].Set(float64(st.Failed))
	m.outbox[3].Set(st.OldestAge(now).Seconds())
}

// StoreCall records one store call (store/observed's Observer): its method, duration and
// error.
func (m *Metrics) StoreCall(op string, took time.Duration, err error) {
	if m == nil {
		return
	}
	m.storeCalls.WithLabelValues(op).Observe(took.Seconds())
	if err != nil {
		m.storeErrors.WithLabelValues(op, ErrorKind(err)).Inc()
	}
}

// ErrorKind classifies a store error by its sentinel: not_found and conflict are answers
// (an unknown id, a lost race), unavailable, canceled and other are failures.
func ErrorKind(err error) string {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return "not_found"
	case errors.Is(err, store.ErrConflict):
		return "conflict"
	case errors.Is(err, store.ErrUnavailable):
		return "unavailable"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "canceled"
	}
	return "other"
}

// RateLimited records a request refused by the named limit.
func (m *Metrics) RateLimited(limit string) {
	if m == nil {
		return
	}
	m.rateLimited.WithLabelValues(limit).Inc()
}
