package storetest

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/toktok/toktok/store"
)

// The staff API's listings: ListUsers and CountUsers (filters, the literal prefix, the
// keyset under inserts and deletes), AuditEventsAfter, SetRole and SetDisabled.

// adminTests are the conformance tests of this file, registered in Run.
var adminTests = []struct {
	name string
	run  func(t *testing.T, s store.Store)
}{
	{"ListUsersFilters", testListUsersFilters},
	{"ListUsersLiteralQuery", testListUsersLiteralQuery},
	{"ListUsersKeysetEdges", testListUsersKeysetEdges},
	{"ListUsersWhileChanging", func(t *testing.T, s store.Store) {
		// Disabling a user takes it out of the {Disabled: false} listing as a delete would.
		ListUsersWhileChanging(t, s, func(t *testing.T, id string) {
			t.Helper()
			if err := s.SetDisabled(t.Context(), id, true, t0); err != nil {
				t.Fatalf("SetDisabled(%q): %v", id, err)
			}
		})
	}},
	{"ListUsersWhileDeleting", func(t *testing.T, s store.Store) {
		// Account deletion's first step is what takes a user out of every listing.
		ListUsersWhileChanging(t, s, func(t *testing.T, id string) {
			t.Helper()
			if _, err := s.BeginUserDeletion(t.Context(), id, t0); err != nil {
				t.Fatalf("BeginUserDeletion(%q): %v", id, err)
			}
		})
	}},
	{"ListUsersSkipsDeleted", testListUsersSkipsDeleted},
	{"SetRoleAndDisabled", testSetRoleAndDisabled},
	{"AuditEventsAfter", testAuditEventsAfter},
}

// RunAdmin runs only the tests of the staff API's listings, as subtests of t: a backend
// whose listing depends on a setting runs them again under it.
func RunAdmin(t *testing.T, newStore func(t *testing.T) store.Store) {
	for _, tc := range adminTests {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t, newStore(t))
		})
	}
}

// matchesUser is the contract of store.UserFilter, written out: the oracle the listings
// are checked against.
func matchesUser(f store.UserFilter, u store.User) bool {
	if f.Role != nil && u.Role != *f.Role ||
		f.EmailConfirmed != nil && u.EmailConfirmed != *f.EmailConfirmed ||
		f.Disabled != nil && u.Disabled != *f.Disabled {
		return false
	}
	if f.Query == "" {
		return true
	}
	if strings.HasPrefix(u.Email, store.EmailPrefix(f.Query)) {
		return true
	}
	np := store.NamePrefix(f.Query)
	for _, v := range []*string{u.Name, u.Surname, u.Pseudo} {
		if v != nil && strings.HasPrefix(store.FoldName(*v), np) {
			return true
		}
	}
	return false
}

// userOrder is the listing's order: the stored CreatedAt (milliseconds), then the ID.
func userOrder(a, b store.User) int {
	return cmp.Or(cmp.Compare(a.CreatedAt.Truncate(time.Millisecond).UnixMilli(), b.CreatedAt.Truncate(time.Millisecond).UnixMilli()),
		strings.Compare(a.ID, b.ID))
}

// expectUsers is the IDs of the users of all that match f, in the listing's order.
func expectUsers(f store.UserFilter, all []store.User) []string {
	var m []store.User
	for _, u := range all {
		if matchesUser(f, u) {
			m = append(m, u)
		}
	}
	slices.SortFunc(m, userOrder)
	ids := make([]string, len(m))
	for i, u := range m {
		ids[i] = u.ID
	}
	return ids
}

