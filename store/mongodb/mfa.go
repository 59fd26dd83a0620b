package mongodb

import (
	"context"
	"errors"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/toktok/toktok/store"
)

// Second factors, recovery codes, session levels and WebAuthn challenges (store.MFAStore)
// without multi-document transactions. Factors, the recovery codes (one document per user)
// and challenges have collections of their own; a session's level is two fields of its
// document, so the hot paths read it with the session, at no cost.
//
// User.MFAEnabled is whether the user document's mfa_factors, a set of factor IDs, is not
// empty: the user read on every request knows without another query. Keeping the set
// exact would take a transaction over two collections, so it is kept in an order that can
// leave an ID too many, never one too few:
//
//   - an ID enters the set before its factor becomes confirmed: ConfirmFactor adds it,
//     then confirms the pending factor; CreateFactor of a confirmed factor inserts it
//     unconfirmed and already expired (invisible to every read), adds its ID, then
//     confirms it;
//   - an ID leaves the set only once its factor document is gone: DeleteFactor and
//     DeleteUserFactors delete documents first, then pull from the set every ID whose
//     document no longer exists (pruneFactorSet), idempotently.
//
// A factor's document is inserted before its ID enters the set, and IDs are not reused,
// so an ID whose document is absent can never name a confirmed factor again: pulling it is
// right whatever runs concurrently. A crash between two steps leaves at worst an ID too
// many, which is MFAEnabled true without a confirmed factor (the user can still be reset:
// DeleteUserFactors deletes every document and prunes the set), never a confirmed factor
// with MFAEnabled false.
//
// A factor or recovery code is written first and its user checked after, and removed
// again when the user is not live: a write that races the account's deletion is either
// seen by FinishUserDeletion or removes itself.

// CreateFactor inserts f, then for a confirmed factor adds its ID to the user's set and
// confirms it (see above). store.ErrConflict on a duplicate ID or credential id (the _id
// and the unique cred_key); store.ErrNotFound for an unknown user or a tombstone.
func (s *Store) CreateFactor(ctx context.Context, f store.Factor) error {
	const op = "create factor"
	if err := s.checkOpen(op); err != nil {
		return err
	}
	d := toFactorDoc(f)
	if f.Confirmed {
		// Invisible until its ID is in the set: no read takes an unconfirmed factor that
		// expired when it was made, and PurgeExpired removes it should this call stop.
		created := d.CreatedAt
		d.Confirmed, d.ExpiresAt = false, &created
	}
	if err := s.factors.insertOne(ctx, d); err != nil {
		return mapErr(op, err)
	}
	var live bool
	if f.Confirmed {
		res, err := s.users.updateOne(ctx, liveUser(f.UserID), bson.M{"$addToSet": bson.M{"mfa_factors": f.ID}})
		if err != nil {
			return mapErr(op, err)
		}
		live = res.MatchedCount == 1
	} else {
		var err error
		if live, err = s.userLive(ctx, f.UserID); err != nil {
			return mapErr(op, err)
		}
	}
	if !live {
		if _, err := s.factors.deleteOne(ctx, bson.M{"_id": f.ID}); err != nil {
			return mapErr(op, err)
		}
		return errNotFound(op)
	}
	if !f.Confirmed {
		return nil
	}
	res, err := s.factors.updateOne(ctx, bson.M{"_id": f.ID, "confirmed": false},
		bson.M{"$set": bson.M{"confirmed": true, "expires_at": dtPtr(f.ExpiresAt)}})
	if err != nil {
		return mapErr(op, err)
	}
	if res.MatchedCount == 0 {
		// Deleted in between (a reset, the account's deletion): its ID goes too.
		return mapErr(op, s.pruneFactorSet(ctx, f.UserID))
	}
	return nil
}

// userLive reports whether the user exists and its deletion has not begun.
func (s *Store) userLive(ctx context.Context, userID string) (bool, error) {
	var id bson.Raw
	err := s.users.findOne(ctx, liveUser(userID), &id, options.FindOne().SetProjection(bson.M{"_id": 1}))
	if errors.Is(err, mongo.ErrNoDocuments) {
		return false, nil
	}
	return err == nil, err
}

// Factors returns the user's confirmed factors and its pending ones unexpired at now,
// oldest first (the user_created index).
func (s *Store) Factors(ctx context.Context, userID string, now time.Time) ([]store.Factor, error) {
	const op = "factors"
	if err := s.checkOpen(op); err != nil {
		return nil, err
	}
	var docs []factorDoc
	err := s.factors.findAll(ctx, bson.M{
		"user_id": userID,
		"$or": bson.A{
			bson.M{"confirmed": true},
			bson.M{"confirmed": false, "expires_at": bson.M{"$gt": dt(now)}},
		},
	}, &docs, options.Find().SetSort(bson.D{{Key: "created_at", Value: 1}, {Key: "_id", Value: 1}}))
	if err != nil {
		return nil, mapErr(op, err)
	}
	out := make([]store.Factor, len(docs))
	for i, d := range docs {
		out[i] = d.factor()
	}
	return out, nil
}

