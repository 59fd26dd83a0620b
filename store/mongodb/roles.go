package mongodb

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/toktok/toktok/store"
)

// The first-admin rule (store.Store.PromoteFirstAdmin) without multi-document
// transactions. "No user is an ADMIN" is a fact about many documents, which no single
// update can condition on, so promotions are serialised by a claim: a document of the meta
// collection with the fixed _id firstAdminClaim, which the unique _id lets one caller
// insert at a time. A promotion
//
//  1. returns at once when an ADMIN exists (the common case, one indexed read);
//  2. inserts the claim naming its user; when one exists, the claim's user is the one to
//     promote (another promotion in progress, or one a crash interrupted);
//  3. under the claim, checks again that no ADMIN exists but the claim's user, and sets
//     that user's role in one conditional update (role not ADMIN yet);
//  4. deletes the claim, if it is still the one it read.
//
// Every promotion that writes a role holds the claim and checks under it, so two first
// confirmations at the same instant make one ADMIN: the second finds the first's claim,
// or, once it is gone, the first's ADMIN. A role written by another path (the command
// line's promote) is not serialised with the claim; such a write is an operator's.
//
// A crash between steps 2 and 4 leaves the claim behind: the promotion is decided and,
// before step 3, not applied, so the service has no ADMIN. The next promotion of anyone
// (the next first confirmation) finds the claim and completes it: step 3 for the claim's
// user, the account that confirmed first, then step 4; its own user stays as it is, as a
// promotion in progress would have left it. Completing twice is harmless, since step 3
// only changes a role that is not ADMIN yet, and only the call that changed it reports the
// change. A claim whose user is gone (deleted) is released, and the promotion goes on for
// its own user. Until such a next promotion, the command line's `toktok admin promote`
// makes an ADMIN at once; the claim then stays, unused while an ADMIN exists, and is
// completed as above by the first promotion that finds none.
const (
	metaColl        = "meta"
	firstAdminClaim = "first_admin"
)

// claimRounds bounds the claim's insert-then-read: a round is lost only when the claim
// found is released before it could be read, each time by a promotion that completed.
const claimRounds = 4

// claimDoc is the first-admin claim: whose promotion is decided, and since when.
type claimDoc struct {
	ID     string        `bson:"_id"`
	UserID string        `bson:"user_id"`
	At     bson.DateTime `bson:"at"`
}

// meta is the collection of the store's own records (the first-admin claim), its writes
// through the store's gate like every collection's.
func (s *Store) meta() coll {
	c := coll{c: s.db.Collection(metaColl)}
	if s.gate != nil {
		c.gate = s.gate.collection(metaColl)
	}
	return c
}

// PromoteFirstAdmin makes the user an ADMIN when no user is one (see above). It returns
// the change it made, which is another user's when it completed an interrupted promotion.
// The zero RoleChange when an ADMIN exists; store.ErrNotFound for an unknown user or a
// tombstone.
func (s *Store) PromoteFirstAdmin(ctx context.Context, userID string, now time.Time) (store.RoleChange, error) {
	const op = "promote first admin"
	if err := s.checkOpen(op); err != nil {
		return store.RoleChange{}, err
	}
	u, err := s.findUser(ctx, op, bson.M{"_id": userID})
	if err != nil {
		return store.RoleChange{}, err
	}
	if u.Role == store.RoleAdmin {
		return store.RoleChange{}, nil
	}
	for range claimRounds {
		if found, err := s.adminExists(ctx, ""); err != nil || found {
			return store.RoleChange{}, mapErr(op, err)
		}
		claim, err := s.claimFirstAdmin(ctx, userID, now)
		if errors.Is(err, mongo.ErrNoDocuments) {
			continue // released between the insert and the read: look again
		}
		if err != nil {
			return store.RoleChange{}, mapErr(op, err)
		}
		change, err := s.completeClaim(ctx, op, claim, now)
		if err != nil || change.Changed() || claim.UserID == userID {
			return change, err
		}
		// Another user's claim, which promoted nobody (an ADMIN exists, or its user is
		// gone): the next round sees which.
	}
	return store.RoleChange{}, fmt.Errorf("mongodb: %s: the first-admin claim kept changing hands: %w", op, store.ErrConflict)
}

// adminExists reports whether a live user other than except ("" for none) is an ADMIN.
func (s *Store) adminExists(ctx context.Context, except string) (bool, error) {
	filter := bson.M{"role": string(store.RoleAdmin), "deleted_at": bson.M{"$exists": false}}
	if except != "" {
		filter["_id"] = bson.M{"$ne": except}
	}
	var id bson.Raw
	err := s.users.findOne(ctx, filter, &id, options.FindOne().SetProjection(bson.M{"_id": 1}))
	if errors.Is(err, mongo.ErrNoDocuments) {
		return false, nil
	}
	return err == nil, err
}

// claimFirstAdmin inserts the claim for userID, or reads the one that exists: the claim
// whose promotion comes next. mongo.ErrNoDocuments when the existing claim went before it
// could be read.
func (s *Store) claimFirstAdmin(ctx context.Context, userID string, now time.Time) (claimDoc, error) {
	claim := claimDoc{ID: firstAdminClaim, UserID: userID, At: dt(now)}
	err := s.meta().insertOne(ctx, claim)
	if err == nil || !isDuplicate(err) {
		return claim, err
	}
	err = s.meta().findOne(ctx, bson.M{"_id": firstAdminClaim}, &claim)
	return claim, err
}

// completeClaim promotes the claim's user unless another user is an ADMIN, then releases
// the claim. A failure to promote keeps the claim, for the next promotion to complete; a
// failure to release it is logged, the promotion being done (the next one releases it).
func (s *Store) completeClaim(ctx context.Context, op string, claim claimDoc, now time.Time) (store.RoleChange, error) {
	other, err := s.adminExists(ctx, claim.UserID)
	if err != nil {
		return store.RoleChange{}, mapErr(op, err)
	}
	var change store.RoleChange
	if !other {
		var before userDoc
		err := s.users.findOneAndUpdate(ctx,
			bson.M{"_id": claim.UserID, "deleted_at": bson.M{"$exists": false}, "role": bson.M{"$ne": string(store.RoleAdmin)}},
			bson.M{"$set": bson.M{"role": string(store.RoleAdmin), "updated_at": dt(now)}},
			&before, options.FindOneAndUpdate().SetReturnDocument(options.Before))
		switch {
		case err == nil:
			change = store.RoleChange{UserID: claim.UserID, From: store.Role(before.Role), To: store.RoleAdmin}
		case !errors.Is(err, mongo.ErrNoDocuments): // already an ADMIN, or gone: nothing to do
			return store.RoleChange{}, mapErr(op, err)
		}
	}
	_, err = s.meta().deleteOne(ctx, bson.M{"_id": firstAdminClaim, "user_id": claim.UserID, "at": claim.At})
	if err != nil {
		s.log.Warn("mongodb: the first-admin claim was not released; the next promotion releases it",
			"user", claim.UserID, "err", err)
	}
	return change, nil
}
