package account

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/toktok/toktok/store"
)

// profileCase is one updateProfile request and what it must do to the account it starts
// from (ann, as registered by newProfileFixture).
type profileCase struct {
	name    string
	in      ProfileInput
	field   string              // BAD_USER_INPUT on this field; nothing changes
	want    func(u *store.User) // the account afterwards (nil: unchanged)
	changed []string            // the audit event's fields; none when nothing changed
}

func strp(s string) *string { return &s }

// deep returns a JSON object nested n levels deep.
func deep(n int) map[string]any {
	m := map[string]any{"leaf": true}
	for range n - 1 {
		m = map[string]any{"k": m}
	}
	return m
}

func TestUpdateProfile(t *testing.T) {
	all := ProfileFields{Name: true, Surname: true, Pseudo: true, Lang: true, Data: true}
	cases := []profileCase{
		{name: "one field, the others kept", in: ProfileInput{Name: strp("  Augusta  "), Present: ProfileFields{Name: true}},
			want: func(u *store.User) { u.Name = strp("Augusta") }, changed: []string{"name"}},
		{name: "null clears a name", in: ProfileInput{Present: ProfileFields{Surname: true}},
			want: func(u *store.User) { u.Surname = nil }, changed: []string{"surname"}},
		{name: "empty clears a name, as register stores it", in: ProfileInput{Pseudo: strp(" "), Present: ProfileFields{Pseudo: true}},
			want: func(u *store.User) { u.Pseudo = nil }, changed: []string{"pseudo"}},
		{name: "null clears data", in: ProfileInput{Present: ProfileFields{Data: true}},
			want: func(u *store.User) { u.Data = nil }, changed: []string{"data"}},
		{name: "data is replaced whole", in: ProfileInput{Data: map[string]any{"b": []any{1.0, "x"}}, Present: ProfileFields{Data: true}},
			want: func(u *store.User) { u.Data = []byte(`{"b":[1,"x"]}`) }, changed: []string{"data"}},
		{name: "lang as register reads it", in: ProfileInput{Lang: strp("FR-CA"), Present: ProfileFields{Lang: true}},
			want: func(u *store.User) { u.Lang = "fr-CA" }, changed: []string{"lang"}},
		{name: "left out means kept, whatever the value", in: ProfileInput{Name: strp("Ignored"), Lang: strp("de")},
			changed: nil},
		{name: "the same values change nothing", in: ProfileInput{
			Name: strp("Ada"), Surname: strp("Lovelace"), Pseudo: strp("ada"), Lang: strp("en"),
			Data: map[string]any{"theme": "dark"}, Present: all,
		}},
		{name: "every field", in: ProfileInput{
			Name: strp("Grace"), Surname: strp("Hopper"), Pseudo: strp("amazing"), Lang: strp("fr"),
			Data: map[string]any{}, Present: all,
		}, want: func(u *store.User) {
			u.Name, u.Surname, u.Pseudo, u.Lang, u.Data = strp("Grace"), strp("Hopper"), strp("amazing"), "fr", []byte(`{}`)
		}, changed: []string{"name", "surname", "pseudo", "lang", "data"}},

		{name: "lang cannot be cleared", in: ProfileInput{Present: ProfileFields{Lang: true}}, field: "lang"},
		{name: "nor emptied", in: ProfileInput{Lang: strp(" "), Present: ProfileFields{Lang: true}}, field: "lang"},
		{name: "not a tag", in: ProfileInput{Lang: strp("en_US!"), Present: ProfileFields{Lang: true}}, field: "lang"},
		{name: "too long", in: ProfileInput{Name: strp(strings.Repeat("é", 101)), Present: ProfileFields{Name: true}}, field: "name"},
		{name: "100 code points fit", in: ProfileInput{Name: strp(strings.Repeat("é", 100)), Present: ProfileFields{Name: true}},
			want: func(u *store.User) { u.Name = strp(strings.Repeat("é", 100)) }, changed: []string{"name"}},
		{name: "bidi override", in: ProfileInput{Surname: strp("Ann\u202Egnp.exe"), Present: ProfileFields{Surname: true}}, field: "surname"},
		{name: "zero-width space", in: ProfileInput{Pseudo: strp("a\u200bb"), Present: ProfileFields{Pseudo: true}}, field: "pseudo"},
		{name: "control character", in: ProfileInput{Name: strp("a\x07b"), Present: ProfileFields{Name: true}}, field: "name"},
		{name: "operator key", in: ProfileInput{Data: map[string]any{"$where": 1.0}, Present: ProfileFields{Data: true}}, field: "data"},
		{name: "dotted key", in: ProfileInput{Data: map[string]any{"x": map[string]any{"a.b": 1.0}}, Present: ProfileFields{Data: true}}, field: "data"},
		{name: "too deep", in: ProfileInput{Data: deep(9), Present: ProfileFields{Data: true}}, field: "data"},
		{name: "8 levels fit", in: ProfileInput{Data: deep(8), Present: ProfileFields{Data: true}},
			want: func(u *store.User) { u.Data, _ = json.Marshal(deep(8)) }, changed: []string{"data"}},
		{name: "too large", in: ProfileInput{Data: map[string]any{"s": strings.Repeat("x", 16<<10)}, Present: ProfileFields{Data: true}}, field: "data"},
		{name: "one bad field and nothing changes", in: ProfileInput{
			Name: strp("Fine"), Surname: strp("Fine too"), Lang: strp("??"), Present: ProfileFields{Name: true, Surname: true, Lang: true},
		}, field: "lang"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			reg, err := f.svc.Register(t.Context(), RegisterInput{
				Email: "ann@example.com", Password: strongPW, Name: strp("Ada"), Surname: strp("Lovelace"), Pseudo: strp("ada"),
				Data: map[string]any{"theme": "dark"},
			})
			if err != nil {
				t.Fatal(err)
			}
			before := f.user("ann@example.com")
			f.clock.Advance(time.Minute)
			p := f.principal(reg)

			got, err := f.svc.UpdateProfile(f.accessCtx(reg), p, tc.in)
			after := f.user("ann@example.com")
			want := before
			switch {
			case tc.field != "":
				if e := wantCode(t, err, CodeBadUserInput); e.Field != tc.field {
					t.Fatalf("BAD_USER_INPUT on %q, want %q (%s)", e.Field, tc.field, e.Message)
				}
			case err != nil:
				t.Fatalf("UpdateProfile: %v", err)
			case tc.want != nil:
				tc.want(&want)
				want.UpdatedAt = f.clock.Now().UTC().Truncate(time.Millisecond)
			}
			checkProfile(t, "stored", after, want)
			if err == nil {
				checkProfile(t, "returned", got, want)
			}
			f.wantProfileAudit(before.ID, tc.changed)
		})
	}
}

