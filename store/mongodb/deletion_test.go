package mongodb

import (
	"context"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/toktok/toktok/store"
)

// The conformance suite races profile updates and deletions: through two stores, they
// alternate between them like the calls of twoStores (mongodb_test.go).

func (s *twoStores) UpdateProfile(ctx context.Context, userID string, p store.ProfileUpdate, now time.Time) (store.User, error) {
	return s.next().UpdateProfile(ctx, userID, p, now)
}

func (s *twoStores) BeginUserDeletion(ctx context.Context, userID string, now time.Time) (store.Deletion, error) {
	return s.next().BeginUserDeletion(ctx, userID, now)
}

// The first step of a deletion leaves a tombstone that holds nothing a login, a link or a
// search could use, and frees the address in the unique index; FinishDeletions finds it
// through that index and removes it.
func TestTombstone(t *testing.T) {
	s := openTest(t, Options{NoTTLIndexes: true})
	u := testUser("u1")
	u.Name, u.Pseudo, u.PendingEmail = ptr("Ada"), ptr("ada"), ptr("new@example.com")
	u.Data, u.EmailConfirmed = []byte(`{"a":1}`), true
	if err := s.CreateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	if _, err := s.BeginUserDeletion(t.Context(), u.ID, testTime); err != nil {
		t.Fatal(err)
	}
	var raw bson.Raw
	if err := s.users.findOne(t.Context(), bson.M{"_id": u.ID}, &raw); err != nil {
		t.Fatalf("the tombstone: %v", err)
	}
	for field, want := range map[string]any{
		"email": "deleted:u1", "deleted_email": u.Email, "deleted_pending_email": "new@example.com",
		"password_hash": "", "disabled": true, "email_confirmed": false, "name_fold": "", "pseudo_fold": "",
	} {
		if got := raw.Lookup(field); !got.Equal(bsonValue(t, want)) {
			t.Errorf("tombstone %s = %v, want %v", field, got, want)
		}
	}
	for _, field := range []string{"pending_email", "name", "surname", "pseudo", "data"} {
		if got := raw.Lookup(field).Type; got != bson.TypeNull {
			t.Errorf("tombstone %s is %v, want null", field, got)
		}
	}
	if got := raw.Lookup("deleted_at").DateTime(); got != testTime.UnixMilli() {
		t.Errorf("tombstone deleted_at = %d, want %d", got, testTime.UnixMilli())
	}
	// A second account with the address, then a second tombstone: no collision.
	v := testUser("u2")
	v.Email = u.Email
	if err := s.CreateUser(t.Context(), v); err != nil {
		t.Fatalf("CreateUser at the deleted account's address: %v", err)
	}
	if _, err := s.BeginUserDeletion(t.Context(), v.ID, testTime.Add(time.Second)); err != nil {
		t.Fatalf("a second tombstone: %v", err)
	}
	if n, err := s.FinishDeletions(t.Context(), testTime.Add(time.Second)); err != nil || n != 2 {
		t.Fatalf("FinishDeletions = %d, %v; want the two tombstones", n, err)
	}
	if n, err := s.users.c.CountDocuments(t.Context(), bson.M{}); err != nil || n != 0 {
		t.Errorf("%d documents left in users (%v), want none", n, err)
	}
}

// bsonValue is v as a stored BSON value.
func bsonValue(t *testing.T, v any) bson.RawValue {
	t.Helper()
	typ, data, err := bson.MarshalValue(v)
	if err != nil {
		t.Fatal(err)
	}
	return bson.RawValue{Type: typ, Value: data}
}
