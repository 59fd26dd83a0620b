package resolvers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/toktok/toktok/account"
	"github.com/toktok/toktok/internal/reqid"
	"github.com/toktok/toktok/store"
)

// secret marks text a client must never see: driver errors, addresses, panic values.
const secret = "s3cr3t"

// The generic messages of the codes that hide their cause.
const (
	internalMessage    = "internal error"
	unavailableMessage = "the service is temporarily unavailable, retry later"
)

// logRecorder is a logger whose records the test reads back.
type logRecorder struct {
	buf bytes.Buffer
	log *slog.Logger
}

func newLogRecorder() *logRecorder {
	r := &logRecorder{}
	r.log = slog.New(slog.NewJSONHandler(&r.buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return r
}

// records decodes every record logged so far.
func (r *logRecorder) records(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(r.buf.String()), "\n") {
		if line == "" {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, rec)
	}
	return out
}

// fieldCtx is a request context inside the resolver of field.
func fieldCtx(t *testing.T, field string) context.Context {
	return graphql.WithPathContext(t.Context(), graphql.NewPathWithField(field))
}

// TestErrorPresenterAccountErrors: an account.Error shows its own code and safe message,
// with field, reasons and retryAfter when it has them and no other extension, wrapped or
// not; it logs nothing when it has no cause.
func TestErrorPresenterAccountErrors(t *testing.T) {
	for _, tc := range []struct {
		name        string
		err         error
		wantMessage string
		wantExt     map[string]any
	}{
		{"fixed message", account.ErrInvalidCredentials, "invalid email or password",
			map[string]any{"code": "INVALID_CREDENTIALS"}},
		{"wrapped", fmt.Errorf("login %s: %w", secret, account.ErrAccountDisabled), "this account is disabled",
			map[string]any{"code": "ACCOUNT_DISABLED"}},
		{"field", &account.Error{Code: account.CodeBadUserInput, Field: "email", Message: "not an email address"}, "not an email address",
			map[string]any{"code": "BAD_USER_INPUT", "field": "email"}},
		{"reasons", &account.Error{Code: account.CodeBadUserInput, Field: "password", Message: "the password is too weak", Reasons: []string{"too_short", "common"}},
			"the password is too weak", map[string]any{"code": "BAD_USER_INPUT", "field": "password", "reasons": []string{"too_short", "common"}}},
		{"retryAfter", &account.Error{Code: account.CodeRateLimited, Message: "too many attempts; retry later", RetryAfter: 42},
			"too many attempts; retry later", map[string]any{"code": "RATE_LIMITED", "retryAfter": 42}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs := newLogRecorder()
			got := ErrorPresenter(logs.log)(fieldCtx(t, "login"), tc.err)
			if got.Message != tc.wantMessage {
				t.Errorf("message = %q, want %q", got.Message, tc.wantMessage)
			}
			if !reflect.DeepEqual(got.Extensions, tc.wantExt) {
				t.Errorf("extensions = %#v, want %#v", got.Extensions, tc.wantExt)
			}
			if got.Path.String() != "login" {
				t.Errorf("path = %q, want login", got.Path.String())
			}
			if recs := logs.records(t); len(recs) != 0 {
				t.Errorf("logged %v for an error without a cause", recs)
			}
		})
	}
}

// TestErrorPresenterHidesCauses: a store outage is UNAVAILABLE, a cancelled request too,
// and anything else INTERNAL; each with a generic message that never carries the cause,
// which (outages and internal errors) goes to the log at ERROR with the field's path.
// gqlgen's own coded errors pass through untouched.
func TestErrorPresenterHidesCauses(t *testing.T) {
	validation := &gqlerror.Error{Message: "Cannot query field \"x\"", Extensions: map[string]any{"code": "GRAPHQL_VALIDATION_FAILED"}}
	for _, tc := range []struct {
		name        string
		err         error
		wantCode    string
		wantMessage string
		wantLogged  bool // an ERROR record holding the cause
	}{
		{"store unavailable", fmt.Errorf("dial 10.0.0.7:27017 %s: %w", secret, store.ErrUnavailable), "UNAVAILABLE", unavailableMessage, true},
		{"request cancelled", fmt.Errorf("query %s: %w", secret, context.Canceled), "UNAVAILABLE", "the request was cancelled or timed out", false},
		{"request timed out", fmt.Errorf("query %s: %w", secret, context.DeadlineExceeded), "UNAVAILABLE", "the request was cancelled or timed out", false},
		{"unknown error", fmt.Errorf("sqlite: disk I/O error at /var/lib/toktok %s", secret), "INTERNAL", internalMessage, true},
		// gqlgen keeps a gqlerror's own (here empty) path.
		{"uncoded gqlerror", gqlerror.Errorf("resolver said %s", secret), "INTERNAL", internalMessage, true},
		{"gqlgen's own error", validation, "GRAPHQL_VALIDATION_FAILED", validation.Message, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs := newLogRecorder()
			got := ErrorPresenter(logs.log)(fieldCtx(t, "me"), tc.err)
			if code, _ := got.Extensions["code"].(string); code != tc.wantCode || len(got.Extensions) != 1 {
				t.Errorf("extensions = %v, want only code %s", got.Extensions, tc.wantCode)
			}
			if got.Message != tc.wantMessage || strings.Contains(got.Message, secret) {
				t.Errorf("message = %q, want %q", got.Message, tc.wantMessage)
			}
			if _, isGQL := tc.err.(*gqlerror.Error); !isGQL && got.Path.String() != "me" {
				t.Errorf("path = %q, want me", got.Path.String())
			}
			recs := logs.records(t)
			if !tc.wantLogged {
				if len(recs) != 0 {
					t.Errorf("logged %v", recs)
				}
				return
			}
			if len(recs) != 1 {
				t.Fatalf("logged %d records, want one: %v", len(recs), recs)
			}
			rec := recs[0]
			if errText, _ := rec["err"].(string); rec["level"] != "ERROR" || !strings.Contains(errText, secret) || rec["path"] != got.Path.String() {
				t.Errorf("log record = %v, want the cause at ERROR with path %q", rec, got.Path.String())
			}
		})
	}
}

