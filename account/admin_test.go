package account

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/toktok/toktok/store"
)

func TestRoleAtLeast(t *testing.T) {
	roles := []store.Role{store.RoleUser, store.RoleStaff, store.RoleAdmin}
	for i, have := range roles {
		for j, want := range roles {
			if got := RoleAtLeast(have, want); got != (i >= j) {
				t.Errorf("RoleAtLeast(%s, %s) = %t, want %t", have, want, got, i >= j)
			}
		}
	}
	for _, tc := range []struct {
		have, want store.Role
	}{
		{"", store.RoleUser}, {"admin", store.RoleUser}, {"ROOT", store.RoleUser}, // unknown roles rank below USER
		{store.RoleAdmin, ""}, {store.RoleAdmin, "ROOT"}, // an unknown requirement refuses everyone
	} {
		if RoleAtLeast(tc.have, tc.want) {
			t.Errorf("RoleAtLeast(%q, %q) = true, want false", tc.have, tc.want)
		}
	}
}

// Authorize reads the role from the store on every call: a promotion, a demotion or a
// disabling counts on the very next request with the same access token, whatever role
// the token was issued with.
func TestAuthorizeReadsTheCurrentRole(t *testing.T) {
	f := newFixture(t)
	tok := f.register("ann@example.com", strongPW)
	ctx := f.accessCtx(tok)
	id := tok.User.ID
	set := func(r store.Role) {
		t.Helper()
		if err := f.store.SetRole(t.Context(), id, r, f.clock.Now()); err != nil {
			t.Fatal(err)
		}
	}
	steps := []struct {
		name   string
		change func()
		need   store.Role
		want   Code // "" = allowed
	}{
		{"a new user needs STAFF", func() {}, store.RoleStaff, CodeForbidden},
		{"a new user is a USER", func() {}, store.RoleUser, ""},
		{"promoted to STAFF", func() { set(store.RoleStaff) }, store.RoleStaff, ""},
		{"STAFF needs ADMIN", func() {}, store.RoleAdmin, CodeForbidden},
		{"promoted to ADMIN", func() { set(store.RoleAdmin) }, store.RoleAdmin, ""},
		{"ADMIN has STAFF", func() {}, store.RoleStaff, ""},
		{"demoted to USER", func() { set(store.RoleUser) }, store.RoleStaff, CodeForbidden},
		{"STAFF again", func() { set(store.RoleStaff) }, store.RoleStaff, ""},
		{"disabled", func() {
			if err := f.store.SetDisabled(t.Context(), id, true, f.clock.Now()); err != nil {
				t.Fatal(err)
			}
		}, store.RoleStaff, CodeUnauthenticated},
		{"disabled, needing only USER", func() {}, store.RoleUser, CodeUnauthenticated},
		{"enabled again", func() {
			if err := f.store.SetDisabled(t.Context(), id, false, f.clock.Now()); err != nil {
				t.Fatal(err)
			}
		}, store.RoleStaff, ""},
	}
	for _, st := range steps {
		st.change()
		p, err := f.svc.Authorize(ctx, st.need)
		if st.want == "" {
			if err != nil || p.User.ID != id {
				t.Errorf("%s: Authorize(%s) = %v, %v; want the user", st.name, st.need, p.User.ID, err)
			}
			continue
		}
		wantCodeErr(t, fmt.Sprintf("%s: Authorize(%s)", st.name, st.need), err, st.want)
	}

	// No token, an anonymous one, an invalid one, an ended session: UNAUTHENTICATED.
	for name, a := range map[string]Auth{
		"no token":  {},
		"anonymous": {Kind: KindAnonymous},
		"invalid":   {Kind: KindInvalid},
	} {
		_, err := f.svc.Authorize(WithAuth(t.Context(), a), store.RoleUser)
		wantCodeErr(t, name, err, CodeUnauthenticated)
	}
	if err := f.svc.Logout(ctx, f.principal(tok), LogoutCurrent); err != nil {
		t.Fatal(err)
	}
	_, err := f.svc.Authorize(ctx, store.RoleUser)
	wantCodeErr(t, "after logout", err, CodeUnauthenticated)
}