// listAll pages through ListUsers with f, limit users a page, and returns the IDs.
func listAll(t *testing.T, s store.Store, f store.UserFilter, limit int) []string {
	t.Helper()
	var (
		ids   []string
		after *store.UserKey
	)
	for page := 0; ; page++ {
		us, err := s.ListUsers(t.Context(), f, after, limit)
		if err != nil {
			t.Fatalf("ListUsers(%s, page %d): %v", fmtFilter(f), page, err)
		}
		if len(us) > limit {
			t.Fatalf("ListUsers(%s, limit %d) returned %d users", fmtFilter(f), limit, len(us))
		}
		for _, u := range us {
			ids = append(ids, u.ID)
		}
		if len(us) < limit {
			return ids
		}
		k := us[len(us)-1].Key()
		after = &k
		if page > 10_000 {
			t.Fatalf("ListUsers(%s) never ends", fmtFilter(f))
		}
	}
}

func fmtFilter(f store.UserFilter) string {
	var b strings.Builder
	fmt.Fprintf(&b, "{Query: %q", f.Query)
	if f.Role != nil {
		fmt.Fprintf(&b, ", Role: %s", *f.Role)
	}
	if f.EmailConfirmed != nil {
		fmt.Fprintf(&b, ", EmailConfirmed: %t", *f.EmailConfirmed)
	}
	if f.Disabled != nil {
		fmt.Fprintf(&b, ", Disabled: %t", *f.Disabled)
	}
	return b.String() + "}"
}

