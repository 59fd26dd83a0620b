package sqlite

import (
	"flag"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/toktok/toktok/store"
	"github.com/toktok/toktok/store/storetest"
)

// The listings again with every query through the ordered scan of the filter's index,
// the plan a prefix matching many users takes (the conformance suite's few users always
// take the OR plan): both plans answer the same.
func TestListingsThroughTheOrderedScan(t *testing.T) {
	old := probeLimit
	probeLimit = 0 // no prefix matches fewer than 0 users: never the OR plan
	t.Cleanup(func() { probeLimit = old })
	storetest.RunAdmin(t, func(t *testing.T) store.Store {
		return openTest(t, filepath.Join(t.TempDir(), "toktok.db"))
	})
}

// explain returns SQLite's query plan for q, one line a step.
func explain(t *testing.T, s *Store, q string, args ...any) string {
	t.Helper()
	rows, err := s.db.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+q, args...)
	if err != nil {
		t.Fatalf("EXPLAIN %s: %v", q, err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(plan, "\n")
}

// Each filter of the users listing reads its index in the listing's order (no sort step),
// from the cursor on; a prefix with few matches reads the four prefix indexes (and sorts
// those few), a prefix with many the filter's index in order, both without reading a
// table row for a user not on the page when there is no other filter; the audit log
// reads its indexes in order. TestListingPlansAtScale shows the
// same plans on a million users.
func TestListingQueriesUseIndexes(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "toktok.db"))
	role := func(r store.Role) *store.Role { return &r }
	yes, no := true, false
	key := &store.UserKey{CreatedAt: testTime, ID: "u1"}
	orPlan := []string{"MULTI-INDEX OR", "users_email", "users_name_lower", "users_surname_lower", "users_pseudo_lower"}
	// A query's page: its rows by rowid, chosen by the union of the four ranges, through
	// index entries only (covering) when no other filter needs the table's columns.
	byRowid := "SEARCH users USING INTEGER PRIMARY KEY (rowid=?)"
	unionPlan := []string{byRowid, "MERGE (UNION)", "COVERING INDEX users_email_created (email>? AND email<?)",
		"COVERING INDEX users_name_lower", "COVERING INDEX users_surname_lower", "COVERING INDEX users_pseudo_lower"}
	unionFiltered := []string{byRowid, "MERGE (UNION)", "INDEX users_email_created (email>? AND email<?)",
		"INDEX users_name_lower", "INDEX users_surname_lower", "INDEX users_pseudo_lower"}
	for _, tc := range []struct {
		name  string
		f     store.UserFilter
		after *store.UserKey
		probe int      // probeLimit; 0: the default
		want  []string // in the plan
		sort  bool     // the plan sorts (USE TEMP B-TREE)
	}{
		{"no filter", store.UserFilter{}, nil, 0, []string{"users_created"}, false},
		{"no filter, next page", store.UserFilter{}, key, 0, []string{"users_created ((created_at,id)>(?,?))"}, false},
		{"STAFF", store.UserFilter{Role: role(store.RoleStaff)}, key, 0, []string{"users_staff ((created_at,id)>(?,?))"}, false},
		{"ADMIN", store.UserFilter{Role: role(store.RoleAdmin)}, nil, 0, []string{"users_admin"}, false},
		{"USER", store.UserFilter{Role: role(store.RoleUser)}, key, 0, []string{"users_created ((created_at,id)>(?,?))"}, false},
		{"disabled", store.UserFilter{Disabled: &yes}, key, 0, []string{"users_disabled ((created_at,id)>(?,?))"}, false},
		{"enabled", store.UserFilter{Disabled: &no}, nil, 0, []string{"users_created"}, false},
		{"unconfirmed", store.UserFilter{EmailConfirmed: &no}, key, 0, []string{"users_unconfirmed ((created_at,id)>(?,?))"}, false},
		{"confirmed", store.UserFilter{EmailConfirmed: &yes}, nil, 0, []string{"users_created"}, false},
		{"STAFF, disabled, unconfirmed", store.UserFilter{Role: role(store.RoleStaff), Disabled: &yes, EmailConfirmed: &no}, key, 0,
			[]string{"users_staff ((created_at,id)>(?,?))"}, false},
		{"disabled, unconfirmed", store.UserFilter{Disabled: &yes, EmailConfirmed: &no}, nil, 0, []string{"users_disabled"}, false},
		{"query with few matches", store.UserFilter{Query: "ada"}, key, 0, unionPlan, true},
		{"query with few matches and filters", store.UserFilter{Query: "ada", Role: role(store.RoleStaff), Disabled: &no}, key, 0, unionFiltered, true},
		{"query with many matches", store.UserFilter{Query: "a"}, key, -1,
			[]string{byRowid, "SEARCH users USING COVERING INDEX users_created ((created_at,id)>(?,?))"}, false},
		{"query with many matches, first page", store.UserFilter{Query: "a"}, nil, -1,
			[]string{byRowid, "SCAN users USING COVERING INDEX users_created"}, false},
		{"query with many matches, USER", store.UserFilter{Query: "a", Role: role(store.RoleUser)}, key, -1,
			[]string{byRowid, "SEARCH users USING INDEX users_created ((created_at,id)>(?,?))"}, false},
		{"query with many matches, STAFF", store.UserFilter{Query: "a", Role: role(store.RoleStaff)}, key, -1,
			[]string{byRowid, "users_staff ((created_at,id)>(?,?))"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.probe != 0 {
				old := probeLimit
				probeLimit = max(tc.probe, 0)
				defer func() { probeLimit = old }()
			}
			q, args, err := s.listUsersSQL(t.Context(), "test", tc.f, tc.after, 20)
			if err != nil {
				t.Fatal(err)
			}
			plan := explain(t, s, q, args...)
			for _, w := range tc.want {
				if !strings.Contains(plan, w) {
					t.Errorf("the plan does not use %s:\n%s\nquery: %s", w, plan, q)
				}
			}
			if sorts := strings.Contains(plan, "TEMP B-TREE"); sorts != tc.sort {
				t.Errorf("the plan sorts: %t, want %t:\n%s", sorts, tc.sort, plan)
			}
			if strings.Contains(plan, "SCAN users\n") || strings.HasSuffix(plan, "SCAN users") {
				t.Errorf("the plan scans the table:\n%s", plan)
			}
		})
	}

	// The count that chooses a query's plan: index entries only, the narrowest.
	probe, args := probeSQL(prefixRanges(store.UserFilter{Query: "ada"}))
	plan := explain(t, s, probe, args...)
	for _, w := range []string{"COVERING INDEX users_email (email>? AND email<?)", "COVERING INDEX users_name_lower",
		"COVERING INDEX users_surname_lower", "COVERING INDEX users_pseudo_lower"} {
		if !strings.Contains(plan, w) {
			t.Errorf("the probe does not use %s:\n%s", w, plan)
		}
	}

	// Counts: index entries only (users_flags or a partial index); a query through the OR
	// plan.
	for _, tc := range []struct {
		f    store.UserFilter
		want []string
	}{
		{store.UserFilter{}, []string{"COVERING INDEX"}},
		{store.UserFilter{Role: role(store.RoleStaff)}, []string{"COVERING INDEX"}},
		{store.UserFilter{Role: role(store.RoleUser), Disabled: &no}, []string{"COVERING INDEX"}},
		{store.UserFilter{Disabled: &yes, EmailConfirmed: &no}, []string{"COVERING INDEX"}},
		{store.UserFilter{Query: "ada", Disabled: &no}, orPlan},
	} {
		q, args, err := s.countUsersSQL(t.Context(), "test", tc.f)
		if err != nil {
			t.Fatal(err)
		}
		plan := explain(t, s, q, args...)
		for _, w := range tc.want {
			if !strings.Contains(plan, w) {
				t.Errorf("count %+v: the plan does not use %s:\n%s", tc.f, w, plan)
			}
		}
	}

	// The audit log.
	akey := &store.AuditKey{At: testTime, ID: "e1"}
	for _, tc := range []struct {
		userID string
		after  *store.AuditKey
		want   string
	}{
		{"", nil, "audit_events_at"},
		{"", akey, "audit_events_at ((at,id)<(?,?))"},
		{"u1", nil, "audit_events_user (user_id=?)"},
		{"u1", akey, "audit_events_user (user_id=? AND (at,id)<(?,?))"},
	} {
		q, args := auditEventsSQL(tc.userID, tc.after, 50)
		plan := explain(t, s, q, args...)
		if !strings.Contains(plan, tc.want) || strings.Contains(plan, "TEMP B-TREE") {
			t.Errorf("audit events (%q, after %v): want %s without a sort, plan:\n%s", tc.userID, tc.after != nil, tc.want, plan)
		}
	}
}

