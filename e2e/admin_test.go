package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/toktok/toktok/store"
)

// End-to-end tests of the staff API: user, users and auditEvents over HTTP, for every kind
// of caller; a role given or taken, or an account disabled, in the store between two
// requests with one access token, counting on the second; the users listing's pages, cursor
// and filters; the audit log's pages. Roles are set through app.Support (no mutation sets
// them yet).

const (
	staffUserQ  = `query($id: ID!) { user(id: $id) { id email role name disabled emailConfirmed createdAt } }`
	staffUsersQ = `query($filter: UserFilter, $first: Int, $after: String) {
		users(filter: $filter, first: $first, after: $after) {
			nodes { id email role createdAt } pageInfo { hasNextPage endCursor } totalCount } }`
	staffAuditQ = `query($userId: ID, $first: Int, $after: String) {
		auditEvents(userId: $userId, first: $first, after: $after) {
			nodes { id at type outcome userId actorId ip detail } pageInfo { hasNextPage endCursor } } }`
)

type staffUserNode struct {
	ID        string
	Email     string
	Role      string
	CreatedAt time.Time
}

type staffPageInfo struct {
	HasNextPage bool
	EndCursor   *string
}

type staffUserConn struct {
	Nodes      []staffUserNode
	PageInfo   staffPageInfo
	TotalCount int
}

type staffAuditNode struct {
	ID      string
	At      time.Time
	Type    string
	Outcome string
	UserID  *string
	ActorID *string
	IP      *string
	Detail  map[string]any
}

type staffAuditConn struct {
	Nodes    []staffAuditNode
	PageInfo staffPageInfo
}

// staffSignUp registers email and sets its role in the store (USER too: whatever a
// first-account rule did, the role is the test's). The access token returned was issued
// before the role was set.
func staffSignUp(e *testEnv, email string, role store.Role) authPayload {
	e.t.Helper()
	p := e.register(email, strongPassword)
	staffSetRole(e, p.User.ID, role)
	return p
}

func staffSetRole(e *testEnv, userID string, role store.Role) {
	e.t.Helper()
	if err := e.app.Support().SetRole(e.reqContext(), userID, role); err != nil {
		e.t.Fatalf("SetRole(%s, %s): %v", userID, role, err)
	}
}

func staffSetDisabled(e *testEnv, userID string, disabled bool) {
	e.t.Helper()
	if err := e.app.Support().SetDisabled(e.reqContext(), userID, disabled); err != nil {
		e.t.Fatalf("SetDisabled(%s, %t): %v", userID, disabled, err)
	}
}

// staffUsers runs users and decodes the connection, failing the test on any error.
func staffUsers(e *testEnv, bearer string, vars map[string]any) staffUserConn {
	e.t.Helper()
	var resp struct{ Users staffUserConn }
	e.mustData(e.gql(bearer, staffUsersQ, vars), &resp)
	return resp.Users
}

func staffAudit(e *testEnv, bearer string, vars map[string]any) staffAuditConn {
	e.t.Helper()
	var resp struct{ AuditEvents staffAuditConn }
	e.mustData(e.gql(bearer, staffAuditQ, vars), &resp)
	return resp.AuditEvents
}

func nodeIDs(ns []staffUserNode) []string {
	ids := make([]string, len(ns))
	for i, n := range ns {
		ids[i] = n.ID
	}
	return ids
}

