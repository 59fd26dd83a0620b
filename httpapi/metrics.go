package httpapi

import (
	"context"
	"net/http"
	"net/netip"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/toktok/toktok/internal/reqid"
	"github.com/toktok/toktok/metrics"
	"github.com/toktok/toktok/tracing"
)

// gqlObserve is the gqlgen extension that watches each GraphQL response: its root field
// and code, counted and timed in the metrics (metrics.Metrics.GraphQL, m nil: none) and
// made a span (tracer nil: none) whose children are the store and hashing spans of its
// resolvers. The root field and code are worked out once for both.
type gqlObserve struct {
	m      *metrics.Metrics
	tracer trace.Tracer
}

var (
	_ graphql.HandlerExtension    = gqlObserve{}
	_ graphql.ResponseInterceptor = gqlObserve{}
)

func (gqlObserve) ExtensionName() string                   { return "Observe" }
func (gqlObserve) Validate(graphql.ExecutableSchema) error { return nil }
func (g gqlObserve) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	var span trace.Span
	if g.tracer != nil {
		ctx, span = g.tracer.Start(ctx, "graphql")
	}
	resp := next(ctx)
	op, start := "invalid", time.Now()
	if graphql.HasOperationContext(ctx) {
		oc := graphql.GetOperationContext(ctx)
		if oc.Operation != nil {
			op = rootField(oc.Operation.SelectionSet)
			if span != nil {
				span.SetAttributes(attribute.String("graphql.operation.type", string(oc.Operation.Operation)))
			}
		}
		if !oc.Stats.OperationStart.IsZero() {
			start = oc.Stats.OperationStart
		}
	}
	code := metrics.CodeOK
	if resp != nil && len(resp.Errors) > 0 {
		code = knownCode(resp.Errors[0].Extensions["code"])
	}
	if resp != nil {
		g.m.GraphQL(op, code, time.Since(start))
	}
	if span != nil {
		span.SetName("graphql " + op)
		span.SetAttributes(attribute.String("graphql.operation.name", op), attribute.String("toktok.code", code))
		if code == "INTERNAL" || code == "UNAVAILABLE" {
			span.SetStatus(codes.Error, code)
		}
		span.End()
	}
	return resp
}

// rootField names an operation by its root field: the schema's name (not an alias, not
// the client's operation name, which is free text), "multiple" for several.
func rootField(set ast.SelectionSet) string {
	name := ""
	for _, sel := range set {
		f, ok := sel.(*ast.Field)
		if !ok {
			return "multiple" // a fragment at the root: count it as several
		}
		if f.Definition == nil {
			return "invalid"
		}
		if name != "" && name != f.Name {
			return "multiple"
		}
		name = f.Name
	}
	if name == "" {
		return "invalid"
	}
	return name
}

// codes are the contract's error codes and gqlgen's own two: a code label is one of these
// or OTHER, never text from elsewhere.
var knownCodes = map[string]bool{
	"UNAUTHENTICATED": true, "FORBIDDEN": true, "BAD_USER_INPUT": true, "INVALID_CREDENTIALS": true,
	"EMAIL_TAKEN": true, "INVALID_TOKEN": true, "INVALID_REFRESH_TOKEN": true,
	"ANONYMOUS_TOKEN_REQUIRED": true, "ACCOUNT_DISABLED": true, "RATE_LIMITED": true,
	"UNAVAILABLE": true, "INTERNAL": true, "GRAPHQL_PARSE_FAILED": true, "GRAPHQL_VALIDATION_FAILED": true,
}

func knownCode(v any) string {
	if s, ok := v.(string); ok && knownCodes[s] {
		return s
	}
	return "OTHER"
}

// observer is what watches every route: the metrics and the tracer (each nil when off),
// and the proxies whose trace context a request may carry.
type observer struct {
	m       *metrics.Metrics
	tracer  trace.Tracer
	trusted []netip.Prefix
}

// instrument counts and times the requests of one route under a fixed name, and makes
// each a server span (continuing the trace of a trusted proxy's traceparent; a client's
// own is ignored, so that no one outside can choose what is sampled). With neither
// metrics nor tracing it is h itself.
func (o observer) instrument(name string, h http.Handler) http.Handler {
	if o.m == nil && o.tracer == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		var span trace.Span
		if o.tracer != nil {
			ctx := r.Context()
			if fromTrustedPeer(r, o.trusted) {
				ctx = tracing.Propagator.Extract(ctx, propagation.HeaderCarrier(r.Header))
			}
			ctx, span = o.tracer.Start(ctx, r.Method+" "+name, trace.WithSpanKind(trace.SpanKindServer),
				trace.WithAttributes(attribute.String("http.request.method", r.Method), attribute.String("http.route", name),
					attribute.String("toktok.request_id", reqid.From(ctx))))
			r = r.WithContext(ctx)
		}
		h.ServeHTTP(sw, r)
		if span != nil {
			span.SetAttributes(attribute.Int("http.response.status_code", sw.status))
			if sw.status >= 500 {
				span.SetStatus(codes.Error, http.StatusText(sw.status))
			}
			span.End()
		}
		o.m.HTTP(name, sw.status, time.Since(start))
	})
}

// statusWriter remembers the status code a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (flush, deadlines).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