// FactorByCredentialID returns the confirmed WebAuthn factor with this credential id,
// through the unique cred_key index, or store.ErrNotFound.
func (s *Store) FactorByCredentialID(ctx context.Context, credentialID []byte) (store.Factor, error) {
	const op = "factor by credential id"
	if err := s.checkOpen(op); err != nil {
		return store.Factor{}, err
	}
	if len(credentialID) == 0 {
		return store.Factor{}, errNotFound(op) // no factor's cred_key is an empty id
	}
	var d factorDoc
	err := s.factors.findOne(ctx, bson.M{
		"cred_key": credentialID, "type": string(store.FactorWebAuthn), "confirmed": true,
	}, &d)
	if err != nil {
		return store.Factor{}, mapErr(op, err)
	}
	return d.factor(), nil
}

// ConfirmFactor adds the pending factor's ID to the user's set, then confirms it in one
// conditional FindOneAndUpdate (see above). A read first spares those writes when there
// is no such pending, unexpired factor (store.ErrNotFound).
func (s *Store) ConfirmFactor(ctx context.Context, userID, id string, step int64, now time.Time) (store.Factor, error) {
	const op = "confirm factor"
	if err := s.checkOpen(op); err != nil {
		return store.Factor{}, err
	}
	pending := func() bson.M {
		return bson.M{"_id": id, "user_id": userID, "confirmed": false, "expires_at": bson.M{"$gt": dt(now)}}
	}
	var found bson.Raw
	if err := s.factors.findOne(ctx, pending(), &found, options.FindOne().SetProjection(bson.M{"_id": 1})); err != nil {
		return store.Factor{}, mapErr(op, err)
	}
	res, err := s.users.updateOne(ctx, liveUser(userID), bson.M{"$addToSet": bson.M{"mfa_factors": id}})
	if err != nil {
		return store.Factor{}, mapErr(op, err)
	}
	if res.MatchedCount == 0 {
		return store.Factor{}, errNotFound(op)
	}
	var d factorDoc
	err = s.factors.findOneAndUpdate(ctx, pending(), bson.M{"$set": bson.M{
		"confirmed": true, "expires_at": nil, "last_used_at": dt(now), "last_step": step,
	}}, &d, afterUpdate())
	if errors.Is(err, mongo.ErrNoDocuments) {
		// Confirmed by a concurrent call (its ID stays in the set) or deleted (its ID goes).
		if err := s.pruneFactorSet(ctx, userID); err != nil {
			return store.Factor{}, mapErr(op, err)
		}
		return store.Factor{}, errNotFound(op)
	}
	if err != nil {
		return store.Factor{}, mapErr(op, err)
	}
	return d.factor(), nil
}

// UseTotpStep advances the factor's last step in one conditional update (last_step below
// step), so of concurrent calls with one step exactly one matches.
func (s *Store) UseTotpStep(ctx context.Context, userID, id string, step int64, now time.Time) error {
	const op = "use totp step"
	if err := s.checkOpen(op); err != nil {
		return err
	}
	filter := confirmedFactor(userID, id, store.FactorTOTP)
	filter["last_step"] = bson.M{"$lt": step}
	res, err := s.factors.updateOne(ctx, filter,
		bson.M{"$set": bson.M{"last_step": step, "last_used_at": dt(now)}})
	if err != nil {
		return mapErr(op, err)
	}
	if res.MatchedCount == 1 {
		return nil
	}
	return s.classify(ctx, op, s.factors, confirmedFactor(userID, id, store.FactorTOTP))
}

// UseWebAuthn records the authenticator's counter in one conditional update (the stored
// counter below count, or both 0).
func (s *Store) UseWebAuthn(ctx context.Context, userID, id string, count uint32, now time.Time) error {
	const op = "use webauthn"
	if err := s.checkOpen(op); err != nil {
		return err
	}
	filter := confirmedFactor(userID, id, store.FactorWebAuthn)
	if count == 0 {
		filter["sign_count"] = int64(0) // an authenticator without a counter
	} else {
		filter["sign_count"] = bson.M{"$lt": int64(count)}
	}
	res, err := s.factors.updateOne(ctx, filter,
		bson.M{"$set": bson.M{"sign_count": int64(count), "last_used_at": dt(now)}})
	if err != nil {
		return mapErr(op, err)
	}
	if res.MatchedCount == 1 {
		return nil
	}
	return s.classify(ctx, op, s.factors, confirmedFactor(userID, id, store.FactorWebAuthn))
}