// Each query for each kind of caller: no token, an anonymous token and a token that does
// not verify are UNAUTHENTICATED; a USER is FORBIDDEN everywhere; STAFF reads users,
// not the audit log; ADMIN reads everything. A refused call answers no data and changes
// nothing of the account it names.
func TestStaffAPIByRole(t *testing.T) {
	e := newTestEnv(t, nil)
	target := staffSignUp(e, "target@example.com", store.RoleUser)
	user := staffSignUp(e, "user@example.com", store.RoleUser)
	staff := staffSignUp(e, "staff@example.com", store.RoleStaff)
	admin := staffSignUp(e, "admin@example.com", store.RoleAdmin)
	before, err := e.app.Support().User(t.Context(), "target@example.com")
	if err != nil {
		t.Fatal(err)
	}

	ops := []struct {
		name, query string
		vars        map[string]any
		check       func(t *testing.T, r gqlResponse)
	}{
		{"user", staffUserQ, map[string]any{"id": target.User.ID}, func(t *testing.T, r gqlResponse) {
			var resp struct{ User *staffUserNode }
			e.in(t).mustData(r, &resp)
			if resp.User == nil || resp.User.Email != "target@example.com" || resp.User.Role != "USER" {
				t.Errorf("user = %+v", resp.User)
			}
		}},
		{"users", staffUsersQ, map[string]any{"filter": map[string]any{"query": "TARGET"}}, func(t *testing.T, r gqlResponse) {
			var resp struct{ Users staffUserConn }
			e.in(t).mustData(r, &resp)
			if !slices.Equal(nodeIDs(resp.Users.Nodes), []string{target.User.ID}) || resp.Users.TotalCount != 1 {
				t.Errorf("users = %+v", resp.Users)
			}
		}},
		{"auditEvents", staffAuditQ, map[string]any{"userId": target.User.ID}, func(t *testing.T, r gqlResponse) {
			var resp struct{ AuditEvents staffAuditConn }
			e.in(t).mustData(r, &resp)
			n := resp.AuditEvents.Nodes
			if len(n) == 0 || n[len(n)-1].Type != "register" || *n[len(n)-1].UserID != target.User.ID {
				t.Errorf("auditEvents = %+v", resp.AuditEvents)
			}
		}},
	}
	for _, tc := range []struct {
		caller, bearer string
		want           map[string]string // op -> code; missing: data
	}{
		{"no token", "", map[string]string{"user": "UNAUTHENTICATED", "users": "UNAUTHENTICATED", "auditEvents": "UNAUTHENTICATED"}},
		{"anonymous token", e.anon(), map[string]string{"user": "UNAUTHENTICATED", "users": "UNAUTHENTICATED", "auditEvents": "UNAUTHENTICATED"}},
		{"token that does not verify", user.AccessToken + "x", map[string]string{"user": "UNAUTHENTICATED", "users": "UNAUTHENTICATED", "auditEvents": "UNAUTHENTICATED"}},
		{"USER", user.AccessToken, map[string]string{"user": "FORBIDDEN", "users": "FORBIDDEN", "auditEvents": "FORBIDDEN"}},
		{"STAFF", staff.AccessToken, map[string]string{"auditEvents": "FORBIDDEN"}},
		{"ADMIN", admin.AccessToken, nil},
	} {
		t.Run(tc.caller, func(t *testing.T) {
			e := e.in(t)
			for _, op := range ops {
				r := e.gql(tc.bearer, op.query, op.vars)
				if code, refused := tc.want[op.name]; refused {
					e.wantCode(r, code)
					if strings.Contains(string(r.Data), "@example.com") || strings.Contains(string(r.Data), "register") {
						t.Errorf("%s refused with data: %s", op.name, r.Data)
					}
					continue
				}
				op.check(t, r)
			}
		})
	}
	after, err := e.app.Support().User(t.Context(), "target@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if after.Role != before.Role || !after.UpdatedAt.Equal(before.UpdatedAt) || after.Disabled != before.Disabled {
		t.Errorf("the target changed: %+v, was %+v", after, before)
	}
}

