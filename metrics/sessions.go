package metrics

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// LiveSessionsMaxAge is how long a reading of the active-sessions gauge serves scrapes:
// a scrape reads the store at most once a minute, however often Prometheus asks.
const LiveSessionsMaxAge = time.Minute

// liveSessionsTimeout bounds one reading, so that a slow store makes a scrape go without
// the gauge rather than hang.
const liveSessionsTimeout = 5 * time.Second

// LiveSessions registers toktok_sessions_active, read by read at a scrape when the last
// reading is older than LiveSessionsMaxAge (now is the clock). A failed reading keeps the
// previous one for another LiveSessionsMaxAge, then the gauge goes absent: a missing
// series, not a stale number, says the store could not be read.
func (m *Metrics) LiveSessions(read func(context.Context) (float64, error), now func() time.Time) {
	if m == nil {
		return
	}
	m.reg.MustRegister(&cachedGauge{
		desc: prometheus.NewDesc(Namespace+"_sessions_active",
			"Sessions live now (not revoked, neither expiry passed): exact up to 10 000, above that estimated from a sample of session id ranges (about ±1.5 %, one standard deviation). Read at most once a minute; every instance sharing a store reports the same figure.",
			nil, nil),
		read: read, now: now, maxAge: LiveSessionsMaxAge,
	})
}

// cachedGauge is a gauge whose value is read on demand and kept for maxAge.
type cachedGauge struct {
	desc   *prometheus.Desc
	read   func(context.Context) (float64, error)
	now    func() time.Time
	maxAge time.Duration

	mu     sync.Mutex // one reading at a time; concurrent scrapes wait for it
	value  float64
	readAt time.Time // of value; zero before the first successful reading
	tried  time.Time // of the last attempt, successful or not
}

func (c *cachedGauge) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *cachedGauge) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if c.tried.IsZero() || now.Sub(c.tried) >= c.maxAge {
		c.tried = now
		ctx, cancel := context.WithTimeout(context.Background(), liveSessionsTimeout)
		v, err := c.read(ctx)
		cancel()
		if err == nil {
			c.value, c.readAt = v, now
		}
	}
	if c.readAt.IsZero() || now.Sub(c.readAt) >= 2*c.maxAge {
		return
	}
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, c.value)
}
