package e2e

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/toktok/toktok/app"
)

// tracedEnv starts an app whose spans go to an in-memory exporter, as they would to
// --otlp-endpoint, with 127.0.0.1 a trusted proxy when trusted and the given sample ratio.
func tracedEnv(t *testing.T, trusted bool, ratio float64) (*testEnv, *tracetest.InMemoryExporter) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	cfg := testConfig(t)
	cfg.Log.TraceSampleRatio = ratio
	if trusted {
		cfg.HTTP.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	}
	e, _ := launch(t, cfg, newTestClock(), app.Options{SpanExporter: exp}, nil)
	return e, exp
}

// loginWithHeaders signs in as email with extra request headers.
func loginWithHeaders(e *testEnv, email string, hdr map[string]string) {
	e.t.Helper()
	body := benchBodyVars(`mutation($e:String!,$p:String!){login(input:{email:$e,password:$p}){accessToken}}`,
		map[string]any{"e": e.enc(email), "p": e.enc(strongPassword)})
	req, err := e.graphqlRequest(e.anon(), "application/json", body, hdr)
	if err != nil {
		e.t.Fatal(err)
	}
	e.mustData(e.send(req), nil)
}

// spanNamed is the last span called name, or nil.
func spanNamed(spans tracetest.SpanStubs, name string) *tracetest.SpanStub {
	for i := len(spans) - 1; i >= 0; i-- {
		if spans[i].Name == name {
			return &spans[i]
		}
	}
	return nil
}

// TestTracingSpans: with tracing on, a login is one trace: the server span of the HTTP
// request, the GraphQL operation under it (named by its root field, with its code), and
// under that the password check and the store calls; the outbox worker's send is a span
// of its own. No span carries the address or password.
func TestTracingSpans(t *testing.T) {
	e, exp := tracedEnv(t, false, 1)
	const email = "traced@example.com"
	e.register(email, strongPassword)
	exp.Reset()
	loginWithHeaders(e, email, nil)
	spans := exp.GetSpans()
	server, op, verify := spanNamed(spans, "POST graphql"), spanNamed(spans, "graphql login"), spanNamed(spans, "password.verify")
	if server == nil || op == nil || verify == nil {
		t.Fatalf("spans %v: want POST graphql, graphql login, password.verify", names(spans))
	}
	if server.SpanKind != trace.SpanKindServer || op.Parent.SpanID() != server.SpanContext.SpanID() ||
		verify.Parent.SpanID() != op.SpanContext.SpanID() {
		t.Errorf("not nested server > graphql login > password.verify: %v", names(spans))
	}
	stores := 0
	for _, s := range spans {
		if strings.HasPrefix(s.Name, "store.") {
			stores++
			if s.SpanContext.TraceID() != server.SpanContext.TraceID() {
				t.Errorf("%s outside the login's trace: a store call outside a request makes no span", s.Name)
			}
		}
		for _, a := range s.Attributes {
			if v := a.Value.Emit(); strings.Contains(v, email) || strings.Contains(v, strongPassword) {
				t.Errorf("%s: attribute %s = %q", s.Name, a.Key, v)
			}
		}
	}
	if stores == 0 {
		t.Errorf("no store span under the login: %v", names(spans))
	}
	if got := attr(op, "toktok.code"); got != "OK" {
		t.Errorf("graphql login code %q", got)
	}
	deadline := time.Now().Add(10 * time.Second)
	for spanNamed(exp.GetSpans(), "mail.send") == nil && time.Now().Before(deadline) {
		e.register("traced-mail@example.com", strongPassword)
		time.Sleep(50 * time.Millisecond)
	}
	if spanNamed(exp.GetSpans(), "mail.send") == nil {
		t.Errorf("no mail.send span")
	}
}

// TestTracingContinuesOnlyATrustedTrace: a traceparent from a trusted proxy continues its
// trace (and its sampling decision, even at ratio 0); a client's own is ignored. At ratio
// 0 a request without a trusted traceparent records nothing.
func TestTracingContinuesOnlyATrustedTrace(t *testing.T) {
	const traceID, parent = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	hdr := map[string]string{"traceparent": "00-" + traceID + "-" + parent + "-01"}
	for _, trusted := range []bool{true, false} {
		e, exp := tracedEnv(t, trusted, 0)
		e.register("tp@example.com", strongPassword)
		exp.Reset()
		loginWithHeaders(e, "tp@example.com", nil)
		if n := len(exp.GetSpans()); n != 0 {
			t.Errorf("trusted=%v: ratio 0 recorded %d spans", trusted, n)
		}
		loginWithHeaders(e, "tp@example.com", hdr)
		server := spanNamed(exp.GetSpans(), "POST graphql")
		if continued := server != nil && server.SpanContext.TraceID().String() == traceID; continued != trusted {
			t.Errorf("trusted=%v: trace continued %v (%v)", trusted, continued, names(exp.GetSpans()))
		}
	}
}

func names(spans tracetest.SpanStubs) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name)
	}
	return out
}

func attr(s *tracetest.SpanStub, key string) string {
	for _, a := range s.Attributes {
		if string(a.Key) == key {
			return a.Value.Emit()
		}
	}
	return ""
}

var _ sdktrace.SpanExporter = (*tracetest.InMemoryExporter)(nil)
