package mongodb

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/toktok/toktok/store"
)

// PromoteFirstAdmin through both stores of TestConformanceTwoStoresOneGate: the first-admin
// race there is between two instances of the service.
func (s *twoStores) PromoteFirstAdmin(ctx context.Context, userID string, now time.Time) (store.RoleChange, error) {
	return s.next().PromoteFirstAdmin(ctx, userID, now)
}

// claimOf reads the first-admin claim, ok false when there is none.
func claimOf(t *testing.T, s *Store) (claimDoc, bool) {
	t.Helper()
	var c claimDoc
	err := s.meta().findOne(t.Context(), bson.M{"_id": firstAdminClaim}, &c)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return c, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return c, true
}

// A crash between the claim and the role write leaves a claim and no ADMIN. The next
// promotion, of another user, completes the interrupted one: the claim's user becomes the
// ADMIN, its own user does not, the change reported is the claim's user's, and the claim
// is gone. A claim whose user is gone is released, and the promotion goes on for its own.
func TestPromoteFirstAdminCompletesAnInterruptedPromotion(t *testing.T) {
	s := openTest(t, Options{})
	for _, id := range []string{"u1", "u2", "u3", "u4"} {
		if err := s.CreateUser(t.Context(), testUser(id)); err != nil {
			t.Fatal(err)
		}
	}
	// u1's promotion died after its claim.
	if err := s.meta().insertOne(t.Context(), claimDoc{ID: firstAdminClaim, UserID: "u1", At: dt(testTime)}); err != nil {
		t.Fatal(err)
	}
	later := testTime.Add(time.Hour)
	c, err := s.PromoteFirstAdmin(t.Context(), "u2", later)
	if err != nil {
		t.Fatal(err)
	}
	if want := (store.RoleChange{UserID: "u1", From: store.RoleUser, To: store.RoleAdmin}); c != want {
		t.Fatalf("PromoteFirstAdmin(u2) over u1's claim = %+v, want %+v", c, want)
	}
	for id, want := range map[string]store.Role{"u1": store.RoleAdmin, "u2": store.RoleUser} {
		if u, err := s.UserByID(t.Context(), id); err != nil || u.Role != want {
			t.Errorf("%s: %+v %v, want %s", id, u.Role, err, want)
		}
	}
	if c, ok := claimOf(t, s); ok {
		t.Errorf("the claim is still there: %+v", c)
	}

	// u3's promotion died after its claim, and u3 was deleted since.
	if err := s.SetRole(t.Context(), "u1", store.RoleUser, later); err != nil {
		t.Fatal(err)
	}
	if err := s.meta().insertOne(t.Context(), claimDoc{ID: firstAdminClaim, UserID: "u3", At: dt(testTime)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.BeginUserDeletion(t.Context(), "u3", later); err != nil {
		t.Fatal(err)
	}
	if c, err := s.PromoteFirstAdmin(t.Context(), "u4", later); err != nil || c.UserID != "u4" {
		t.Fatalf("PromoteFirstAdmin(u4) over a deleted user's claim = %+v, %v; want u4 promoted", c, err)
	}
	if c, ok := claimOf(t, s); ok {
		t.Errorf("the claim is still there: %+v", c)
	}
}
