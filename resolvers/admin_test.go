package resolvers

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/transport"

	"github.com/toktok/toktok/account"
	"github.com/toktok/toktok/graph"
	"github.com/toktok/toktok/graph/model"
	"github.com/toktok/toktok/store"
	"github.com/toktok/toktok/store/sqlite"
	"github.com/toktok/toktok/token"
)

// staffFixture is a resolver on a real SQLite store with one signed-in account of each
// kind, their access claims by name.
type staffFixture struct {
	st     *sqlite.Store
	r      *Resolver
	claims map[string]token.AccessClaims
}

func newStaffFixture(t *testing.T) staffFixture {
	t.Helper()
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
	f := staffFixture{st: st, claims: map[string]token.AccessClaims{},
		r: &Resolver{Account: account.New(account.Config{}, account.Deps{Store: st, Now: func() time.Time { return now }})}}
	for i, a := range []struct {
		name            string
		role            store.Role
		disabled, ended bool
	}{
		{"user", store.RoleUser, false, false},
		{"staff", store.RoleStaff, false, false},
		{"admin", store.RoleAdmin, false, false},
		{"disabled admin", store.RoleAdmin, true, false},
		{"admin, logged out", store.RoleAdmin, false, true},
	} {
		u := store.User{ID: a.name, Email: a.name + "@example.com", PasswordHash: "x", Role: a.role, Lang: "en",
			Disabled: a.disabled, CreatedAt: now.Add(time.Duration(i) * time.Millisecond), UpdatedAt: now}
		if err := st.CreateUser(t.Context(), u); err != nil {
			t.Fatal(err)
		}
		sess := store.Session{ID: "s-" + a.name, UserID: u.ID, CreatedAt: now, LastUsedAt: now, RotatedAt: now,
			IdleExpiresAt: now.Add(time.Hour), AbsoluteExpiresAt: now.Add(time.Hour)}
		if err := st.CreateSession(t.Context(), sess); err != nil {
			t.Fatal(err)
		}
		if a.ended {
			if _, err := st.RevokeSession(t.Context(), sess.ID, u.ID, now, "logout"); err != nil {
				t.Fatal(err)
			}
		}
		// Every token says USER: the role that counts is the one stored.
		f.claims[a.name] = token.AccessClaims{UserID: u.ID, SessionID: sess.ID, Role: string(store.RoleUser)}
	}
	return f
}

// auth is the request's Auth for a caller of the fixture: a name, or "none",
// "anonymous", "invalid".
func (f staffFixture) auth(caller string) account.Auth {
	switch caller {
	case "none":
		return account.Auth{}
	case "anonymous":
		return account.Auth{Kind: account.KindAnonymous}
	case "invalid":
		return account.Auth{Kind: account.KindInvalid}
	}
	return account.Auth{Kind: account.KindAccess, Access: f.claims[caller]}
}

// TestHasRoleDirective: @hasRole(role) runs the field only for a live session of a usable
// account whose stored role is role or above, with that principal in the context;
// otherwise UNAUTHENTICATED (no such session) or FORBIDDEN (below role), and the field
// never runs.
func TestHasRoleDirective(t *testing.T) {
	f := newStaffFixture(t)
	callers := []string{"none", "anonymous", "invalid", "user", "staff", "admin", "disabled admin", "admin, logged out"}
	for _, role := range []model.Role{model.RoleUser, model.RoleStaff, model.RoleAdmin} {
		want := map[string]string{ // "" = runs
			"none": "UNAUTHENTICATED", "anonymous": "UNAUTHENTICATED", "invalid": "UNAUTHENTICATED",
			"disabled admin": "UNAUTHENTICATED", "admin, logged out": "UNAUTHENTICATED",
			"user": "", "staff": "", "admin": "",
		}
		switch role {
		case model.RoleStaff:
			want["user"] = "FORBIDDEN"
		case model.RoleAdmin:
			want["user"], want["staff"] = "FORBIDDEN", "FORBIDDEN"
		}
		for _, caller := range callers {
			t.Run(string(role)+"/"+caller, func(t *testing.T) {
				ran := false
				next := func(ctx context.Context) (any, error) {
					ran = true
					p, err := principal(ctx)
					if err != nil {
						return nil, err
					}
					return p.User.ID, nil
				}
				got, err := f.r.hasRoleDirective(account.WithAuth(t.Context(), f.auth(caller)), nil, next, role)
				if want[caller] == "" {
					if err != nil || got != f.claims[caller].UserID {
						t.Errorf("hasRole(%s) = %v, %v; want the field run as %s", role, got, err, caller)
					}
					return
				}
				if !isCode(err, account.Code(want[caller])) {
					t.Errorf("hasRole(%s) = %v, %v; want %s", role, got, err, want[caller])
				}
				if ran {
					t.Errorf("the field ran for %s", caller)
				}
			})
		}
	}
}