// The role that counts is the one stored when the request comes, not the one the access
// token was issued with: promoting, demoting and disabling each take effect on the very
// next request with the same token; enabling again restores it; logging out ends it.
func TestStaffAPIRoleChangesTakeEffectOnTheNextRequest(t *testing.T) {
	e := newTestEnv(t, nil)
	ann := staffSignUp(e, "ann@example.com", store.RoleUser)
	tok, id := ann.AccessToken, ann.User.ID
	try := func(op string) string {
		t.Helper()
		switch op {
		case "user":
			return e.gql(tok, staffUserQ, map[string]any{"id": id}).Code()
		case "users":
			return e.gql(tok, staffUsersQ, nil).Code()
		}
		return e.gql(tok, staffAuditQ, nil).Code()
	}
	for _, step := range []struct {
		name                     string
		change                   func()
		user, users, auditEvents string // "" = allowed
	}{
		{"as registered (USER)", func() {}, "FORBIDDEN", "FORBIDDEN", "FORBIDDEN"},
		{"promoted to STAFF", func() { staffSetRole(e, id, store.RoleStaff) }, "", "", "FORBIDDEN"},
		{"promoted to ADMIN", func() { staffSetRole(e, id, store.RoleAdmin) }, "", "", ""},
		{"demoted to STAFF", func() { staffSetRole(e, id, store.RoleStaff) }, "", "", "FORBIDDEN"},
		{"demoted to USER", func() { staffSetRole(e, id, store.RoleUser) }, "FORBIDDEN", "FORBIDDEN", "FORBIDDEN"},
		{"ADMIN again", func() { staffSetRole(e, id, store.RoleAdmin) }, "", "", ""},
		{"disabled", func() { staffSetDisabled(e, id, true) }, "UNAUTHENTICATED", "UNAUTHENTICATED", "UNAUTHENTICATED"},
		{"enabled again", func() { staffSetDisabled(e, id, false) }, "", "", ""},
		{"logged out", func() { e.mustData(e.gql(tok, `mutation { logout }`, nil), nil) }, "UNAUTHENTICATED", "UNAUTHENTICATED", "UNAUTHENTICATED"},
	} {
		step.change()
		for op, want := range map[string]string{"user": step.user, "users": step.users, "auditEvents": step.auditEvents} {
			if got := try(op); got != want {
				t.Errorf("%s: %s answers %q, want %q", step.name, op, got, want)
			}
		}
	}
}