// confirmedFactor filters the user's confirmed factor id of type t.
func confirmedFactor(userID, id string, t store.FactorType) bson.M {
	return bson.M{"_id": id, "user_id": userID, "type": string(t), "confirmed": true}
}

// DeleteFactor deletes the factor, then, when no confirmed factor remains, the recovery
// codes, then prunes the user's set (see above). A crash in between leaves MFAEnabled
// true, at worst without factors or codes, until the next deletion or a reset.
func (s *Store) DeleteFactor(ctx context.Context, userID, id string) (int, error) {
	const op = "delete factor"
	if err := s.checkOpen(op); err != nil {
		return 0, err
	}
	res, err := s.factors.deleteOne(ctx, bson.M{"_id": id, "user_id": userID})
	if err != nil {
		return 0, mapErr(op, err)
	}
	if res.DeletedCount == 0 {
		return 0, errNotFound(op)
	}
	remaining, err := s.factors.count(ctx, bson.M{"user_id": userID, "confirmed": true})
	if err != nil {
		return 0, mapErr(op, err)
	}
	if remaining == 0 {
		if _, err := s.deleteRecoveryCodes(ctx, userID); err != nil {
			return 0, mapErr(op, err)
		}
	}
	if err := s.pruneFactorSet(ctx, userID); err != nil {
		return 0, mapErr(op, err)
	}
	return int(remaining), nil
}

// DeleteUserFactors deletes every factor of the user, then its recovery codes, then
// prunes its set, which empties it but for a factor created meanwhile.
func (s *Store) DeleteUserFactors(ctx context.Context, userID string) (int, error) {
	const op = "delete user factors"
	if err := s.checkOpen(op); err != nil {
		return 0, err
	}
	res, err := s.factors.deleteMany(ctx, bson.M{"user_id": userID})
	if err != nil {
		return 0, mapErr(op, err)
	}
	if _, err := s.deleteRecoveryCodes(ctx, userID); err != nil {
		return int(res.DeletedCount), mapErr(op, err)
	}
	if err := s.pruneFactorSet(ctx, userID); err != nil {
		return int(res.DeletedCount), mapErr(op, err)
	}
	return int(res.DeletedCount), nil
}

// pruneFactorSet pulls from the user's mfa_factors the IDs whose factor document is gone
// (see above): such an ID can never name a confirmed factor again. Idempotent; nothing
// for an unknown user. Its errors are the driver's.
func (s *Store) pruneFactorSet(ctx context.Context, userID string) error {
	var u struct {
		IDs []string `bson:"mfa_factors"`
	}
	err := s.users.findOne(ctx, bson.M{"_id": userID}, &u, options.FindOne().SetProjection(bson.M{"mfa_factors": 1}))
	if errors.Is(err, mongo.ErrNoDocuments) || (err == nil && len(u.IDs) == 0) {
		return nil
	}
	if err != nil {
		return err
	}
	var present []struct {
		ID string `bson:"_id"`
	}
	err = s.factors.findAll(ctx, bson.M{"_id": bson.M{"$in": u.IDs}}, &present,
		options.Find().SetProjection(bson.M{"_id": 1}))
	if err != nil {
		return err
	}
	exists := make(map[string]bool, len(present))
	for _, p := range present {
		exists[p.ID] = true
	}
	gone := bson.A{}
	for _, id := range u.IDs {
		if !exists[id] {
			gone = append(gone, id)
		}
	}
	if len(gone) == 0 {
		return nil
	}
	_, err = s.users.updateOne(ctx, bson.M{"_id": userID}, bson.M{"$pullAll": bson.M{"mfa_factors": gone}})
	return err
}

// ReplaceRecoveryCodes writes the user's recovery document anew in one upsert (each hash
// once), then checks that the user is live, removing the document again if not
// (store.ErrNotFound). The contract says nothing of an unknown user; refusing it keeps
// codes from outliving an account.
func (s *Store) ReplaceRecoveryCodes(ctx context.Context, userID string, hashes []string, now time.Time) error {
	const op = "replace recovery codes"
	if err := s.checkOpen(op); err != nil {
		return err
	}
	unused := make([]string, 0, len(hashes))
	seen := make(map[string]bool, len(hashes))
	for _, h := range hashes {
		if !seen[h] {
			seen[h] = true
			unused = append(unused, h)
		}
	}
	set := bson.M{"$set": bson.M{"unused": unused, "used": bson.A{}, "created_at": dt(now)}}
	var err error
	// Two upserts of a new document can collide on _id; the loser's retry updates.
	for range 3 {
		_, err = s.recoveryCodes.updateOne(ctx, bson.M{"_id": userID}, set, options.UpdateOne().SetUpsert(true))
		if !isDuplicate(err) {
			break
		}
	}
	if err != nil {
		return mapErr(op, err)
	}
	live, err := s.userLive(ctx, userID)
	if err != nil {
		return mapErr(op, err)
	}
	if !live {
		if _, err := s.deleteRecoveryCodes(ctx, userID); err != nil {
			return mapErr(op, err)
		}
		return errNotFound(op)
	}
	return nil
}

