package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// updateProfile over HTTP: the fields left out keep their values, null clears, the input
// rules are register's, and no other field of the account can be reached through it.

// profileUser is User with the fields updateProfile touches or must not touch.
type profileUser struct {
	ID             string
	Email          string
	EmailConfirmed bool
	Role           string
	Disabled       bool
	Name           *string
	Surname        *string
	Pseudo         *string
	Lang           string
	Data           map[string]any
	UpdatedAt      time.Time
}

const profileFields = `id email emailConfirmed role disabled name surname pseudo lang data updatedAt`

// profileUpdate sends updateProfile with its input as a variable.
func profileUpdate(e *testEnv, bearer string, input map[string]any) gqlResponse {
	e.t.Helper()
	return e.gql(bearer, `mutation($input: UpdateProfileInput!) { updateProfile(input: $input) { `+profileFields+` } }`,
		map[string]any{"input": input})
}

// profileUpdateOK sends updateProfile and returns the user it answers.
func profileUpdateOK(e *testEnv, bearer string, input map[string]any) profileUser {
	e.t.Helper()
	var resp struct{ UpdateProfile profileUser }
	e.mustData(profileUpdate(e, bearer, input), &resp)
	return resp.UpdateProfile
}

// profileMe reads the signed-in user with the same fields.
func profileMe(e *testEnv, bearer string) profileUser {
	e.t.Helper()
	var resp struct{ Me *profileUser }
	e.mustData(e.gql(bearer, `{ me { `+profileFields+` } }`, nil), &resp)
	if resp.Me == nil {
		e.t.Fatal("me is null")
	}
	return *resp.Me
}