// The users listing over HTTP: creation order, pages that neither repeat nor skip a user
// while users are created, disabled and deleted between them, totalCount on every page,
// the default and capped page sizes, and the argument errors.
func TestStaffAPIUsersPages(t *testing.T) {
	e := newTestEnv(t, nil)
	staff := staffSignUp(e, "staff@example.com", store.RoleStaff)
	sup := e.app.Support()
	// The seeded users come after the callers, who are never at a page's end.
	base := e.clock.Now().Add(time.Hour)
	seed := func(id string, at time.Time) {
		t.Helper()
		u := store.User{ID: id, Email: id + "@example.com", PasswordHash: "x", Role: store.RoleUser, Lang: "en", CreatedAt: at, UpdatedAt: at}
		if err := sup.SeedUser(t.Context(), u); err != nil {
			t.Fatalf("SeedUser(%s): %v", id, err)
		}
	}
	// 130 users, two a millisecond, IDs not in creation order.
	throughout := map[string]bool{staff.User.ID: true}
	for i := range 130 {
		id := fmt.Sprintf("seed%03d", (i*17)%130)
		seed(id, base.Add(time.Duration(i/2)*time.Millisecond))
		throughout[id] = true
	}

	// Defaults and caps.
	if c := staffUsers(e, staff.AccessToken, nil); len(c.Nodes) != 20 || !c.PageInfo.HasNextPage || c.TotalCount != 131 {
		t.Errorf("users() = %d nodes, next %t, total %d; want 20, true, 131", len(c.Nodes), c.PageInfo.HasNextPage, c.TotalCount)
	}
	if c := staffUsers(e, staff.AccessToken, map[string]any{"first": nil}); len(c.Nodes) != 20 {
		t.Errorf("users(first: null) = %d nodes, want 20", len(c.Nodes))
	}
	if c := staffUsers(e, staff.AccessToken, map[string]any{"first": 1000}); len(c.Nodes) != 100 || !c.PageInfo.HasNextPage {
		t.Errorf("users(first: 1000) = %d nodes, next %t; want 100, true", len(c.Nodes), c.PageInfo.HasNextPage)
	}
	audit := staffAudit(e, staffSignUp(e, "admin@example.com", store.RoleAdmin).AccessToken, map[string]any{"first": 1})
	throughout[mustUserID(e, "admin@example.com")] = true
	for _, tc := range []struct {
		vars  map[string]any
		field string
	}{
		{map[string]any{"first": 0}, "first"},
		{map[string]any{"first": -3}, "first"},
		{map[string]any{"after": "not a cursor"}, "after"},
		{map[string]any{"after": ""}, "after"},
		{map[string]any{"after": *audit.PageInfo.EndCursor}, "after"}, // the audit log's
	} {
		ge := e.wantCode(e.gql(staff.AccessToken, staffUsersQ, tc.vars), "BAD_USER_INPUT")
		if ge.Extensions["field"] != tc.field {
			t.Errorf("users(%v): field %v, want %s", tc.vars, ge.Extensions["field"], tc.field)
		}
	}

	// Pages of 25 among enabled users; between pages: a user created after everyone, one
	// created in the past (it may or may not come), one deleted ahead, the boundary user
	// disabled.
	filter := map[string]any{"disabled": false}
	var (
		got     []staffUserNode
		after   any
		removed = map[string]bool{}
	)
	for page := 0; ; page++ {
		c := staffUsers(e, staff.AccessToken, map[string]any{"filter": filter, "first": 25, "after": after})
		for _, n := range c.Nodes {
			if removed[n.ID] {
				t.Errorf("page %d lists %s, removed before it", page, n.ID)
			}
		}
		got = append(got, c.Nodes...)
		live := 0
		for id := range throughout {
			if !removed[id] {
				live++
			}
		}
		if c.TotalCount < live {
			t.Errorf("page %d: totalCount %d, but %d users exist", page, c.TotalCount, live)
		}
		if !c.PageInfo.HasNextPage {
			if len(c.Nodes) > 0 && c.PageInfo.EndCursor == nil {
				t.Errorf("page %d has nodes and no endCursor", page)
			}
			break
		}
		last := c.Nodes[len(c.Nodes)-1]
		after = *c.PageInfo.EndCursor
		seed(fmt.Sprintf("late%02d", page), base.Add(time.Hour+time.Duration(page)*time.Millisecond))
		seed(fmt.Sprintf("past%02d", page), base.Add(-time.Minute))
		staffSetDisabled(e, last.ID, true)
		removed[last.ID] = true
		delete(throughout, last.ID)
		for i := range 130 {
			id := fmt.Sprintf("seed%03d", (i*17)%130)
			if throughout[id] && !slices.ContainsFunc(got, func(n staffUserNode) bool { return n.ID == id }) {
				if _, err := sup.BeginUserDeletion(t.Context(), id); err != nil {
					t.Fatalf("BeginUserDeletion(%s): %v", id, err)
				}
				removed[id] = true
				delete(throughout, id)
				break
			}
		}
		if page > 20 {
			t.Fatal("the pagination never ends")
		}
	}
	seen := map[string]int{}
	for i, n := range got {
		seen[n.ID]++
		if i > 0 {
			p := got[i-1]
			if n.CreatedAt.Before(p.CreatedAt) || n.CreatedAt.Equal(p.CreatedAt) && n.ID <= p.ID {
				t.Errorf("out of order: %s (%v) after %s (%v)", n.ID, n.CreatedAt, p.ID, p.CreatedAt)
			}
		}
	}
	for id, k := range seen {
		if k > 1 {
			t.Errorf("%s listed %d times", id, k)
		}
	}
	for id := range throughout {
		if seen[id] != 1 {
			t.Errorf("%s existed throughout and was listed %d times", id, seen[id])
		}
	}
	// Past the end: an empty page, no cursor.
	if c := staffUsers(e, staff.AccessToken, map[string]any{"filter": filter, "after": after, "first": 100}); c.PageInfo.EndCursor != nil && len(c.Nodes) == 0 {
		t.Errorf("an empty page has endCursor %q", *c.PageInfo.EndCursor)
	}
}

// mustUserID reads an account's ID by address.
func mustUserID(e *testEnv, email string) string {
	e.t.Helper()
	u, err := e.app.Support().User(e.reqContext(), email)
	if err != nil {
		e.t.Fatal(err)
	}
	return u.ID
}

