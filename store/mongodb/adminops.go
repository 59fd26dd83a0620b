package mongodb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/toktok/toktok/store"
)

// The last-admin rule (store.AdminOps) without multi-document transactions.
//
// "Another active ADMIN exists" is a fact about many documents, which no single update of
// the user can condition on. So the writes that can remove an active ADMIN (a demotion, a
// disabling or a deletion of a user who is one) are serialised by a guard: a lease on one
// document of the counters collection, _id adminGuardID, {holder, until} (no reset_at, so
// neither the TTL index nor PurgeExpired touch it). Such a write
//
//  1. takes the lease: inserts the guard, or takes it over once its until has passed,
//     each one atomic single-document write (the unique _id decides the insert); while
//     another holds it, it waits, then tries again;
//  2. under the lease, reads whether another active ADMIN exists (role ADMIN, not
//     disabled, no tombstone), and refuses with store.ErrLastAdmin when none does;
//  3. writes the user, conditional on the role and flag it read (a change in between
//     starts over);
//  4. releases the lease (deletes the guard if it still holds it).
//
// Of two admins demoting each other at once, the second to take the lease finds the first
// one's target demoted already, so it is the last one left and the write is refused.
// Writes that only add active ADMINs (a promotion, an enabling: UpdateAccess, SetRole,
// PromoteFirstAdmin) need no lease: they can only make step 2's answer "yes" truer, so
// the first-admin rule and the command line need not know about the guard. Only a
// demotion or disabling written by another path (the command line's SetRole and
// SetDisabled, an operator's act) bypasses the rule.
//
// Crash window: the guard holds no derived state (nothing to count or repair); a process
// that dies holding the lease leaves it until its until passes (adminLease), during
// which other demotions, disablings and deletions of ADMINs wait (up to adminWait) and
// then fail with store.ErrUnavailable, and after which the next one takes it over. A
// restart needs no repair. The holder's own work under the lease is bounded by
// adminLease/3 (a context deadline), so that the lease cannot pass while its holder still
// writes, short of a pause longer than that.
const (
	adminGuardID = "admin_guard"
	adminLease   = 15 * time.Second
	adminWait    = 20 * time.Second
)

// accessRounds bounds the read-then-conditional-write rounds of UpdateAccess and
// BeginAdminDeletion: a round is lost only to a concurrent change of the same user.
const accessRounds = 8

// UpdateAccess sets the user's role, disabled flag and confirmation under the rule (see
// above): one conditional update of the user, under the lease when the user would stop
// being an active ADMIN.
func (s *Store) UpdateAccess(ctx context.Context, userID string, a store.AccessUpdate, now time.Time) (store.User, error) {
	const op = "update access"
	if err := s.checkOpen(op); err != nil {
		return store.User{}, err
	}
	for range accessRounds {
		var cur userDoc
		if err := s.users.findOne(ctx, liveUser(userID), &cur); err != nil {
			return store.User{}, mapErr(op, err)
		}
		before := cur.user()
		after := before
		set := bson.M{"updated_at": dt(now)}
		if a.Role != nil {
			after.Role = *a.Role
			set["role"] = string(*a.Role)
		}
		if a.Disabled != nil {
			after.Disabled = *a.Disabled
			set["disabled"] = *a.Disabled
		}
		if a.EmailConfirmed != nil {
			set["email_confirmed"] = *a.EmailConfirmed
		}
		var (
			u    store.User
			done bool
		)
		write := func(ctx context.Context) error {
			filter := liveUser(userID)
			filter["role"], filter["disabled"] = cur.Role, cur.Disabled
			var d userDoc
			err := s.users.findOneAndUpdate(ctx, filter, bson.M{"$set": set}, &d, afterUpdate())
			if errors.Is(err, mongo.ErrNoDocuments) {
				return nil // the user changed since it was read (or is gone): read it again
			}
			if err != nil {
				return mapErr(op, err)
			}
			u, done = d.user(), true
			return nil
		}
		var err error
		if before.ActiveAdmin() && !after.ActiveAdmin() {
			err = s.underGuard(ctx, op, userID, write)
		} else {
			err = write(ctx)
		}
		if err != nil || done {
			return u, err
		}
	}
	return store.User{}, fmt.Errorf("mongodb: %s: the user kept changing: %w", op, store.ErrConflict)
}

