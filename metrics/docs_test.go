package metrics

import (
	"context"
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/toktok/toktok/store"
)

// exported is every metric name a Metrics exports once each of its series exists (the
// process and Go collectors' names included).
func exported(t *testing.T) map[string]bool {
	t.Helper()
	m := New(ReadBuild())
	m.Hashing(2, func() int { return 0 })(0)
	m.GraphQL("login", CodeOK, time.Millisecond)
	m.GraphQL("register", CodeOK, time.Millisecond)
	m.GraphQL("refreshToken", CodeOK, time.Millisecond)
	m.HTTP("graphql", 200, time.Millisecond)
	m.SecurityEvent("refresh_reuse", "failure")
	m.SecurityEvent("lockout", "failure")
	m.RateLimited("ip_login")
	m.MailOutcome("sent")
	m.OutboxStats(store.OutboxStats{}, time.Now())
	m.StoreCall("Ping", time.Millisecond, store.ErrUnavailable)
	m.LiveSessions(func(context.Context) (float64, error) { return 1, nil }, time.Now)
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, f := range fams {
		names[f.GetName()] = true
	}
	return names
}

var metricName = regexp.MustCompile(`\b(?:toktok|process|go)_[a-z0-9_]+\b`)

// checkExprs fails for each metric an expression names that TokTok does not export.
func checkExprs(t *testing.T, where string, exprs []string, names map[string]bool) {
	t.Helper()
	if len(exprs) == 0 {
		t.Fatalf("%s: no expressions found", where)
	}
	for _, e := range exprs {
		for _, n := range metricName.FindAllString(e, -1) {
			base := n
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				if b, ok := strings.CutSuffix(n, suffix); ok && names[b] {
					base = b
				}
			}
			if !names[base] {
				t.Errorf("%s: %q names %s, which TokTok does not export", where, e, n)
			}
		}
	}
}

// TestDashboardNamesExportedMetrics: docs/grafana/toktok-dashboard.json is valid JSON,
// importable (a Prometheus data source input, panels with targets), and every metric its
// queries name is one TokTok exports.
func TestDashboardNamesExportedMetrics(t *testing.T) {
	b, err := os.ReadFile("../docs/grafana/toktok-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Inputs []struct{ PluginID string } `json:"__inputs"`
		Title  string
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("not valid JSON: %v", err)
	}
	if d.Title == "" || len(d.Inputs) != 1 || d.Inputs[0].PluginID != "prometheus" || len(d.Panels) == 0 {
		t.Fatalf("not an importable dashboard: title %q, inputs %v, %d panels", d.Title, d.Inputs, len(d.Panels))
	}
	var exprs []string
	for _, p := range d.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
	}
	checkExprs(t, "dashboard", exprs, exported(t))
}

// TestAlertsNameExportedMetrics: the example alerts of docs/operations.md name only
// metrics TokTok exports.
func TestAlertsNameExportedMetrics(t *testing.T) {
	b, err := os.ReadFile("../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "### Example alerts")
	if !ok {
		t.Fatal("docs/operations.md has no Example alerts section")
	}
	_, block, _ := strings.Cut(rest, "```yaml\n")
	block, _, _ = strings.Cut(block, "```")
	var exprs []string
	for line := range strings.SplitSeq(block, "\n") {
		if e, ok := strings.CutPrefix(strings.TrimSpace(line), "expr: "); ok {
			exprs = append(exprs, e)
		}
	}
	checkExprs(t, "alerts", exprs, exported(t))
}