// TestRecoverFunc: a panic in a resolver becomes INTERNAL with the generic message; its
// value is logged, never shown.
func TestRecoverFunc(t *testing.T) {
	for _, tc := range []struct {
		name  string
		value any
		want  string // the value as logged
	}{
		{"string", "index out of range " + secret, "index out of range " + secret},
		{"error", errors.New("nil map " + secret), "nil map " + secret},
		{"other value", struct{ Secret string }{secret}, secret},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs := newLogRecorder()
			ctx := fieldCtx(t, "authConfig")
			err := RecoverFunc(logs.log)(ctx, tc.value)
			if err == nil || strings.Contains(err.Error(), secret) {
				t.Fatalf("RecoverFunc = %v, want an error without the panic value", err)
			}
			got := ErrorPresenter(logs.log)(ctx, err)
			if got.Message != internalMessage || !reflect.DeepEqual(got.Extensions, map[string]any{"code": "INTERNAL"}) {
				t.Errorf("presented as %q %v, want INTERNAL %q", got.Message, got.Extensions, internalMessage)
			}
			recs := logs.records(t)
			if len(recs) == 0 || recs[0]["msg"] != "panic in resolver" || recs[0]["level"] != "ERROR" ||
				!strings.Contains(fmt.Sprint(recs[0]["panic"]), tc.want) {
				t.Errorf("log = %v, want the panic value %q at ERROR first", recs, tc.want)
			}
		})
	}
}

// TestErrorPresenterOffersNoSuggestion: whatever gqlparser rule wrote the message, the
// client sees it without its "Did you mean …?" and the rest intact.
func TestErrorPresenterOffersNoSuggestion(t *testing.T) {
	present := ErrorPresenter(slog.New(slog.DiscardHandler))
	for _, tc := range []struct{ in, want string }{
		{`Field "emial" is not defined by type "LoginInput". Did you mean "email"?`, `Field "emial" is not defined by type "LoginInput".`},
		{`Unknown argument "tokn" on field "Mutation.confirmEmail". Did you mean "token"?`, `Unknown argument "tokn" on field "Mutation.confirmEmail".`},
		{`Value "ADMN" does not exist in "Role" enum. Did you mean the enum value "ADMIN"?`, `Value "ADMN" does not exist in "Role" enum.`},
		{`Unknown type "Usr". Did you mean "User" or "UserFilter"? Then more.`, `Unknown type "Usr". Then more.`},
		{`Cannot query field "mee" on type "Query".`, `Cannot query field "mee" on type "Query".`},
		{`Bad. Did you mean "a"? Also. Did you mean "b"?`, `Bad. Also.`},
		{`Truncated. Did you mean "a"`, `Truncated.`},
	} {
		err := &gqlerror.Error{Message: tc.in, Extensions: map[string]any{"code": "GRAPHQL_VALIDATION_FAILED"}}
		if got := present(t.Context(), err).Message; got != tc.want {
			t.Errorf("%q presented as %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestInternalErrorNamesTheRequest: an INTERNAL error carries the request's id in
// extensions.requestId, and the log line with its cause names the same id (request_id),
// so that a user's report finds the log line. Without an id in the context there is none.
func TestInternalErrorNamesTheRequest(t *testing.T) {
	for _, id := range []string{"", "01JEXAMPLEREQUESTID0000000"} {
		logs := newLogRecorder()
		log := slog.New(reqid.LogHandler(logs.log.Handler()))
		ctx := fieldCtx(t, "me")
		if id != "" {
			ctx = reqid.With(ctx, id)
		}
		got := ErrorPresenter(log)(ctx, fmt.Errorf("disk full %s", secret))
		if got.Extensions["code"] != "INTERNAL" {
			t.Fatalf("extensions %v", got.Extensions)
		}
		if rid, ok := got.Extensions["requestId"]; id == "" && ok || id != "" && rid != id {
			t.Errorf("id %q: extensions %v", id, got.Extensions)
		}
		recs := logs.records(t)
		if len(recs) != 1 {
			t.Fatalf("logged %v", recs)
		}
		if rid, ok := recs[0]["request_id"]; id == "" && ok || id != "" && rid != id {
			t.Errorf("id %q: log record %v", id, recs[0])
		}
		// Other codes stay as they were: only INTERNAL needs the pointer to the log.
		if e := ErrorPresenter(log)(ctx, fmt.Errorf("x: %w", store.ErrUnavailable)); len(e.Extensions) != 1 {
			t.Errorf("UNAVAILABLE extensions %v", e.Extensions)
		}
	}
}
