package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/toktok/toktok/metrics"
)

// gqlMetrics is the gqlgen extension that counts each GraphQL response by root field and
// code and times it (metrics.Metrics.GraphQL).
type gqlMetrics struct{ m *metrics.Metrics }

var (
	_ graphql.HandlerExtension    = gqlMetrics{}
	_ graphql.ResponseInterceptor = gqlMetrics{}
)

func (gqlMetrics) ExtensionName() string                   { return "Metrics" }
func (gqlMetrics) Validate(graphql.ExecutableSchema) error { return nil }
func (g gqlMetrics) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	resp := next(ctx)
	if resp == nil {
		return resp
	}
	op, start := "invalid", time.Now()
	if graphql.HasOperationContext(ctx) {
		oc := graphql.GetOperationContext(ctx)
		if oc.Operation != nil {
			op = rootField(oc.Operation.SelectionSet)
		}
		if !oc.Stats.OperationStart.IsZero() {
			start = oc.Stats.OperationStart
		}
	}
	code := metrics.CodeOK
	if len(resp.Errors) > 0 {
		code = knownCode(resp.Errors[0].Extensions["code"])
	}
	g.m.GraphQL(op, code, time.Since(start))
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
var codes = map[string]bool{
	"UNAUTHENTICATED": true, "FORBIDDEN": true, "BAD_USER_INPUT": true, "INVALID_CREDENTIALS": true,
	"EMAIL_TAKEN": true, "INVALID_TOKEN": true, "INVALID_REFRESH_TOKEN": true,
	"ANONYMOUS_TOKEN_REQUIRED": true, "ACCOUNT_DISABLED": true, "RATE_LIMITED": true,
	"UNAVAILABLE": true, "INTERNAL": true, "GRAPHQL_PARSE_FAILED": true, "GRAPHQL_VALIDATION_FAILED": true,
}

func knownCode(v any) string {
	if s, ok := v.(string); ok && codes[s] {
		return s
	}
	return "OTHER"
}

// instrument counts and times the requests of one route under a fixed name. With m nil
// it is h itself.
func instrument(m *metrics.Metrics, name string, h http.Handler) http.Handler {
	if m == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(sw, r)
		m.HTTP(name, sw.status, time.Since(start))
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
