package resolvers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/transport"

	"github.com/toktok/toktok/account"
	"github.com/toktok/toktok/graph"
	"github.com/toktok/toktok/store"
	"github.com/toktok/toktok/store/sqlite"
	"github.com/toktok/toktok/token"
)

// TestAuthDirective: @auth lets a field run only for an access token whose session is live
// and whose account is usable, and hands the field's resolver that principal; everything
// else is UNAUTHENTICATED and the field never runs.
func TestAuthDirective(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "toktok.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	seed := func(email string, disabled, revoked bool) token.AccessClaims {
		t.Helper()
		u := store.User{ID: email, Email: email, PasswordHash: "x", Role: store.RoleUser, Disabled: disabled, CreatedAt: now, UpdatedAt: now}
		if err := st.CreateUser(t.Context(), u); err != nil {
			t.Fatal(err)
		}
		sess := store.Session{ID: "s-" + email, UserID: u.ID, CreatedAt: now, LastUsedAt: now, RotatedAt: now,
			IdleExpiresAt: now.Add(time.Hour), AbsoluteExpiresAt: now.Add(time.Hour)}
		if err := st.CreateSession(t.Context(), sess); err != nil {
			t.Fatal(err)
		}
		if revoked {
			if _, err := st.RevokeSession(t.Context(), sess.ID, u.ID, now, "logout"); err != nil {
				t.Fatal(err)
			}
		}
		return token.AccessClaims{UserID: u.ID, SessionID: sess.ID, Role: string(u.Role)}
	}
	live := seed("ann@example.com", false, false)
	ended := seed("bob@example.com", false, true)
	disabled := seed("carol@example.com", true, false)
	stolen := live
	stolen.UserID = ended.UserID // a session named by a token of another user

	r := &Resolver{Account: account.New(account.Config{}, account.Deps{Store: st, Now: func() time.Time { return now }})}
	for _, tc := range []struct {
		name     string
		auth     account.Auth
		wantUser string // "" = UNAUTHENTICATED
	}{
		{"no token", account.Auth{}, ""},
		{"anonymous token", account.Auth{Kind: account.KindAnonymous}, ""},
		{"invalid token", account.Auth{Kind: account.KindInvalid}, ""},
		{"live session", account.Auth{Kind: account.KindAccess, Access: live}, live.UserID},
		{"ended session", account.Auth{Kind: account.KindAccess, Access: ended}, ""},
		{"session of another user", account.Auth{Kind: account.KindAccess, Access: stolen}, ""},
		{"disabled account", account.Auth{Kind: account.KindAccess, Access: disabled}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ran := false
			next := func(ctx context.Context) (any, error) {
				ran = true
				p, err := principal(ctx)
				if err != nil {
					return nil, err
				}
				return p.User.ID, nil
			}
			got, err := r.authDirective(account.WithAuth(t.Context(), tc.auth), nil, next)
			if tc.wantUser == "" {
				if !isCode(err, account.CodeUnauthenticated) {
					t.Errorf("authDirective = %v, %v; want UNAUTHENTICATED", got, err)
				}
				if ran {
					t.Error("the field ran without a live session")
				}
				return
			}
			if err != nil || got != tc.wantUser {
				t.Errorf("authDirective = %v, %v; want the field run as %s", got, err, tc.wantUser)
			}
		})
	}
	if _, err := principal(t.Context()); !isCode(err, account.CodeUnauthenticated) {
		t.Errorf("principal outside @auth = %v, want UNAUTHENTICATED", err)
	}
}

// isCode reports whether err is an account.Error of code.
func isCode(err error, code account.Code) bool {
	var e *account.Error
	return errors.As(err, &e) && e.Code == code
}

// TestExecutorErrors: through gqlgen's executor with the two hooks app sets (the error
// presenter and the recover function), a panic in a resolver answers INTERNAL with the
// generic message, its value only in the log; @auth refuses a field without a token as
// UNAUTHENTICATED.
func TestExecutorErrors(t *testing.T) {
	for _, tc := range []struct {
		name        string
		svc         *account.Service // nil: every account call panics
		query       string
		wantCode    string
		wantMessage string
		wantLog     string
	}{
		{"panic", nil, `{ authConfig { registrationOpen } }`, "INTERNAL", internalMessage, "nil pointer dereference"},
		{"no token on an @auth field", account.New(account.Config{}, account.Deps{}), `{ mySessions { id } }`,
			"UNAUTHENTICATED", account.ErrUnauthenticated.Message, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs := newLogRecorder()
			r := &Resolver{Account: tc.svc, Log: logs.log}
			srv := handler.New(graph.NewExecutableSchema(r.Config()))
			srv.AddTransport(transport.POST{})
			srv.SetErrorPresenter(ErrorPresenter(logs.log))
			srv.SetRecoverFunc(RecoverFunc(logs.log))

			body, err := json.Marshal(map[string]any{"query": tc.query})
			if err != nil {
				t.Fatal(err)
			}
			req := httptest.NewRequestWithContext(t.Context(), http.MethodPost, "/graphql", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			srv.ServeHTTP(rec, req)

			var resp struct {
				Errors []struct {
					Message    string
					Extensions map[string]any
				}
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
				t.Fatalf("response %s: %v", rec.Body, err)
			}
			if len(resp.Errors) != 1 || resp.Errors[0].Extensions["code"] != tc.wantCode || resp.Errors[0].Message != tc.wantMessage {
				t.Fatalf("response = %s, want one %s error %q", rec.Body, tc.wantCode, tc.wantMessage)
			}
			if strings.Contains(rec.Body.String(), "nil pointer") || strings.Contains(rec.Body.String(), "goroutine") {
				t.Errorf("the response shows the panic: %s", rec.Body)
			}
			if tc.wantLog != "" && !strings.Contains(logs.buf.String(), tc.wantLog) {
				t.Errorf("log = %s, want it to hold %q", logs.buf.String(), tc.wantLog)
			}
		})
	}
}
