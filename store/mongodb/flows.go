package mongodb

import (
	"context"
	"errors"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/toktok/toktok/store"
)

// The email flows (confirmation, email change, password reset) and their link tokens.

// ConfirmEmail confirms the user's address if it is still email, in one conditional
// FindOneAndUpdate on an unconfirmed user with that address. When that matches nothing, a
// read tells why: an already confirmed user with that address is returned unchanged
// (idempotent), another address is store.ErrConflict, no user store.ErrNotFound.
func (s *Store) ConfirmEmail(ctx context.Context, userID, email string, now time.Time) (store.User, error) {
	const op = "confirm email"
	if err := s.checkOpen(op); err != nil {
		return store.User{}, err
	}
	// Nothing makes an address unconfirmed again (an email change confirms the new one),
	// so the second round only runs if the address became email, unconfirmed, in between.
	for range 2 {
		var d userDoc
		err := s.users.findOneAndUpdate(ctx,
			bson.M{"_id": userID, "email": email, "email_confirmed": false},
			bson.M{"$set": bson.M{"email_confirmed": true, "updated_at": dt(now)}},
			&d, afterUpdate())
		if !errors.Is(err, mongo.ErrNoDocuments) {
			if err != nil {
				return store.User{}, mapErr(op, err)
			}
			return d.user(), nil
		}
		u, err := s.findUser(ctx, op, bson.M{"_id": userID})
		switch {
		case err != nil:
			return store.User{}, err
		case u.Email != email:
			return store.User{}, errConflict(op)
		case u.EmailConfirmed:
			return u, nil
		}
	}
	return store.User{}, errConflict(op)
}

// SetPendingEmail sets or (with nil) clears the pending address. store.ErrNotFound for an
// unknown user.
func (s *Store) SetPendingEmail(ctx context.Context, userID string, pending *string, now time.Time) error {
	const op = "set pending email"
	if err := s.checkOpen(op); err != nil {
		return err
	}
	res, err := s.users.updateOne(ctx, bson.M{"_id": userID},
		bson.M{"$set": bson.M{"pending_email": pending, "updated_at": dt(now)}})
	return matchedOne(op, res, err)
}

// ApplyEmailChange moves the user to newEmail if it is still the pending address, in one
// conditional FindOneAndUpdate. The unique email index, not a lookup first, refuses an
// address another account has taken meanwhile: store.ErrConflict, as when the pending
// address differs; store.ErrNotFound for an unknown user.
func (s *Store) ApplyEmailChange(ctx context.Context, userID, newEmail string, now time.Time) (store.User, error) {
	const op = "apply email change"
	if err := s.checkOpen(op); err != nil {
		return store.User{}, err
	}
	var d userDoc
	err := s.users.findOneAndUpdate(ctx,
		bson.M{"_id": userID, "pending_email": newEmail},
		bson.M{"$set": bson.M{"email": newEmail, "email_confirmed": true, "pending_email": nil, "updated_at": dt(now)}},
		&d, afterUpdate())
	switch {
	case err == nil:
		return d.user(), nil
	case errors.Is(err, mongo.ErrNoDocuments):
		return store.User{}, s.classify(ctx, op, s.users, bson.M{"_id": userID})
	}
	mapped := mapErr(op, err)
	if errors.Is(mapped, store.ErrConflict) || errors.Is(mapped, store.ErrUnavailable) {
		return store.User{}, mapped
	}
	// A server that reports the index violation in a way isDuplicate does not know: the
	// update failed, and if the address is another account's, that is why.
	if owner, ferr := s.UserByEmail(ctx, newEmail); ferr == nil && owner.ID != userID {
		return store.User{}, errConflictCause(op, err)
	}
	return store.User{}, mapped
}

// SetPassword replaces the password hash unconditionally. store.ErrNotFound for an unknown
// user.
func (s *Store) SetPassword(ctx context.Context, userID, hash string, now time.Time) error {
	const op = "set password"
	if err := s.checkOpen(op); err != nil {
		return err
	}
	res, err := s.users.updateOne(ctx, bson.M{"_id": userID},
		bson.M{"$set": bson.M{"password_hash": hash, "updated_at": dt(now)}})
	return matchedOne(op, res, err)
}

// CreateLinkToken inserts t. store.ErrConflict on a duplicate hash (the _id).
func (s *Store) CreateLinkToken(ctx context.Context, t store.LinkToken) error {
	const op = "create link token"
	if err := s.checkOpen(op); err != nil {
		return err
	}
	err := s.linkTokens.insertOne(ctx, toLinkTokenDoc(t))
	return mapErr(op, err)
}

// usableToken is the filter of a token that can be used at now for purpose.
func usableToken(hash string, purpose store.LinkPurpose, now time.Time) bson.M {
	return bson.M{
		"_id":        hash,
		"purpose":    string(purpose),
		"used_at":    nil,
		"expires_at": bson.M{"$gt": dt(now)},
	}
}

// ConsumeLinkToken marks the token used in one conditional FindOneAndUpdate: of concurrent
// consumers exactly one matches used_at null. store.ErrNotFound when it is unknown, used,
// expired or for another purpose.
func (s *Store) ConsumeLinkToken(ctx context.Context, hash string, purpose store.LinkPurpose, now time.Time) (store.LinkToken, error) {
	const op = "consume link token"
	if err := s.checkOpen(op); err != nil {
		return store.LinkToken{}, err
	}
	var d linkTokenDoc
	err := s.linkTokens.findOneAndUpdate(ctx, usableToken(hash, purpose, now), useUpdate(now), &d, afterUpdate())
	if err != nil {
		return store.LinkToken{}, mapErr(op, err)
	}
	return d.linkToken(), nil
}

// useUpdate marks a token used at now; it is over from then on at the latest.
func useUpdate(now time.Time) bson.M {
	return bson.M{
		"$set": bson.M{"used_at": dt(now)},
		"$min": bson.M{"purge_at": dt(now)},
	}
}

// LinkToken returns the usable token with this hash and purpose without consuming it.
func (s *Store) LinkToken(ctx context.Context, hash string, purpose store.LinkPurpose, now time.Time) (store.LinkToken, error) {
	const op = "link token"
	if err := s.checkOpen(op); err != nil {
		return store.LinkToken{}, err
	}
	var d linkTokenDoc
	if err := s.linkTokens.findOne(ctx, usableToken(hash, purpose, now), &d); err != nil {
		return store.LinkToken{}, mapErr(op, err)
	}
	return d.linkToken(), nil
}

// VoidLinkTokens marks the user's unused tokens of purpose used at now and returns how
// many. Each token's change is atomic, so a token consumed concurrently is counted by only
// one of the two.
func (s *Store) VoidLinkTokens(ctx context.Context, userID string, purpose store.LinkPurpose, now time.Time) (int, error) {
	const op = "void link tokens"
	if err := s.checkOpen(op); err != nil {
		return 0, err
	}
	res, err := s.linkTokens.updateMany(ctx,
		bson.M{"user_id": userID, "purpose": string(purpose), "used_at": nil}, useUpdate(now))
	if err != nil {
		return 0, mapErr(op, err)
	}
	return int(res.ModifiedCount), nil
}

// matchedOne turns the result of an update by _id into nil, or store.ErrNotFound when it
// matched nothing.
func matchedOne(op string, res *mongo.UpdateResult, err error) error {
	if err != nil {
		return mapErr(op, err)
	}
	if res.MatchedCount == 0 {
		return errNotFound(op)
	}
	return nil
}
