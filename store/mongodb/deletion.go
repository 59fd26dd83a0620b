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

// Account deletion without multi-document transactions. The first step is one update of
// the user's document, which turns it into a tombstone: deleted_at is set (UserByID,
// UserByEmail and RecordLogin skip such documents), the address moves to deleted_email and
// email becomes tombstoneEmail(id), so the unique index no longer holds the address, and
// everything else a login or a link could use goes (password hash, pending address, names
// and data; disabled is set). Every read of users must skip tombstones (liveUser's
// deleted_at condition), listings and counts included. The tombstone is the deletion record: FinishUserDeletion
// deletes the account's sessions, link tokens, factors, recovery codes, WebAuthn
// challenges and queued mails, then the tombstone last,
// so a crash at any point leaves a tombstone that FinishDeletions finds again.

// tombstonePrefix starts the email of every tombstone. A canonical address always holds
// an "@" and a tombstone's email never does, so no address can be taken for one, and the
// tombstones sort together in the unique email index, where FinishDeletions finds them.
const tombstonePrefix = "deleted:"

func tombstoneEmail(userID string) string { return tombstonePrefix + userID }

// tombstoneRange is the range of the email index that holds every tombstone: the strings
// that start with tombstonePrefix (";" follows ":").
func tombstoneRange() bson.M {
	return bson.M{"$gte": tombstonePrefix, "$lt": "deleted;"}
}

// liveUser filters the user with this id unless its deletion has begun.
func liveUser(userID string) bson.M {
	return bson.M{"_id": userID, "deleted_at": bson.M{"$exists": false}}
}

// deletedUser filters the tombstone of this id.
func deletedUser(userID string) bson.M {
	return bson.M{"_id": userID, "deleted_at": bson.M{"$exists": true}}
}

// tombstoneDoc is the part of a tombstone FinishUserDeletion reads.
type tombstoneDoc struct {
	ID           string        `bson:"_id"`
	Email        string        `bson:"deleted_email"`
	PendingEmail *string       `bson:"deleted_pending_email"`
	DeletedAt    bson.DateTime `bson:"deleted_at"`
}

// tombstone is the update that turns the user document cur into a tombstone: the
// addresses move aside (freeing the unique email), everything that signs in or says who
// the user was is wiped. BeginUserDeletion and BeginAdminDeletion write the same one.
func tombstone(userID string, cur userDoc, now time.Time) bson.M {
	return bson.M{"$set": bson.M{
		"deleted_at": dt(now), "deleted_email": cur.Email, "deleted_pending_email": cur.PendingEmail,
		"email": tombstoneEmail(userID), "email_confirmed": false, "pending_email": nil,
		"password_hash": "", "disabled": true, "name": nil, "surname": nil, "pseudo": nil,
		"name_fold": "", "surname_fold": "", "pseudo_fold": "", "data": nil, "updated_at": dt(now),
	}}
}

// beginDeletionTries bounds BeginUserDeletion's read-then-update: each retry follows an
// address change (an email change confirmed) between the two.
const beginDeletionTries = 5

// BeginUserDeletion turns the user's document into a tombstone in one conditional update.
// An update cannot copy a field into another without pipeline updates (which not every
// server has), so the addresses are read first and the update is conditional on them:
// an email change in between makes it match nothing, and it is read again. ErrNotFound
// for an unknown user or one already a tombstone; ErrConflict if the addresses kept
// changing (retry).
func (s *Store) BeginUserDeletion(ctx context.Context, userID string, now time.Time) (store.Deletion, error) {
	const op = "begin user deletion"
	if err := s.checkOpen(op); err != nil {
		return store.Deletion{}, err
	}
	for range beginDeletionTries {
		var cur userDoc
		if err := s.users.findOne(ctx, liveUser(userID), &cur); err != nil {
			return store.Deletion{}, mapErr(op, err)
		}
		filter := liveUser(userID)
		filter["email"], filter["pending_email"] = cur.Email, cur.PendingEmail
		res, err := s.users.updateOne(ctx, filter, tombstone(userID, cur, now))
		if err != nil {
			return store.Deletion{}, mapErr(op, err)
		}
		if res.MatchedCount == 1 {
			return store.Deletion{UserID: userID, Email: cur.Email, PendingEmail: cur.PendingEmail, At: fromDT(dt(now))}, nil
		}
	}
	return store.Deletion{}, fmt.Errorf("mongodb: %s: the account's address kept changing: %w", op, store.ErrConflict)
}