// TestStaffQueries runs user, users and auditEvents through gqlgen's executor, with the
// error presenter: each for every kind of caller, and the argument errors' fields.
func TestStaffQueries(t *testing.T) {
	f := newStaffFixture(t)
	if err := f.st.AppendAudit(t.Context(), store.AuditEvent{ID: "e1", At: time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC), Type: "login", Outcome: "success",
		UserID: "user", IP: "203.0.113.9", Detail: []byte(`{"method":"password"}`)}); err != nil {
		t.Fatal(err)
	}
	logs := newLogRecorder()
	srv := handler.New(graph.NewExecutableSchema(f.r.Config()))
	srv.AddTransport(transport.POST{})
	srv.SetErrorPresenter(ErrorPresenter(logs.log))
	srv.SetRecoverFunc(RecoverFunc(logs.log))
	do := func(t *testing.T, caller, query string) (data map[string]any, code, field string) {
		t.Helper()
		body, err := json.Marshal(map[string]any{"query": query})
		if err != nil {
			t.Fatal(err)
		}
		ctx := account.WithAuth(t.Context(), f.auth(caller))
		req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/graphql", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		var resp struct {
			Data   map[string]any
			Errors []struct{ Extensions map[string]any }
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
			t.Fatalf("response %s: %v", rec.Body, err)
		}
		if len(resp.Errors) > 0 {
			code, _ = resp.Errors[0].Extensions["code"].(string)
			field, _ = resp.Errors[0].Extensions["field"].(string)
		}
		return resp.Data, code, field
	}

	const (
		userQ  = `{ user(id: "staff") { id email role } }`
		usersQ = `{ users(filter: {query: "ST"}) { nodes { id role } pageInfo { hasNextPage endCursor } totalCount } }`
		auditQ = `{ auditEvents { nodes { id type outcome userId actorId ip detail } pageInfo { hasNextPage endCursor } } }`
	)
	for _, tc := range []struct {
		caller                string
		user, users, auditLog string // the code; "" = data
	}{
		{"none", "UNAUTHENTICATED", "UNAUTHENTICATED", "UNAUTHENTICATED"},
		{"anonymous", "UNAUTHENTICATED", "UNAUTHENTICATED", "UNAUTHENTICATED"},
		{"disabled admin", "UNAUTHENTICATED", "UNAUTHENTICATED", "UNAUTHENTICATED"},
		{"user", "FORBIDDEN", "FORBIDDEN", "FORBIDDEN"},
		{"staff", "", "", "FORBIDDEN"},
		{"admin", "", "", ""},
	} {
		t.Run(tc.caller, func(t *testing.T) {
			for _, q := range []struct{ name, query, want string }{
				{"user", userQ, tc.user}, {"users", usersQ, tc.users}, {"auditEvents", auditQ, tc.auditLog},
			} {
				data, code, _ := do(t, tc.caller, q.query)
				if code != q.want {
					t.Errorf("%s: code %q, want %q", q.name, code, q.want)
				}
				if q.want != "" {
					// null: the whole data for the non-null connections, the field for user.
					if data != nil && data[q.name] != nil {
						t.Errorf("%s refused, yet data = %v", q.name, data)
					}
					continue
				}
				switch q.name {
				case "user":
					if u, _ := data["user"].(map[string]any); u["email"] != "staff@example.com" || u["role"] != "STAFF" {
						t.Errorf("user = %v", data)
					}
				case "users":
					c, _ := data["users"].(map[string]any)
					if c["totalCount"] != float64(1) || len(c["nodes"].([]any)) != 1 {
						t.Errorf("users = %v", data)
					}
				case "auditEvents":
					c, _ := data["auditEvents"].(map[string]any)
					nodes, _ := c["nodes"].([]any)
					if len(nodes) != 1 {
						t.Fatalf("auditEvents = %v", data)
					}
					e := nodes[0].(map[string]any)
					if e["userId"] != "user" || e["actorId"] != nil || e["ip"] != "203.0.113.9" ||
						e["detail"].(map[string]any)["method"] != "password" {
						t.Errorf("auditEvents node = %v", e)
					}
				}
			}
		})
	}

	// user(id) is null for an unknown or malformed ID, without an error.
	for _, id := range []string{"nobody", "", `{\"$ne\": null}`} {
		data, code, _ := do(t, "staff", `{ user(id: "`+id+`") { id } }`)
		if code != "" || data == nil || data["user"] != nil {
			t.Errorf("user(%q) = %v, code %q; want null", id, data, code)
		}
	}
	// Argument errors name their field.
	for _, tc := range []struct{ query, field string }{
		{`{ users(first: 0) { totalCount } }`, "first"},
		{`{ users(after: "nope") { totalCount } }`, "after"},
		{`{ auditEvents(first: -5) { pageInfo { hasNextPage } } }`, "first"},
		{`{ auditEvents(after: "nope") { pageInfo { hasNextPage } } }`, "after"},
		{`{ auditEvents(userId: "") { pageInfo { hasNextPage } } }`, "userId"},
	} {
		_, code, field := do(t, "admin", tc.query)
		if code != "BAD_USER_INPUT" || field != tc.field {
			t.Errorf("%s: code %q, field %q; want BAD_USER_INPUT on %s", tc.query, code, field, tc.field)
		}
	}
	// A page through a fragment still counts.
	data, code, _ := do(t, "staff", `{ users(first: 2) { ...page } } fragment page on UserConnection { totalCount nodes { id } pageInfo { hasNextPage endCursor } }`)
	c, _ := data["users"].(map[string]any)
	if code != "" || c["totalCount"] != float64(5) || len(c["nodes"].([]any)) != 2 || c["pageInfo"].(map[string]any)["hasNextPage"] != true {
		t.Errorf("users through a fragment = %v, code %q", data, code)
	}
}