// wantCodeErr reports an error unless err is an *Error of code.
func wantCodeErr(t *testing.T, what string, err error, code Code) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || e.Code != code {
		t.Errorf("%s: %v, want %s", what, err, code)
	}
}

// The listings refuse a principal below their role even when called without the
// directive; user(id) is nil for an unknown or malformed ID.
func TestStaffReadsCheckTheRole(t *testing.T) {
	f := newFixture(t)
	tok := f.register("ann@example.com", strongPW)
	user := f.principal(tok)
	staff, admin := user, user
	staff.User.Role, admin.User.Role = store.RoleStaff, store.RoleAdmin

	_, err := f.svc.UserForStaff(t.Context(), user, tok.User.ID)
	wantCodeErr(t, "UserForStaff(USER)", err, CodeForbidden)
	_, err = f.svc.Users(t.Context(), user, UsersQuery{})
	wantCodeErr(t, "Users(USER)", err, CodeForbidden)
	_, err = f.svc.AuditLog(t.Context(), staff, AuditQuery{})
	wantCodeErr(t, "AuditLog(STAFF)", err, CodeForbidden)

	for _, id := range []string{tok.User.ID, "nobody", "", strings.Repeat("x", 300), "\xff\xfe", "../../etc", `{"$ne":null}`} {
		u, err := f.svc.UserForStaff(t.Context(), staff, id)
		switch {
		case err != nil:
			t.Errorf("UserForStaff(%q) = %v", id, err)
		case id == tok.User.ID && (u == nil || u.Email != "ann@example.com"):
			t.Errorf("UserForStaff(the user) = %+v", u)
		case id != tok.User.ID && u != nil:
			t.Errorf("UserForStaff(%q) = %+v, want nil", id, u)
		}
	}
	if _, err := f.svc.AuditLog(t.Context(), admin, AuditQuery{UserID: new(string)}); err == nil {
		t.Error(`AuditLog(userId "") succeeded, want BAD_USER_INPUT`)
	} else if e := wantCode(t, err, CodeBadUserInput); e.Field != "userId" {
		t.Errorf(`AuditLog(userId "") field = %q, want userId`, e.Field)
	}
}