func profileJSON(t *testing.T, u profileUser) string {
	t.Helper()
	u.UpdatedAt = u.UpdatedAt.UTC()
	b, err := json.Marshal(u)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func sp(s string) *string { return &s }

func TestUpdateProfile(t *testing.T) {
	e := newTestEnv(t, nil)
	var reg struct{ Register authPayload }
	e.mustData(e.registerReq("ann@example.com", strongPassword, map[string]any{
		"name": "Ada", "surname": "Lovelace", "pseudo": "ada", "lang": "en", "data": map[string]any{"theme": "dark", "n": 1},
	}), &reg)
	tok := reg.Register.AccessToken
	want := profileMe(e, tok)

	e.wantCode(profileUpdate(e, "", map[string]any{"name": "Eve"}), "UNAUTHENTICATED")

	steps := []struct {
		name  string
		query string         // the document; empty: the input as a variable
		vars  map[string]any // the input, or the document's variables
		apply func(u *profileUser)
	}{
		{"a variable: one field set, one cleared, the rest kept", "",
			map[string]any{"name": "  Augusta ", "data": nil},
			func(u *profileUser) { u.Name, u.Data = sp("Augusta"), nil }},
		{"inline: null clears, lang as register reads it",
			`mutation { updateProfile(input: {pseudo: null, lang: "FR-ca"}) { ` + profileFields + ` } }`, nil,
			func(u *profileUser) { u.Pseudo, u.Lang = nil, "fr-ca" }},
		{"inline: a variable the request leaves out leaves the field out",
			`mutation($n: String) { updateProfile(input: {name: $n, surname: "King"}) { ` + profileFields + ` } }`, map[string]any{},
			func(u *profileUser) { u.Surname = sp("King") }},
		{"an empty name is no name; data is replaced whole", "",
			map[string]any{"surname": "", "data": map[string]any{"langs": []any{"en", "fr"}, "nested": map[string]any{"a": true}}},
			func(u *profileUser) {
				u.Surname, u.Data = nil, map[string]any{"langs": []any{"en", "fr"}, "nested": map[string]any{"a": true}}
			}},
	}
	for _, st := range steps {
		e.clock.Advance(time.Minute)
		var got profileUser
		if st.query == "" {
			got = profileUpdateOK(e, tok, st.vars)
		} else {
			var resp struct{ UpdateProfile profileUser }
			e.mustData(e.gql(tok, st.query, st.vars), &resp)
			got = resp.UpdateProfile
		}
		st.apply(&want)
		want.UpdatedAt = e.clock.Now().UTC().Truncate(time.Millisecond)
		if g, w := profileJSON(t, got), profileJSON(t, want); g != w {
			t.Fatalf("%s: answered\n%s\nwant\n%s", st.name, g, w)
		}
		if g, w := profileJSON(t, profileMe(e, tok)), profileJSON(t, want); g != w {
			t.Fatalf("%s: me\n%s\nwant\n%s", st.name, g, w)
		}
	}

	// Nothing changed: nothing written, updatedAt included.
	e.clock.Advance(time.Minute)
	if g, w := profileJSON(t, profileUpdateOK(e, tok, map[string]any{"name": "Augusta", "lang": "fr-ca"})), profileJSON(t, want); g != w {
		t.Errorf("an update that changes nothing answered\n%s\nwant\n%s", g, w)
	}

	// Bad values: BAD_USER_INPUT on the field, and nothing changes, the good fields of the
	// same request included.
	for _, tc := range []struct {
		input map[string]any
		field string
	}{
		{map[string]any{"name": "Ann\u202Egnp.exe", "pseudo": "fine"}, "name"},
		{map[string]any{"surname": strings.Repeat("a", 101)}, "surname"},
		{map[string]any{"pseudo": "zero\u200bwidth"}, "pseudo"},
		{map[string]any{"pseudo": "bell\u0007"}, "pseudo"},
		{map[string]any{"lang": nil}, "lang"},
		{map[string]any{"lang": "not a tag"}, "lang"},
		{map[string]any{"name": "fine", "data": map[string]any{"$where": "1"}}, "data"},
		{map[string]any{"data": map[string]any{"a.b": 1}}, "data"},
		{map[string]any{"data": []any{1, 2}}, "data"},
		{map[string]any{"data": map[string]any{"s": strings.Repeat("x", 16<<10)}}, "data"},
	} {
		ge := e.wantCode(profileUpdate(e, tok, tc.input), "BAD_USER_INPUT")
		if ge.Extensions["field"] != tc.field {
			t.Errorf("input %.60v: BAD_USER_INPUT on %v, want %s", tc.input, ge.Extensions["field"], tc.field)
		}
	}
	if g, w := profileJSON(t, profileMe(e, tok)), profileJSON(t, want); g != w {
		t.Fatalf("after refused updates: me\n%s\nwant\n%s", g, w)
	}

	// The audit log names the fields a change touched, never their values.
	evs, err := e.app.Support().Audit(t.Context(), want.ID, 100)
	if err != nil {
		t.Fatal(err)
	}
	var details []string
	for _, ev := range evs {
		if ev.Type == "profile_update" {
			details = append(details, string(ev.Detail))
		}
	}
	if len(details) != len(steps) || !strings.Contains(strings.Join(details, " "), `"fields":["name","data"]`) ||
		strings.Contains(strings.Join(details, " "), "Augusta") {
		t.Errorf("profile_update events: %q", details)
	}
}

// Every other field of the account is out of updateProfile's reach by construction: its
// input type has no such field, so a request naming one is refused at validation, before
// anything runs, whether in a variable or written in the document.
func TestUpdateProfileOtherFieldsRefused(t *testing.T) {
	e := newTestEnv(t, nil)
	reg := e.register("ann@example.com", strongPassword)
	tok := reg.AccessToken
	before := profileMe(e, tok)
	e.clock.Advance(time.Minute)

	for _, tc := range []struct {
		name  string
		query string
		vars  map[string]any
	}{
		{"role in the variable", "", map[string]any{"name": "Ann", "role": "ADMIN"}},
		{"email in the variable", "", map[string]any{"email": "eve@example.com"}},
		{"emailConfirmed in the variable", "", map[string]any{"emailConfirmed": true}},
		{"password in the variable", "", map[string]any{"password": "pwned pwned pwned"}},
		{"disabled in the variable", "", map[string]any{"disabled": false}},
		{"role inline", `mutation { updateProfile(input: {name: "Ann", role: ADMIN}) { id role } }`, nil},
		{"email inline", `mutation { updateProfile(input: {email: "eve@example.com"}) { id } }`, nil},
		{"role as an argument", `mutation { updateProfile(input: {name: "Ann"}, role: ADMIN) { id role } }`, nil},
	} {
		var r gqlResponse
		if tc.query == "" {
			r = profileUpdate(e, tok, tc.vars)
		} else {
			r = e.gql(tok, tc.query, tc.vars)
		}
		e.wantCode(r, "GRAPHQL_VALIDATION_FAILED")
		if string(r.Data) != "" && string(r.Data) != "null" {
			t.Errorf("%s: data %s alongside the validation error", tc.name, r.Data)
		}
	}
	if g, w := profileJSON(t, profileMe(e, tok)), profileJSON(t, before); g != w || before.Role != "USER" {
		t.Fatalf("after refused requests: me\n%s\nwant\n%s", g, w)
	}
	evs, err := e.app.Support().Audit(t.Context(), reg.User.ID, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		if ev.Type == "profile_update" {
			t.Errorf("a refused request recorded %s %s", ev.Type, ev.Detail)
		}
	}
}