// checkProfile compares the fields updateProfile may change, and those it must not.
func checkProfile(t *testing.T, what string, got, want store.User) {
	t.Helper()
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if string(g) != string(w) {
		t.Errorf("%s user:\n got %s\nwant %s", what, g, w)
	}
}

// wantProfileAudit checks the user's profile_update events: one naming changed, or none
// when changed is empty. The event names fields, never their values.
func (f *fixture) wantProfileAudit(userID string, changed []string) {
	f.t.Helper()
	evs, err := f.store.AuditEvents(f.t.Context(), userID, 100)
	if err != nil {
		f.t.Fatal(err)
	}
	var got []store.AuditEvent
	for _, e := range evs {
		if e.Type == "profile_update" {
			got = append(got, e)
		}
	}
	if len(changed) == 0 {
		if len(got) != 0 {
			f.t.Errorf("profile_update events %s, want none", got[0].Detail)
		}
		return
	}
	want, _ := json.Marshal(map[string]any{"fields": changed})
	if len(got) != 1 || got[0].Outcome != "success" || string(got[0].Detail) != string(want) {
		f.t.Errorf("profile_update events = %+v, want one with detail %s", got, want)
	}
}

// A profile update that arrives after the account was deleted finds no account.
func TestUpdateProfileDeletedAccount(t *testing.T) {
	f := newFixture(t)
	reg := f.register("ann@example.com", strongPW)
	p := f.principal(reg)
	if err := f.svc.DeleteAccount(f.accessCtx(reg), p, strongPW); err != nil {
		t.Fatal(err)
	}
	_, err := f.svc.UpdateProfile(f.accessCtx(reg), p, ProfileInput{Name: strp("x"), Present: ProfileFields{Name: true}})
	wantCode(t, err, CodeUnauthenticated)
}
