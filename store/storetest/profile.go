package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/toktok/toktok/store"
)

// UpdateProfile: the fields it is told to set, and only those, in one atomic update.

// testUpdateProfile applies updates in turn to one user, each checked against the user
// as it must be afterwards: every field the update does not set keeps its value.
func testUpdateProfile(t *testing.T, s store.Store) {
	want := fullUser("u1", "ada@example.com")
	mustCreateUser(t, s, want)
	other := fullUser("u2", "grace@example.com")
	mustCreateUser(t, s, other)

	steps := []struct {
		name   string
		update store.ProfileUpdate
		apply  func(u *store.User)
	}{
		{"set name and lang", store.ProfileUpdate{SetName: true, Name: ptr("Augusta"), SetLang: true, Lang: "en-GB"},
			func(u *store.User) { u.Name, u.Lang = ptr("Augusta"), "en-GB" }},
		{"clear surname and pseudo", store.ProfileUpdate{SetSurname: true, SetPseudo: true},
			func(u *store.User) { u.Surname, u.Pseudo = nil, nil }},
		{"replace data", store.ProfileUpdate{SetData: true, Data: []byte(`{"theme":"light"}`)},
			func(u *store.User) { u.Data = []byte(`{"theme":"light"}`) }},
		{"empty data is not none", store.ProfileUpdate{SetData: true, Data: []byte(`{}`)},
			func(u *store.User) { u.Data = []byte(`{}`) }},
		{"clear data", store.ProfileUpdate{SetData: true},
			func(u *store.User) { u.Data = nil }},
		{"set everything", store.ProfileUpdate{
			SetName: true, Name: ptr("Ada"), SetSurname: true, Surname: ptr("King"), SetPseudo: true, Pseudo: ptr("ak"),
			SetLang: true, Lang: "fr", SetData: true, Data: []byte(`{"n":[1,2]}`),
		}, func(u *store.User) {
			u.Name, u.Surname, u.Pseudo, u.Lang, u.Data = ptr("Ada"), ptr("King"), ptr("ak"), "fr", []byte(`{"n":[1,2]}`)
		}},
		{"nothing but the date", store.ProfileUpdate{}, func(*store.User) {}},
	}
	for i, st := range steps {
		now := t0.Add(time.Duration(i+1) * time.Minute)
		got, err := s.UpdateProfile(t.Context(), want.ID, st.update, now)
		if err != nil {
			t.Fatalf("%s: UpdateProfile: %v", st.name, err)
		}
		st.apply(&want)
		want.UpdatedAt = now
		checkUser(t, st.name+": returned", got, want)
		checkUser(t, st.name+": stored", mustUser(t, s, want.ID), want)
	}
	checkUser(t, "the other user", mustUser(t, s, other.ID), other)

	_, err := s.UpdateProfile(t.Context(), "nobody", store.ProfileUpdate{SetName: true, Name: ptr("x")}, t0)
	wantErr(t, "UpdateProfile of an unknown user", err, store.ErrNotFound)
}

// testUpdateProfileConcurrent: updates of different fields racing with each other and with
// logins all land; none writes back a stale copy of the user over another.
func testUpdateProfileConcurrent(t *testing.T, s store.Store) {
	u := minimalUser("u1", "ada@example.com")
	mustCreateUser(t, s, u)
	names, surnames := map[string]bool{}, map[string]bool{}
	for i := range concurrency {
		names[fmt.Sprintf("name-%d", i)] = true
		surnames[fmt.Sprintf("surname-%d", i)] = true
	}
	logins := 0
	errs := race(func(i int) error {
		var err error
		switch i % 3 {
		case 0:
			_, err = s.UpdateProfile(t.Context(), u.ID, store.ProfileUpdate{SetName: true, Name: ptr(fmt.Sprintf("name-%d", i))}, t0)
		case 1:
			_, err = s.UpdateProfile(t.Context(), u.ID, store.ProfileUpdate{SetSurname: true, Surname: ptr(fmt.Sprintf("surname-%d", i))}, t0)
		default:
			_, err = s.RecordLogin(t.Context(), u.ID, t0)
		}
		return err
	})
	for i := range concurrency {
		if i%3 == 2 {
			logins++
		}
	}
	if ok, _ := countOutcomes(t, "concurrent updates", errs, store.ErrNotFound); ok != concurrency {
		t.Fatalf("%d of %d calls succeeded", ok, concurrency)
	}
	got := mustUser(t, s, u.ID)
	if got.Name == nil || !names[*got.Name] || got.Surname == nil || !surnames[*got.Surname] {
		t.Errorf("after concurrent updates: name %s, surname %s: one update lost another", fmtStrPtr(got.Name), fmtStrPtr(got.Surname))
	}
	if got.LoginCount != logins {
		t.Errorf("LoginCount = %d, want %d: a profile update wrote back a stale count", got.LoginCount, logins)
	}
}
