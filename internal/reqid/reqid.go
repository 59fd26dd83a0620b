// Package reqid carries a request's id: the HTTP middleware sets it, the log handler
// writes it on every record logged with the request's context, and the error presenter
// puts it in the extensions of INTERNAL errors, so that a user's report of an error finds
// its log lines.
package reqid

import (
	"context"
	"crypto/rand"
	"log/slog"

	"go.opentelemetry.io/otel/trace"
)

type key struct{}

// With returns ctx carrying id.
func With(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, key{}, id)
}

// From is the id ctx carries, or "".
func From(ctx context.Context) string {
	id, _ := ctx.Value(key{}).(string)
	return id
}

// New returns a fresh id: 26 characters of base32, 130 random bits.
func New() string { return rand.Text() }

// MaxLen is the longest id accepted from a trusted proxy.
const MaxLen = 128

// Valid reports whether id, received from a trusted proxy, is fit to log and echo: 1 to
// MaxLen characters among letters, digits and . _ : - (a UUID, a ULID, a trace id).
func Valid(id string) bool {
	if id == "" || len(id) > MaxLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '_', c == ':', c == '-':
		default:
			return false
		}
	}
	return true
}

// Attr is the name of the log attribute holding the id.
const Attr = "request_id"

// LogHandler wraps h so that every record logged with a context carrying an id has it as
// the request_id attribute, and one logged inside a recorded trace span its trace_id.
func LogHandler(h slog.Handler) slog.Handler { return handler{h} }

type handler struct{ slog.Handler }

func (h handler) Handle(ctx context.Context, r slog.Record) error {
	id, sc := From(ctx), trace.SpanContextFromContext(ctx)
	if id != "" || sc.IsValid() {
		r = r.Clone()
	}
	if id != "" {
		r.AddAttrs(slog.String(Attr, id))
	}
	if sc.IsValid() { // tracing on: the line also finds its trace
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()))
	}
	return h.Handler.Handle(ctx, r)
}

func (h handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return handler{h.Handler.WithAttrs(attrs)}
}

func (h handler) WithGroup(name string) slog.Handler { return handler{h.Handler.WithGroup(name)} }