// UseRecoveryCode moves the hash from the unused codes to the used ones in one
// conditional FindOneAndUpdate (the hash among the unused), so of concurrent calls with
// one hash exactly one matches.
func (s *Store) UseRecoveryCode(ctx context.Context, userID, hash string, now time.Time) (int, error) {
	const op = "use recovery code"
	if err := s.checkOpen(op); err != nil {
		return 0, err
	}
	var d recoveryDoc
	err := s.recoveryCodes.findOneAndUpdate(ctx, bson.M{"_id": userID, "unused": hash}, bson.M{
		"$pull": bson.M{"unused": hash},
		"$push": bson.M{"used": usedCodeDoc{Hash: hash, UsedAt: dt(now)}},
	}, &d, afterUpdate()) // no projection: FerretDB v1 implements none on findAndModify
	if err != nil {
		return 0, mapErr(op, err)
	}
	return len(d.Unused), nil
}

// CountRecoveryCodes returns how many unused codes the user's document holds; 0 when it
// has none.
func (s *Store) CountRecoveryCodes(ctx context.Context, userID string) (int, error) {
	const op = "count recovery codes"
	if err := s.checkOpen(op); err != nil {
		return 0, err
	}
	var d recoveryDoc
	err := s.recoveryCodes.findOne(ctx, bson.M{"_id": userID}, &d, options.FindOne().SetProjection(bson.M{"unused": 1}))
	if errors.Is(err, mongo.ErrNoDocuments) {
		return 0, nil
	}
	if err != nil {
		return 0, mapErr(op, err)
	}
	return len(d.Unused), nil
}

// deleteRecoveryCodes deletes the user's recovery document and returns how many codes,
// used or not, it held. Its errors are the driver's.
func (s *Store) deleteRecoveryCodes(ctx context.Context, userID string) (int, error) {
	var d recoveryDoc
	err := s.recoveryCodes.findOneAndDelete(ctx, bson.M{"_id": userID}, &d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return len(d.Unused) + len(d.Used), nil
}

// RaiseSessionLevel sets the live session's level in one conditional FindOneAndUpdate
// whose filter is the whole decision (owner, revocation, both expiries).
func (s *Store) RaiseSessionLevel(ctx context.Context, id, userID string, amr []string, now time.Time) (store.Session, error) {
	const op = "raise session level"
	if err := s.checkOpen(op); err != nil {
		return store.Session{}, err
	}
	var d sessionDoc
	err := s.sessions.findOneAndUpdate(ctx, bson.M{
		"_id":                 id,
		"user_id":             userID,
		"revoked_at":          nil,
		"idle_expires_at":     bson.M{"$gt": dt(now)},
		"absolute_expires_at": bson.M{"$gt": dt(now)},
	}, bson.M{"$set": bson.M{"aal": store.AAL2, "amr": amr}}, &d, afterUpdate())
	if err != nil {
		return store.Session{}, mapErr(op, err)
	}
	return d.session(), nil
}

// CreateChallenge inserts c. store.ErrConflict on a duplicate ID.
func (s *Store) CreateChallenge(ctx context.Context, c store.Challenge) error {
	const op = "create challenge"
	if err := s.checkOpen(op); err != nil {
		return err
	}
	return mapErr(op, s.challenges.insertOne(ctx, toChallengeDoc(c)))
}

// TakeChallenge removes and returns the challenge in one FindOneAndDelete filtered on its
// kind and expiry, so of concurrent calls exactly one gets it, and one of another kind or
// expired at now stays. The TTL index only keeps the collection small.
func (s *Store) TakeChallenge(ctx context.Context, id string, kind store.ChallengeKind, now time.Time) (store.Challenge, error) {
	const op = "take challenge"
	if err := s.checkOpen(op); err != nil {
		return store.Challenge{}, err
	}
	var d challengeDoc
	err := s.challenges.findOneAndDelete(ctx,
		bson.M{"_id": id, "kind": string(kind), "expires_at": bson.M{"$gt": dt(now)}}, &d)
	if err != nil {
		return store.Challenge{}, mapErr(op, err)
	}
	return d.challenge(), nil
}
