package mongodb

import (
	"log/slog"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/toktok/toktok/store"
)

// Every user document carries the folded copies of its names that the listing's query
// ranges over: "" for an absent name, store.FoldName of a present one.
func TestUserDocumentsCarryFoldedNames(t *testing.T) {
	s := openTest(t, Options{})
	u := testUser("u1")
	u.Name, u.Pseudo = ptr("ÉLodie MARTIN"), ptr("")
	if err := s.CreateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	var raw bson.Raw
	if err := s.users.findOne(t.Context(), bson.M{"_id": "u1"}, &raw); err != nil {
		t.Fatal(err)
	}
	for field, want := range map[string]string{"name_fold": "Élodie martin", "surname_fold": "", "pseudo_fold": ""} {
		if got, ok := raw.Lookup(field).StringValueOK(); !ok || got != want {
			t.Errorf("stored %s = %v, want %q", field, raw.Lookup(field), want)
		}
	}
}

// A database written before the listing existed holds users without the folded copies:
// Open writes them, so the listing's query finds those users by name, and a later Open
// finds nothing left to do.
func TestOpenFoldsTheNamesOfEarlierUsers(t *testing.T) {
	logs := &logBuffer{}
	_, db := testSrv.NewDatabase(t)
	s := openTest(t, Options{Database: db})
	// As an earlier version stored them: no *_fold fields.
	for _, d := range []bson.M{
		{"_id": "old1", "email": "old1@example.com", "email_confirmed": true, "pending_email": nil, "password_hash": "h",
			"role": "USER", "name": "Grace", "surname": "HOPPER", "pseudo": nil, "lang": "en", "agreement": false, "data": nil,
			"disabled": false, "created_at": bson.DateTime(1000), "updated_at": bson.DateTime(1000), "last_login_at": nil, "login_count": int64(0)},
		{"_id": "old2", "email": "old2@example.com", "email_confirmed": false, "pending_email": nil, "password_hash": "h",
			"role": "STAFF", "name": nil, "surname": nil, "pseudo": "Amazing", "lang": "en", "agreement": false, "data": nil,
			"disabled": false, "created_at": bson.DateTime(2000), "updated_at": bson.DateTime(2000), "last_login_at": nil, "login_count": int64(0)},
	} {
		if err := s.users.insertOne(t.Context(), d); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := s.ListUsers(t.Context(), store.UserFilter{Query: "hop"}, nil, 10); err != nil || len(got) != 0 {
		t.Fatalf("before reopening: ListUsers(hop) = %d users, %v; want none (no folded copy yet)", len(got), err)
	}

	s2 := openTest(t, Options{Database: db, Log: slog.New(slog.NewTextHandler(logs, nil))})
	for q, want := range map[string]string{"hop": "old1", "GRA": "old1", "amaz": "old2"} {
		got, err := s2.ListUsers(t.Context(), store.UserFilter{Query: q}, nil, 10)
		if err != nil || len(got) != 1 || got[0].ID != want {
			t.Errorf("after reopening: ListUsers(%s) = %+v, %v; want %s", q, got, err, want)
		}
	}
	var raw bson.Raw
	if err := s2.users.findOne(t.Context(), bson.M{"_id": "old2"}, &raw); err != nil {
		t.Fatal(err)
	}
	if got, _ := raw.Lookup("name_fold").StringValueOK(); got != "" || raw.Lookup("name_fold").Type != bson.TypeString {
		t.Errorf("old2's name_fold = %v, want \"\"", raw.Lookup("name_fold"))
	}
	if want := "users=2"; !strings.Contains(logs.String(), want) {
		t.Errorf("the log does not say %s:\n%s", want, logs)
	}

	logs2 := &logBuffer{}
	openTest(t, Options{Database: db, Log: slog.New(slog.NewTextHandler(logs2, nil))})
	if strings.Contains(logs2.String(), "folded copies") {
		t.Errorf("a third Open folded names again:\n%s", logs2)
	}
}