// first: the default, the cap, and below 1; after: only this service's cursors of this
// listing.
func TestListingArguments(t *testing.T) {
	f := newFixture(t)
	for i := range 105 {
		f.seedUser(store.User{Email: fmt.Sprintf("u%03d@example.com", i), PasswordHash: "x"})
		f.clock.Advance(time.Millisecond)
	}
	p := f.principal(f.register("staff@example.com", strongPW))
	p.User.Role = store.RoleAdmin
	ptr := func(n int) *int { return &n }
	for _, tc := range []struct {
		first    *int
		want     int
		wantNext bool
	}{
		{nil, DefaultUsersPage, true},
		{ptr(1), 1, true},
		{ptr(100), 100, true},
		{ptr(101), 100, true},
		{ptr(1 << 40), 100, true},
	} {
		page, err := f.svc.Users(t.Context(), p, UsersQuery{First: tc.first, Count: true})
		if err != nil {
			t.Fatalf("Users(first %v): %v", tc.first, err)
		}
		if len(page.Users) != tc.want || page.HasNextPage != tc.wantNext || page.TotalCount != 106 || page.EndCursor == "" {
			t.Errorf("Users(first %v) = %d users, next %t, total %d, cursor %q; want %d, %t, 106",
				tc.first, len(page.Users), page.HasNextPage, page.TotalCount, page.EndCursor, tc.want, tc.wantNext)
		}
	}
	for _, first := range []int{0, -1, -1 << 40} {
		_, err := f.svc.Users(t.Context(), p, UsersQuery{First: &first})
		if e := wantCode(t, err, CodeBadUserInput); e.Field != "first" {
			t.Errorf("Users(first %d) field = %q, want first", first, e.Field)
		}
		_, err = f.svc.AuditLog(t.Context(), p, AuditQuery{First: &first})
		if e := wantCode(t, err, CodeBadUserInput); e.Field != "first" {
			t.Errorf("AuditLog(first %d) field = %q, want first", first, e.Field)
		}
	}

	// The whole listing by pages of 40: 40, 40, 26, then an empty page with no cursor.
	var (
		after *string
		seen  = map[string]bool{}
		sizes []int
	)
	for {
		page, err := f.svc.Users(t.Context(), p, UsersQuery{First: ptr(40), After: after})
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, len(page.Users))
		for _, u := range page.Users {
			if seen[u.ID] {
				t.Errorf("%s twice", u.ID)
			}
			seen[u.ID] = true
		}
		if !page.HasNextPage {
			if page.EndCursor == "" {
				t.Error("the last page has no cursor")
			}
			last, err := f.svc.Users(t.Context(), p, UsersQuery{First: ptr(40), After: &page.EndCursor})
			if err != nil || len(last.Users) != 0 || last.HasNextPage || last.EndCursor != "" {
				t.Errorf("past the end = %+v, %v; want an empty page without cursor", last, err)
			}
			break
		}
		after = &page.EndCursor
	}
	if fmt.Sprint(sizes) != "[40 40 26]" || len(seen) != 106 {
		t.Errorf("pages of %v, %d users; want [40 40 26], 106", sizes, len(seen))
	}

	// Cursors: an audit cursor is no users cursor, and nothing else is one either.
	audit, err := f.svc.AuditLog(t.Context(), p, AuditQuery{First: ptr(1)})
	if err != nil || audit.EndCursor == "" {
		t.Fatalf("AuditLog = %+v, %v", audit, err)
	}
	users, err := f.svc.Users(t.Context(), p, UsersQuery{First: ptr(1)})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(users.EndCursor)
	version2 := append([]byte{2}, raw[1:]...)
	for _, c := range []string{
		"", "x", "not base64!", "AAAA", audit.EndCursor, users.EndCursor + "=",
		base64.RawURLEncoding.EncodeToString(raw[:cursorHeader]),                            // no ID
		base64.RawURLEncoding.EncodeToString(version2),                                      // another version
		base64.RawURLEncoding.EncodeToString(append(raw[:cursorHeader:cursorHeader], 0xff)), // an ID that is not UTF-8
		strings.Repeat("A", 10_000),
	} {
		_, err := f.svc.Users(t.Context(), p, UsersQuery{After: &c})
		if err == nil {
			t.Errorf("Users(after %q) succeeded, want BAD_USER_INPUT", c)
			continue
		}
		if e := wantCode(t, err, CodeBadUserInput); e.Field != "after" {
			t.Errorf("Users(after %q) field = %q, want after", c, e.Field)
		}
	}
	_, err = f.svc.AuditLog(t.Context(), p, AuditQuery{After: &users.EndCursor})
	if e := wantCode(t, err, CodeBadUserInput); e.Field != "after" {
		t.Errorf("AuditLog(a users cursor) field = %q, want after", e.Field)
	}
}

func TestCursorRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		at time.Time
		id string
	}{
		{time.Date(2026, 3, 14, 15, 9, 26, 535_000_000, time.UTC), "ABCDEFGHIJKLMNOPQRSTUVWXYZ"},
		{time.UnixMilli(0).UTC(), "x"},
		{time.UnixMilli(-1).UTC(), "before 1970"},
		{time.Date(9999, 12, 31, 23, 59, 59, 999_000_000, time.UTC), "ünïcödé ID"},
	} {
		c := encodeCursor(cursorUsers, tc.at, tc.id)
		if strings.ContainsAny(c, "+/=") {
			t.Errorf("cursor %q is not unpadded base64url", c)
		}
		at, id, err := decodeCursor(cursorUsers, c)
		if err != nil || !at.Equal(tc.at) || id != tc.id {
			t.Errorf("decode(encode(%v, %q)) = %v, %q, %v", tc.at, tc.id, at, id, err)
		}
		if _, _, err := decodeCursor(cursorAudit, c); err == nil {
			t.Errorf("a users cursor decodes as an audit cursor")
		}
	}
}