// The filters over HTTP: the query is a literal, case-insensitive prefix of the email,
// name, surname or pseudo; role, emailConfirmed and disabled combine with it; totalCount
// counts the matches.
func TestStaffAPIUsersFilters(t *testing.T) {
	e := newTestEnv(t, nil)
	staff := staffSignUp(e, "staff@example.com", store.RoleStaff)
	at := e.clock.Now().Add(-time.Hour)
	ptr := func(s string) *string { return &s }
	for i, u := range []store.User{
		{ID: "ada", Email: "ada@example.com", Name: ptr("Ada"), Surname: ptr("Lovelace"), Role: store.RoleStaff, EmailConfirmed: true},
		{ID: "pct", Email: "p@example.com", Pseudo: ptr("50%_off"), Role: store.RoleUser, EmailConfirmed: true},
		{ID: "under", Email: "u@example.com", Pseudo: ptr("a_b"), Role: store.RoleUser},
		{ID: "regex", Email: "r@example.com", Name: ptr(".*"), Role: store.RoleAdmin, Disabled: true},
		{ID: "dollar", Email: "d@example.com", Pseudo: ptr("$ne"), Role: store.RoleUser, Disabled: true},
		{ID: "slash", Email: "s@example.com", Surname: ptr(`back\slash`), Role: store.RoleUser, EmailConfirmed: true},
		{ID: "elodie", Email: "élodie@example.com", Name: ptr("Élodie"), Role: store.RoleUser},
	} {
		u.PasswordHash, u.Lang = "x", "en"
		u.CreatedAt = at.Add(time.Duration(i) * time.Millisecond)
		u.UpdatedAt = u.CreatedAt
		if err := e.app.Support().SeedUser(t.Context(), u); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		filter map[string]any
		want   []string
	}{
		{map[string]any{"query": "%"}, nil},
		{map[string]any{"query": "50%"}, []string{"pct"}},
		{map[string]any{"query": "_"}, nil},
		{map[string]any{"query": "a_"}, []string{"under"}},
		{map[string]any{"query": ".*"}, []string{"regex"}},
		{map[string]any{"query": "."}, []string{"regex"}},
		{map[string]any{"query": "$ne"}, []string{"dollar"}},
		{map[string]any{"query": `\`}, nil},
		{map[string]any{"query": `BACK\`}, []string{"slash"}},
		{map[string]any{"query": "ADA"}, []string{"ada"}},
		{map[string]any{"query": "love"}, []string{"ada"}},
		{map[string]any{"query": "ÉLODIE@"}, []string{"elodie"}},
		{map[string]any{"query": "Élo"}, []string{"elodie"}},
		{map[string]any{"role": "STAFF"}, []string{"ada", staff.User.ID}},
		{map[string]any{"role": "ADMIN"}, []string{"regex"}},
		{map[string]any{"disabled": true}, []string{"regex", "dollar"}},
		{map[string]any{"disabled": true, "role": "USER"}, []string{"dollar"}},
		{map[string]any{"emailConfirmed": true, "disabled": false}, []string{"ada", "pct", "slash"}},
		{map[string]any{"emailConfirmed": true, "role": "USER", "query": "P"}, []string{"pct"}},
		{map[string]any{"query": "a", "role": "USER", "disabled": false}, []string{"under"}},
	} {
		c := staffUsers(e, staff.AccessToken, map[string]any{"filter": tc.filter, "first": 2})
		ids := nodeIDs(c.Nodes)
		for c.PageInfo.HasNextPage {
			c = staffUsers(e, staff.AccessToken, map[string]any{"filter": tc.filter, "first": 2, "after": *c.PageInfo.EndCursor})
			ids = append(ids, nodeIDs(c.Nodes)...)
		}
		if !slices.Equal(ids, tc.want) || c.TotalCount != len(tc.want) {
			t.Errorf("users(%v) = %q, totalCount %d; want %q", tc.filter, ids, c.TotalCount, tc.want)
		}
	}
	// An unknown role is refused by the schema.
	e.wantCode(e.gql(staff.AccessToken, staffUsersQ, map[string]any{"filter": map[string]any{"role": "ROOT"}}), "GRAPHQL_VALIDATION_FAILED")
}

// user(id): the account, or null for an unknown or malformed ID.
func TestStaffAPIUser(t *testing.T) {
	e := newTestEnv(t, nil)
	staff := staffSignUp(e, "staff@example.com", store.RoleStaff)
	ann := e.register("ann@example.com", strongPassword)
	var resp struct{ User *staffUserNode }
	e.mustData(e.gql(staff.AccessToken, staffUserQ, map[string]any{"id": ann.User.ID}), &resp)
	if resp.User == nil || resp.User.ID != ann.User.ID || resp.User.Email != "ann@example.com" || resp.User.Role != "USER" {
		t.Errorf("user(ann) = %+v", resp.User)
	}
	for _, id := range []string{"NOSUCHUSER234567ABCDEFGHIJ", "", "../../etc/passwd", `{"$ne": null}`, strings.Repeat("x", 5000), "'; DROP TABLE users; --"} {
		var resp struct{ User *staffUserNode }
		e.mustData(e.gql(staff.AccessToken, staffUserQ, map[string]any{"id": id}), &resp)
		if resp.User != nil {
			t.Errorf("user(%.20q) = %+v, want null", id, resp.User)
		}
	}
}

// The audit log over HTTP: newest first, by user or everyone's, in pages that neither
// repeat nor skip, with what each event records; ADMIN only.
func TestStaffAPIAuditEvents(t *testing.T) {
	e := newTestEnv(t, nil)
	admin := staffSignUp(e, "admin@example.com", store.RoleAdmin)
	ann := e.register("ann@example.com", strongPassword)
	e.clock.Advance(time.Second)
	e.wantCode(e.loginReq("ann@example.com", "wrong password, quite long"), "INVALID_CREDENTIALS")
	e.clock.Advance(time.Second)
	e.login("ann@example.com", strongPassword)
	e.clock.Advance(time.Second)
	e.mustData(e.gql(ann.AccessToken, `mutation { logout }`, nil), nil)

	// Ann's events, newest first.
	c := staffAudit(e, admin.AccessToken, map[string]any{"userId": ann.User.ID})
	var types []string
	for _, n := range c.Nodes {
		types = append(types, n.Type+":"+n.Outcome)
		if n.UserID == nil || *n.UserID != ann.User.ID {
			t.Errorf("event %s of user %v in ann's log", n.ID, n.UserID)
		}
		if n.IP == nil || *n.IP == "" {
			t.Errorf("event %s has no IP", n.ID)
		}
	}
	want := []string{"logout:success", "login:success", "login:failure", "register:success"}
	if !slices.Equal(types, want) {
		t.Errorf("ann's audit events = %q, want %q", types, want)
	}
	for i := 1; i < len(c.Nodes); i++ {
		if c.Nodes[i].At.After(c.Nodes[i-1].At) {
			t.Errorf("not newest first: %v after %v", c.Nodes[i].At, c.Nodes[i-1].At)
		}
	}

	// Everyone's, by pages of 2, equal to one page of everything.
	all := staffAudit(e, admin.AccessToken, map[string]any{"first": 100})
	var paged []string
	var after any
	for range 50 {
		p := staffAudit(e, admin.AccessToken, map[string]any{"first": 2, "after": after})
		for _, n := range p.Nodes {
			paged = append(paged, n.ID)
		}
		if !p.PageInfo.HasNextPage {
			break
		}
		after = *p.PageInfo.EndCursor
	}
	var allIDs []string
	for _, n := range all.Nodes {
		allIDs = append(allIDs, n.ID)
	}
	if !slices.Equal(paged, allIDs) || len(allIDs) < 5 || all.PageInfo.HasNextPage {
		t.Errorf("by pages of 2 = %q, at once = %q", paged, allIDs)
	}
	if d := staffAudit(e, admin.AccessToken, nil); len(d.Nodes) != len(all.Nodes) {
		t.Errorf("auditEvents() = %d events, want all %d (the default page is 50)", len(d.Nodes), len(all.Nodes))
	}
	if none := staffAudit(e, admin.AccessToken, map[string]any{"userId": "NOSUCHUSER"}); len(none.Nodes) != 0 || none.PageInfo.EndCursor != nil {
		t.Errorf("auditEvents(unknown user) = %+v, want an empty page without cursor", none)
	}
	ge := e.wantCode(e.gql(admin.AccessToken, staffAuditQ, map[string]any{"userId": ""}), "BAD_USER_INPUT")
	if ge.Extensions["field"] != "userId" {
		t.Errorf(`auditEvents(userId: "") field = %v, want userId`, ge.Extensions["field"])
	}
	users := staffUsers(e, admin.AccessToken, map[string]any{"first": 1})
	ge = e.wantCode(e.gql(admin.AccessToken, staffAuditQ, map[string]any{"after": *users.PageInfo.EndCursor}), "BAD_USER_INPUT")
	if ge.Extensions["field"] != "after" {
		t.Errorf("auditEvents(after: a users cursor) field = %v, want after", ge.Extensions["field"])
	}
}