// BeginAdminDeletion is BeginUserDeletion under the rule: the same tombstone, under the
// lease when the user is an active ADMIN, conditional on the address, role and flag read.
func (s *Store) BeginAdminDeletion(ctx context.Context, userID string, now time.Time) (store.Deletion, error) {
	const op = "begin admin deletion"
	if err := s.checkOpen(op); err != nil {
		return store.Deletion{}, err
	}
	for range accessRounds {
		var cur userDoc
		if err := s.users.findOne(ctx, liveUser(userID), &cur); err != nil {
			return store.Deletion{}, mapErr(op, err)
		}
		var (
			d    store.Deletion
			done bool
		)
		write := func(ctx context.Context) error {
			filter := liveUser(userID)
			filter["email"], filter["pending_email"] = cur.Email, cur.PendingEmail
			filter["role"], filter["disabled"] = cur.Role, cur.Disabled
			res, err := s.users.updateOne(ctx, filter, tombstone(userID, cur, now))
			if err != nil {
				return mapErr(op, err)
			}
			if res.MatchedCount == 1 {
				d = store.Deletion{UserID: userID, Email: cur.Email, PendingEmail: cur.PendingEmail, At: fromDT(dt(now))}
				done = true
			}
			return nil
		}
		var err error
		if cur.user().ActiveAdmin() {
			err = s.underGuard(ctx, op, userID, write)
		} else {
			err = write(ctx)
		}
		if err != nil || done {
			return d, err
		}
	}
	return store.Deletion{}, fmt.Errorf("mongodb: %s: the user kept changing: %w", op, store.ErrConflict)
}

// underGuard runs write under the lease when another active ADMIN than userID exists,
// and refuses with store.ErrLastAdmin otherwise.
func (s *Store) underGuard(ctx context.Context, op, userID string, write func(context.Context) error) error {
	holder, err := s.takeGuard(ctx, op)
	if err != nil {
		return err
	}
	defer s.releaseGuard(context.WithoutCancel(ctx), holder)
	wctx, cancel := context.WithTimeout(ctx, adminLease/3)
	defer cancel()
	filter := bson.M{
		"_id": bson.M{"$ne": userID}, "role": string(store.RoleAdmin),
		"disabled": bson.M{"$ne": true}, "deleted_at": bson.M{"$exists": false},
	}
	var other bson.Raw
	err = s.users.findOne(wctx, filter, &other)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return fmt.Errorf("mongodb: %s: %w", op, store.ErrLastAdmin)
	}
	if err != nil {
		return mapErr(op, err)
	}
	return write(wctx)
}

// takeGuard takes the lease and returns the holder token it wrote.
func (s *Store) takeGuard(ctx context.Context, op string) (string, error) {
	var b [16]byte
	_, _ = rand.Read(b[:])
	holder := hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(ctx, adminWait)
	defer cancel()
	backoff := 2 * time.Millisecond
	for {
		// The lease is infrastructure, not a domain decision: it runs on the wall clock.
		now := time.Now()
		until := bson.NewDateTimeFromTime(now.Add(adminLease))
		err := s.counters.insertOne(ctx, bson.M{"_id": adminGuardID, "holder": holder, "until": until})
		if err == nil {
			return holder, nil
		}
		if !isDuplicate(err) {
			return "", mapErr(op, err)
		}
		res, err := s.counters.updateOne(ctx,
			bson.M{"_id": adminGuardID, "until": bson.M{"$lt": bson.NewDateTimeFromTime(now)}},
			bson.M{"$set": bson.M{"holder": holder, "until": until}})
		if err != nil {
			return "", mapErr(op, err)
		}
		if res.MatchedCount == 1 {
			return holder, nil
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return "", fmt.Errorf("mongodb: %s: the admin guard stayed taken: %w", op, store.ErrUnavailable)
		case <-t.C:
		}
		backoff = min(backoff*2, 100*time.Millisecond)
	}
}

// releaseGuard deletes the guard if holder still holds it. A failure is logged: the lease
// passes by itself.
func (s *Store) releaseGuard(ctx context.Context, holder string) {
	if _, err := s.counters.deleteOne(ctx, bson.M{"_id": adminGuardID, "holder": holder}); err != nil {
		s.log.Warn("mongodb: the admin guard was not released; its lease passes by itself", "err", err)
	}
}