// listingUsers are users whose emails, names, surnames and pseudos hold what a query
// could mistake for syntax (SQL LIKE wildcards and escapes, regular expressions, MongoDB
// operators, quotes) and letters in both cases, in and out of ASCII, with every role and
// flag. Creation times repeat, so the ID decides the order within a millisecond.
func listingUsers() []store.User {
	type spec struct {
		id, email             string
		name, surname, pseudo *string
		role                  store.Role
		confirmed, disabled   bool
		createdMS             int
	}
	specs := []spec{
		{"m-ada", "ada@example.com", ptr("Ada"), ptr("Lovelace"), ptr("countess"), store.RoleUser, true, false, 5},
		{"c-adam", "adam.smith@example.com", ptr("ADAM"), nil, nil, store.RoleStaff, true, false, 5},
		{"a-elodie", "elodie@example.com", ptr("Élodie"), ptr("Élan"), ptr("élo"), store.RoleUser, false, false, 1},
		{"q-elise", "élise@exemple.fr", nil, nil, nil, store.RoleAdmin, true, false, 9},
		{"b-pct", "percent@example.com", ptr("Percy"), nil, ptr("50%_off"), store.RoleUser, true, true, 2},
		{"k-under", "under@example.com", nil, ptr("Under"), ptr("a_b"), store.RoleStaff, false, false, 2},
		{"d-dotstar", "dotstar@example.com", ptr(".*"), nil, nil, store.RoleUser, true, false, 3},
		{"e-dollar", "dollar@example.com", ptr("$where"), nil, ptr("$ne"), store.RoleAdmin, false, true, 3},
		{"f-backslash", "back@example.com", nil, ptr(`back\slash`), ptr(`\`), store.RoleUser, true, false, 4},
		{"g-quote", "obrien@example.com", ptr("O'Brien"), ptr("Nuñez"), nil, store.RoleUser, true, false, 4},
		{"h-bracket", "bracket@example.com", nil, nil, ptr("[a-z]+"), store.RoleStaff, true, true, 4},
		{"i-max", "max@example.com", ptr("\U0010FFFFmax"), nil, ptr("zz\U0010FFFF"), store.RoleUser, true, false, 6},
		{"j-nobody", "nobody@example.com", nil, nil, nil, store.RoleUser, false, false, 6},
		{"l-anna", "anna@example.com", ptr("anna"), ptr("ADAMS"), ptr("Ann"), store.RoleUser, true, false, 7},
		{"n-percent", "50percent@example.com", nil, nil, ptr("%"), store.RoleAdmin, true, false, 7},
		{"o-underscore", "x_y@example.com", ptr("_"), nil, nil, store.RoleUser, false, true, 8},
		{"p-zed", "zed@example.com", ptr("Zed"), ptr("ÉLODIE"), nil, store.RoleStaff, true, false, 8},
	}
	out := make([]store.User, len(specs))
	for i, sp := range specs {
		u := minimalUser(sp.id, sp.email)
		u.Name, u.Surname, u.Pseudo = sp.name, sp.surname, sp.pseudo
		u.Role, u.EmailConfirmed, u.Disabled = sp.role, sp.confirmed, sp.disabled
		// Nanoseconds within the millisecond are lost when stored: the order is the ID's.
		u.CreatedAt = t0.Truncate(time.Millisecond).Add(time.Duration(sp.createdMS)*time.Millisecond + time.Duration(i)*time.Microsecond)
		out[i] = u
	}
	return out
}

// seedUsers creates users.
func seedUsers(t *testing.T, s store.Store, users []store.User) {
	t.Helper()
	for _, u := range users {
		mustCreateUser(t, s, u)
	}
}

// Every filter alone and in combination, paged three users at a time, and counted: the
// pages together are exactly the matching users, in order, and the count is their number.
func testListUsersFilters(t *testing.T, s store.Store) {
	users := listingUsers()
	seedUsers(t, s, users)

	roles := []*store.Role{nil, ptr(store.RoleUser), ptr(store.RoleStaff), ptr(store.RoleAdmin)}
	flags := []*bool{nil, ptr(true), ptr(false)}
	var filters []store.UserFilter
	// Every combination of the flags, with no query and with a few.
	for _, q := range []string{"", "a", "É", "e"} {
		for _, r := range roles {
			for _, c := range flags {
				for _, d := range flags {
					filters = append(filters, store.UserFilter{Query: q, Role: r, EmailConfirmed: c, Disabled: d})
				}
			}
		}
	}
	// Every query alone.
	for _, q := range []string{
		"A", "ad", "ADA", "adam", "adams", "Ada@", "ada@example.com", "ada@example.comx",
		"é", "élo", "ÉLO", "Élodie", "élodie", "ÉLODIE", "e\u0301", "nuñ", "NUÑ",
		"%", "_", "a_", "50%", "50", ".*", ".", "$ne", "$", "$where", `\`, `back\`, "[a-z]", "[", "O'", "'",
		"\U0010FFFF", "zz\U0010FFFF", "zz", "nobody", "no match", " ", "x_y",
	} {
		filters = append(filters, store.UserFilter{Query: q})
	}
	for _, f := range filters {
		want := expectUsers(f, users)
		if got := listAll(t, s, f, 3); !equalStrings(got, want) {
			t.Errorf("ListUsers(%s) = %q, want %q", fmtFilter(f), got, want)
		}
		n, err := s.CountUsers(t.Context(), f)
		if err != nil {
			t.Errorf("CountUsers(%s): %v", fmtFilter(f), err)
		} else if n != len(want) {
			t.Errorf("CountUsers(%s) = %d, want %d", fmtFilter(f), n, len(want))
		}
	}

	// The users come back whole.
	got, err := s.ListUsers(t.Context(), store.UserFilter{Query: "ada@"}, nil, 10)
	if err != nil || len(got) != 1 {
		t.Fatalf("ListUsers(ada@) = %d users, %v; want 1", len(got), err)
	}
	checkUser(t, "ListUsers", got[0], users[0])
}

// The query is a literal prefix: what LIKE, a regular expression or a MongoDB filter
// would read as syntax matches itself only. These are spelt out rather than left to the
// oracle, which could share a mistake with a backend.
func testListUsersLiteralQuery(t *testing.T, s store.Store) {
	seedUsers(t, s, listingUsers())
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"%", []string{"n-percent"}},                   // not "any string"
		{"_", []string{"o-underscore"}},                // not "any character"
		{"a_", []string{"k-under"}},                    // "a_b", not "ada", "adam", "anna"
		{"50%", []string{"b-pct"}},                     // pseudo "50%_off", not email "50percent@"
		{"50", []string{"b-pct", "n-percent"}},         // both
		{".*", []string{"d-dotstar"}},                  // not every user
		{".", []string{"d-dotstar"}},                   // not any character
		{"$ne", []string{"e-dollar"}},                  // not an operator
		{"$", []string{"e-dollar"}},                    // "$where", "$ne"
		{`\`, []string{"f-backslash"}},                 // not an escape
		{`back\`, []string{"f-backslash"}},             // surname `back\slash`
		{"[a-z]", []string{"h-bracket"}},               // not a class
		{"'", nil},                                     // no quote to break out of
		{"O'", []string{"g-quote"}},                    // "O'Brien"
		{"ADA", []string{"c-adam", "m-ada", "l-anna"}}, // ASCII case-insensitive; surname "ADAMS"
		{"ÉLO", []string{"a-elodie", "p-zed"}},         // name "Élodie", surname "ÉLODIE"
		{"élo", []string{"a-elodie"}},                  // pseudo "élo"; names keep non-ASCII case
		{"ÉLISE", []string{"q-elise"}},                 // emails are lower-case in full Unicode
		{"e\u0301", []string{"a-elodie", "q-elise"}},   // NFC: "é" (pseudo "élo", email "élise@")
		{"\U0010FFFF", []string{"i-max"}},              // no upper bound to the range
		{"zz\U0010FFFF", []string{"i-max"}},            // nor here
		{"zz", []string{"i-max"}},                      //
		{" ", nil},                                     // not trimmed: nothing starts with a space
	} {
		got := listAll(t, s, store.UserFilter{Query: tc.query}, 100)
		if !equalStrings(got, tc.want) {
			t.Errorf("ListUsers(Query %q) = %q, want %q", tc.query, got, tc.want)
		}
	}
}

// The keyset: limits, a key before every user, after every user, between two users of
// one millisecond, and the key of a user that is not there.
func testListUsersKeysetEdges(t *testing.T, s store.Store) {
	none, err := s.ListUsers(t.Context(), store.UserFilter{}, nil, 10)
	if err != nil || len(none) != 0 {
		t.Errorf("ListUsers(empty store) = %d users, %v; want none", len(none), err)
	}
	if n, err := s.CountUsers(t.Context(), store.UserFilter{}); err != nil || n != 0 {
		t.Errorf("CountUsers(empty store) = %d, %v; want 0", n, err)
	}
	users := listingUsers()
	seedUsers(t, s, users)
	all := expectUsers(store.UserFilter{}, users)
	ms := func(n int) time.Time { return t0.Truncate(time.Millisecond).Add(time.Duration(n) * time.Millisecond) }
	for _, tc := range []struct {
		name  string
		after *store.UserKey
		limit int
		want  []string
	}{
		{"limit 0", nil, 0, nil},
		{"negative limit", nil, -1, nil},
		{"limit 1", nil, 1, all[:1]},
		{"everything", nil, 100, all},
		{"before every user", &store.UserKey{CreatedAt: ms(-1000), ID: "zzz"}, 100, all},
		{"after every user", &store.UserKey{CreatedAt: ms(1000), ID: ""}, 100, nil},
		// m-ada and c-adam share millisecond 5: after c-adam comes m-ada.
		{"within a millisecond", &store.UserKey{CreatedAt: ms(5), ID: "c-adam"}, 1, []string{"m-ada"}},
		// A key that is no user's: strictly after it, wherever it falls.
		{"a key that is no user's", &store.UserKey{CreatedAt: ms(5), ID: "d"}, 100, all[slices.Index(all, "m-ada"):]},
		// The nanoseconds of the key are below the stored precision.
		{"sub-millisecond key", &store.UserKey{CreatedAt: ms(5).Add(999 * time.Microsecond), ID: "c-adam"}, 1, []string{"m-ada"}},
	} {
		got, err := s.ListUsers(t.Context(), store.UserFilter{}, tc.after, tc.limit)
		if err != nil {
			t.Errorf("%s: ListUsers: %v", tc.name, err)
			continue
		}
		ids := make([]string, len(got))
		for i, u := range got {
			ids[i] = u.ID
		}
		if !equalStrings(ids, tc.want) {
			t.Errorf("%s: ListUsers = %q, want %q", tc.name, ids, tc.want)
		}
	}
}

// ListUsersWhileChanging pages through a listing of hundreds of users, a few at a time,
// while users are created (before, inside and after the page boundary) and removed
// (the last user of the page just read, users not yet read, users already read) between
// pages. remove takes a user out of the {Disabled: false} listing: SetDisabled, or the
// account deletion's BeginUserDeletion.
//
// The keyset's guarantees: the pages are in order with no user twice; every user that
// exists from the first page to the last comes exactly once; a user removed before its
// page never comes; the users created during the pagination that come are in order too.
func ListUsersWhileChanging(t *testing.T, s store.Store, remove func(t *testing.T, id string)) {
	const (
		initial = 240
		limit   = 10
	)
	filter := store.UserFilter{Disabled: ptr(false)}
	base := t0.Truncate(time.Millisecond)
	newUser := func(id string, at time.Time) store.User {
		u := minimalUser(id, id+"@example.com")
		u.CreatedAt, u.UpdatedAt = at, at
		return u
	}
	// IDs are a permutation of the creation order, three users a millisecond: the ID
	// decides within a millisecond, and is not the insertion order.
	live := map[string]store.User{}
	for i := range initial {
		u := newUser(fmt.Sprintf("u%03d", (i*7)%initial), base.Add(time.Duration(i/3)*time.Millisecond))
		mustCreateUser(t, s, u)
		live[u.ID] = u
	}
	throughout := map[string]bool{} // the users that exist from start to end
	for id := range live {
		throughout[id] = true
	}
	removed := map[string]bool{}
	seen := map[string]bool{}
	var (
		got   []store.User
		after *store.UserKey
	)
	for page := 0; ; page++ {
		us, err := s.ListUsers(t.Context(), filter, after, limit)
		if err != nil {
			t.Fatalf("page %d: ListUsers: %v", page, err)
		}
		for _, u := range us {
			if removed[u.ID] {
				t.Errorf("page %d: %s was removed before this page, and is listed", page, u.ID)
			}
			if seen[u.ID] {
				t.Errorf("page %d: %s listed twice", page, u.ID)
			}
			seen[u.ID] = true
			got = append(got, u)
		}
		if len(us) < limit {
			break
		}
		last := us[len(us)-1]
		k := last.Key()
		after = &k

		// Between pages: three users created (in the millisecond of the boundary with an
		// ID before and after it, and later), and up to three removed (the boundary user
		// itself, the next user not yet read, an early user already read).
		for _, u := range []store.User{
			newUser(fmt.Sprintf("n%03da", page), last.CreatedAt),
			newUser("~"+fmt.Sprintf("n%03db", page), last.CreatedAt),
			newUser(fmt.Sprintf("n%03dc", page), base.Add(time.Duration(initial/3+page)*time.Millisecond)),
		} {
			mustCreateUser(t, s, u)
			live[u.ID] = u
		}
		var ahead []store.User
		for _, u := range live {
			if !seen[u.ID] && !removed[u.ID] && userOrder(u, last) > 0 && throughout[u.ID] {
				ahead = append(ahead, u)
			}
		}
		slices.SortFunc(ahead, userOrder)
		var victims []string
		if page%2 == 0 {
			// Every other page: the other pages check that the boundary user, still
			// there, does not come again.
			victims = append(victims, last.ID)
		}
		if len(ahead) > 0 {
			victims = append(victims, ahead[0].ID)
		}
		if len(got) > 1 {
			victims = append(victims, got[len(got)/2].ID)
		}
		for _, id := range victims {
			if removed[id] {
				continue
			}
			remove(t, id)
			removed[id] = true
			delete(throughout, id)
		}
		if page > initial {
			t.Fatal("the pagination never ends")
		}
	}

	for i := 1; i < len(got); i++ {
		if userOrder(got[i-1], got[i]) >= 0 {
			t.Errorf("out of order: %s then %s", got[i-1].ID, got[i].ID)
		}
	}
	for id := range throughout {
		if !seen[id] {
			t.Errorf("%s existed throughout and was never listed", id)
		}
	}
	if len(seen) < initial/2 {
		t.Errorf("only %d users listed", len(seen))
	}
	var remaining []store.User
	for id, u := range live {
		if !removed[id] {
			remaining = append(remaining, u)
		}
	}
	if n, err := s.CountUsers(t.Context(), filter); err != nil || n != len(remaining) {
		t.Errorf("CountUsers after the changes = %d, %v; want %d", n, err, len(remaining))
	}
}

// A user whose deletion has begun is in no listing and no count, whatever the filter
// (a backend that keeps a record of it must not list that record).
func testListUsersSkipsDeleted(t *testing.T, s store.Store) {
	users := listingUsers()
	seedUsers(t, s, users)
	deleted := map[string]bool{"m-ada": true, "b-pct": true, "q-elise": true}
	for id := range deleted {
		if _, err := s.BeginUserDeletion(t.Context(), id, t0); err != nil {
			t.Fatalf("BeginUserDeletion(%q): %v", id, err)
		}
	}
	var remaining []store.User
	for _, u := range users {
		if !deleted[u.ID] {
			remaining = append(remaining, u)
		}
	}
	yes := true
	for _, f := range []store.UserFilter{
		{}, {Query: "ada"}, {Query: "deleted"}, {Query: "d"}, {Disabled: &yes}, {EmailConfirmed: &yes},
		{Role: ptr(store.RoleAdmin)},
	} {
		want := expectUsers(f, remaining)
		if got := listAll(t, s, f, 4); !equalStrings(got, want) {
			t.Errorf("ListUsers(%s) after deletions = %q, want %q", fmtFilter(f), got, want)
		}
		if n, err := s.CountUsers(t.Context(), f); err != nil || n != len(want) {
			t.Errorf("CountUsers(%s) after deletions = %d, %v; want %d", fmtFilter(f), n, err, len(want))
		}
	}
	wantErr(t, "SetRole(deleted)", s.SetRole(t.Context(), "m-ada", store.RoleAdmin, t0), store.ErrNotFound)
	wantErr(t, "SetDisabled(deleted)", s.SetDisabled(t.Context(), "m-ada", false, t0), store.ErrNotFound)
}

// SetRole and SetDisabled change that field and UpdatedAt, nothing else.
func testSetRoleAndDisabled(t *testing.T, s store.Store) {
	u := fullUser("u1", "ann@example.com")
	u.Role, u.Disabled = store.RoleUser, false
	mustCreateUser(t, s, u)
	later := t0.Add(time.Hour)

	if err := s.SetRole(t.Context(), "u1", store.RoleAdmin, later); err != nil {
		t.Fatalf("SetRole: %v", err)
	}
	want := u
	want.Role, want.UpdatedAt = store.RoleAdmin, later
	checkUser(t, "after SetRole", mustUser(t, s, "u1"), want)

	later = later.Add(time.Minute)
	if err := s.SetDisabled(t.Context(), "u1", true, later); err != nil {
		t.Fatalf("SetDisabled: %v", err)
	}
	want.Disabled, want.UpdatedAt = true, later
	checkUser(t, "after SetDisabled(true)", mustUser(t, s, "u1"), want)
	if err := s.SetDisabled(t.Context(), "u1", false, later); err != nil {
		t.Fatalf("SetDisabled(false): %v", err)
	}
	if got := mustUser(t, s, "u1"); got.Disabled {
		t.Error("SetDisabled(false) left the user disabled")
	}

	wantErr(t, "SetRole(unknown)", s.SetRole(t.Context(), "nobody", store.RoleStaff, later), store.ErrNotFound)
	wantErr(t, "SetDisabled(unknown)", s.SetDisabled(t.Context(), "nobody", true, later), store.ErrNotFound)
}

// AuditEventsAfter pages through the audit log newest first, for everyone and for one
// user, with events sharing a millisecond: the pages together are the log in order.
func testAuditEventsAfter(t *testing.T, s store.Store) {
	var events []store.AuditEvent
	base := t0.Truncate(time.Millisecond)
	for i := range 40 {
		e := store.AuditEvent{
			ID: fmt.Sprintf("e%02d", (i*11)%40), At: base.Add(time.Duration(i/4) * time.Millisecond),
			Type: "login", Outcome: "success", UserID: []string{"u1", "u2", ""}[i%3],
		}
		if err := s.AppendAudit(t.Context(), e); err != nil {
			t.Fatalf("AppendAudit: %v", err)
		}
		events = append(events, e)
	}
	order := func(a, b store.AuditEvent) int { // newest first, then ID descending
		return cmp.Or(b.At.Compare(a.At), strings.Compare(b.ID, a.ID))
	}
	for _, userID := range []string{"", "u1", "u2", "nobody"} {
		var want []string
		sorted := slices.Clone(events)
		slices.SortFunc(sorted, order)
		for _, e := range sorted {
			if userID == "" || e.UserID == userID {
				want = append(want, e.ID)
			}
		}
		for _, limit := range []int{1, 3, 100} {
			var (
				got   []string
				after *store.AuditKey
			)
			for range 100 {
				page, err := s.AuditEventsAfter(t.Context(), userID, after, limit)
				if err != nil {
					t.Fatalf("AuditEventsAfter(%q, %d): %v", userID, limit, err)
				}
				for _, e := range page {
					got = append(got, e.ID)
				}
				if len(page) < limit {
					break
				}
				k := page[len(page)-1].Key()
				after = &k
			}
			if !equalStrings(got, want) {
				t.Errorf("AuditEventsAfter(%q) by %d = %q, want %q", userID, limit, got, want)
			}
		}
	}
	// A key that is no event's, within a millisecond of others: strictly after it.
	key := store.AuditEvent{ID: "e15x", At: base.Add(2 * time.Millisecond)}
	var want []string
	sorted := slices.Clone(events)
	slices.SortFunc(sorted, order)
	for _, e := range sorted {
		if order(key, e) < 0 {
			want = append(want, e.ID)
		}
	}
	k := key.Key()
	got, err := s.AuditEventsAfter(t.Context(), "", &k, 100)
	if err != nil {
		t.Fatal(err)
	}
	if !equalStrings(auditIDs(got), want) || len(want) == 0 || len(want) == len(events) {
		t.Errorf("AuditEventsAfter(a key that is no event's) = %q, want %q", auditIDs(got), want)
	}
	if got, err := s.AuditEventsAfter(t.Context(), "", nil, 0); err != nil || len(got) != 0 {
		t.Errorf("AuditEventsAfter(limit 0) = %d events, %v; want none", len(got), err)
	}
	// The first page agrees with AuditEvents.
	first, err := s.AuditEventsAfter(t.Context(), "u1", nil, 5)
	if err != nil {
		t.Fatal(err)
	}
	old, err := s.AuditEvents(t.Context(), "u1", 5)
	if err != nil {
		t.Fatal(err)
	}
	if !equalStrings(auditIDs(first), auditIDs(old)) {
		t.Errorf("AuditEventsAfter(u1, first page) = %q, AuditEvents = %q", auditIDs(first), auditIDs(old))
	}
}