// scaleUsers is -toktok.scale: how many users TestListingPlansAtScale lists (0: skip).
var scaleUsers = flag.Int("toktok.scale", 0, "run TestListingPlansAtScale on this many users (1000000 takes about a minute to build)")

// TestListingPlansAtScale prints the plan and time of each kind of listing on many users
// (docs/admin.md quotes a run on a million): go test ./store/sqlite -run AtScale
// -toktok.scale 1000000 -v. One user in 1000 is STAFF, one in 50 000 ADMIN, one in 97
// disabled, one in 3 unconfirmed; names repeat over 20 first names.
func TestListingPlansAtScale(t *testing.T) {
	n := *scaleUsers
	if n <= 0 {
		t.Skip("-toktok.scale not set")
	}
	s := openTest(t, filepath.Join(t.TempDir(), "toktok.db"))
	start := time.Now()
	tx, err := s.db.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ins, err := tx.PrepareContext(t.Context(), `INSERT INTO users (`+userInsertCols+`)
		VALUES (?, ?, ?, NULL, 'h', ?, ?, ?, ?, 'en', 1, NULL, ?, ?, ?, NULL, 0)`)
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"Ada", "Bob", "Carol", "Dave", "Eve", "Frank", "Grace", "Heidi", "Ivan", "Judy",
		"Mallory", "Niaj", "Olivia", "Peggy", "Rupert", "Sybil", "Trent", "Victor", "Walter", "Élodie"}
	base := testTime.UnixMilli()
	for i := range n {
		role := store.RoleUser
		switch {
		case i%50_000 == 0:
			role = store.RoleAdmin
		case i%1000 == 0:
			role = store.RoleStaff
		}
		name := names[i%len(names)]
		at := base + int64(i)*1000
		if _, err := ins.ExecContext(t.Context(), fmt.Sprintf("u%08d", i), fmt.Sprintf("%s.%d@example.com", strings.ToLower(name), i),
			i%3 != 0, string(role), fmt.Sprintf("%s%d", name, i%997), fmt.Sprintf("Sur%d", i%5003), fmt.Sprintf("p%d", i),
			i%97 == 0, at, at); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d users written in %v", n, time.Since(start).Round(time.Millisecond))

	role := func(r store.Role) *store.Role { return &r }
	yes, no := true, false
	mid := &store.UserKey{CreatedAt: time.UnixMilli(base + int64(n/2)*1000), ID: fmt.Sprintf("u%08d", n/2)}
	for _, tc := range []struct {
		name string
		f    store.UserFilter
	}{
		{"no filter", store.UserFilter{}},
		{"role STAFF", store.UserFilter{Role: role(store.RoleStaff)}},
		{"role USER", store.UserFilter{Role: role(store.RoleUser)}},
		{"disabled", store.UserFilter{Disabled: &yes}},
		{"unconfirmed", store.UserFilter{EmailConfirmed: &no}},
		{"STAFF, disabled, confirmed", store.UserFilter{Role: role(store.RoleStaff), Disabled: &yes, EmailConfirmed: &yes}},
		{"query ada100 (few matches)", store.UserFilter{Query: "ada100"}},
		{"query ada1 (many matches)", store.UserFilter{Query: "ada1"}},
		{"query p (nearly everyone)", store.UserFilter{Query: "p"}},
		{"query p, STAFF", store.UserFilter{Query: "p", Role: role(store.RoleStaff)}},
		{"query zzz (no match)", store.UserFilter{Query: "zzz"}},
	} {
		for _, after := range []*store.UserKey{nil, mid} {
			q, args, err := s.listUsersSQL(t.Context(), "test", tc.f, after, 21)
			if err != nil {
				t.Fatal(err)
			}
			plan := explain(t, s, q, args...)
			start := time.Now()
			got, err := s.ListUsers(t.Context(), tc.f, after, 21)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s, %s: %d users in %v\n\t%s", tc.name, map[bool]string{true: "first page", false: "from the middle"}[after == nil],
				len(got), time.Since(start).Round(10*time.Microsecond), strings.ReplaceAll(plan, "\n", "\n\t"))
		}
		q, args, err := s.countUsersSQL(t.Context(), "test", tc.f)
		if err != nil {
			t.Fatal(err)
		}
		plan := explain(t, s, q, args...)
		start := time.Now()
		c, err := s.CountUsers(t.Context(), tc.f)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s, count: %d in %v\n\t%s", tc.name, c, time.Since(start).Round(10*time.Microsecond), strings.ReplaceAll(plan, "\n", "\n\t"))
	}
}