// FinishUserDeletion deletes the sessions, link tokens, factors, recovery codes, WebAuthn
// challenges and queued mails of a tombstone, then the tombstone; the recovery codes
// count one each. Nothing, and no error, when userID is no tombstone: a live user's
// records are never touched.
func (s *Store) FinishUserDeletion(ctx context.Context, userID string, now time.Time) (int, error) {
	const op = "finish user deletion"
	if err := s.checkOpen(op); err != nil {
		return 0, err
	}
	var t tombstoneDoc
	if err := s.users.findOne(ctx, deletedUser(userID), &t); err != nil {
		if errors.Is(err, mongo.ErrNoDocuments) {
			return 0, nil
		}
		return 0, mapErr(op, err)
	}
	addrs := bson.A{t.Email}
	if t.PendingEmail != nil {
		addrs = append(addrs, *t.PendingEmail)
	}
	many := func(c coll, filter bson.M) func() (int, error) {
		return func() (int, error) {
			res, err := c.deleteMany(ctx, filter)
			if err != nil {
				return 0, err
			}
			return int(res.DeletedCount), nil
		}
	}
	total := 0
	for _, del := range []func() (int, error){
		many(s.sessions, bson.M{"user_id": userID}),
		many(s.linkTokens, bson.M{"user_id": userID}),
		// A factor or recovery code written as the deletion began is caught here or
		// removes itself (mfa.go: its write checks the user after it).
		many(s.factors, bson.M{"user_id": userID}),
		func() (int, error) { return s.deleteRecoveryCodes(ctx, userID) },
		many(s.challenges, bson.M{"user_id": userID}),
		// Pending mails to either address queued before the deletion began, and held by
		// no worker now (one that is being sent goes out anyway).
		many(s.mails, bson.M{
			"to": bson.M{"$in": addrs}, "created_at": bson.M{"$lt": t.DeletedAt},
			"state": string(store.MailPending),
			"$or":   bson.A{bson.M{"lease_until": nil}, bson.M{"lease_until": bson.M{"$lte": dt(now)}}},
		}),
		// The tombstone last: until it goes, the deletion can be found and finished.
		many(s.users, deletedUser(userID)),
	} {
		n, err := del()
		if err != nil {
			return total, mapErr(op, err)
		}
		total += n
	}
	return total, nil
}

// FinishDeletions finishes every tombstone whose deletion began at or before now, oldest
// first; it stops at the first failure, leaving the rest to the next run. The tombstones
// are read through the unique email index, where they sort together.
func (s *Store) FinishDeletions(ctx context.Context, now time.Time) (int, error) {
	const op = "finish deletions"
	if err := s.checkOpen(op); err != nil {
		return 0, err
	}
	var docs []tombstoneDoc
	err := s.users.findAll(ctx, bson.M{"email": tombstoneRange(), "deleted_at": bson.M{"$lte": dt(now)}}, &docs,
		options.Find().SetProjection(bson.M{"_id": 1, "deleted_at": 1}).SetSort(bson.D{{Key: "deleted_at", Value: 1}, {Key: "_id", Value: 1}}))
	if err != nil {
		return 0, mapErr(op, err)
	}
	total := 0
	for _, d := range docs {
		n, err := s.FinishUserDeletion(ctx, d.ID, now)
		if err != nil {
			return total, err
		}
		total += n
	}
	return total, nil
}

// BeginUnconfirmedDeletions reads up to limit live unconfirmed accounts created before
// createdBefore, oldest first (the confirmed_created index), then turns each into a
// tombstone with an update conditional on it being still live, unconfirmed, created
// before the cutoff and at the addresses read: a confirmation, an address change or
// another purge's deletion in between makes it match nothing, and the account is skipped
// (an address change is left to the next pass).
func (s *Store) BeginUnconfirmedDeletions(ctx context.Context, createdBefore, now time.Time, limit int) ([]store.Deletion, error) {
	const op = "begin unconfirmed deletions"
	if err := s.checkOpen(op); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, nil
	}
	cond := func() bson.M {
		return bson.M{"email_confirmed": false, "created_at": bson.M{"$lt": dt(createdBefore)}, "deleted_at": bson.M{"$exists": false}}
	}
	var docs []userDoc
	err := s.users.findAll(ctx, cond(), &docs,
		options.Find().SetSort(bson.D{{Key: "email_confirmed", Value: 1}, {Key: "created_at", Value: 1}, {Key: "_id", Value: 1}}).
			SetLimit(int64(limit)))
	if err != nil {
		return nil, mapErr(op, err)
	}
	var out []store.Deletion
	for _, cur := range docs {
		filter := cond()
		filter["_id"], filter["email"], filter["pending_email"] = cur.ID, cur.Email, cur.PendingEmail
		res, err := s.users.updateOne(ctx, filter, tombstone(cur.ID, cur, now))
		if err != nil {
			return out, mapErr(op, err)
		}
		if res.MatchedCount == 1 {
			out = append(out, store.Deletion{UserID: cur.ID, Email: cur.Email, PendingEmail: cur.PendingEmail, At: fromDT(dt(now))})
		}
	}
	return out, nil
}
