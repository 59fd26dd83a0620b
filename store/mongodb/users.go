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

// CreateUser inserts u. store.ErrConflict when its ID or email is taken, decided by the _id
// and the unique email index.
func (s *Store) CreateUser(ctx context.Context, u store.User) error {
	const op = "create user"
	if err := s.checkOpen(op); err != nil {
		return err
	}
	err := s.users.insertOne(ctx, toUserDoc(u))
	return mapErr(op, err)
}

// UserByID returns the user or store.ErrNotFound.
func (s *Store) UserByID(ctx context.Context, id string) (store.User, error) {
	return s.findUser(ctx, "user by id", bson.M{"_id": id})
}

// UserByEmail returns the user with that canonical email or store.ErrNotFound.
func (s *Store) UserByEmail(ctx context.Context, email string) (store.User, error) {
	return s.findUser(ctx, "user by email", bson.M{"email": email})
}

func (s *Store) findUser(ctx context.Context, op string, filter bson.M) (store.User, error) {
	if err := s.checkOpen(op); err != nil {
		return store.User{}, err
	}
	// A tombstone (deletion.go) is no user.
	filter["deleted_at"] = bson.M{"$exists": false}
	var d userDoc
	if err := s.users.findOne(ctx, filter, &d); err != nil {
		return store.User{}, mapErr(op, err)
	}
	return d.user(), nil
}

// RecordLogin counts a login in one FindOneAndUpdate ($inc), so concurrent logins never
// lose an increment. store.ErrNotFound for an unknown id.
func (s *Store) RecordLogin(ctx context.Context, userID string, now time.Time) (store.User, error) {
	const op = "record login"
	if err := s.checkOpen(op); err != nil {
		return store.User{}, err
	}
	var d userDoc
	err := s.users.findOneAndUpdate(ctx, liveUser(userID), bson.M{
		"$set": bson.M{"last_login_at": dt(now), "updated_at": dt(now)},
		"$inc": bson.M{"login_count": 1},
	}, &d, afterUpdate())
	if err != nil {
		return store.User{}, mapErr(op, err)
	}
	return d.user(), nil
}

// SetPasswordHash replaces the hash only while it still equals oldHash, in one conditional
// update. store.ErrConflict when it changed, store.ErrNotFound for an unknown id.
func (s *Store) SetPasswordHash(ctx context.Context, userID, oldHash, newHash string, now time.Time) error {
	const op = "set password hash"
	if err := s.checkOpen(op); err != nil {
		return err
	}
	res, err := s.users.updateOne(ctx, bson.M{"_id": userID, "password_hash": oldHash},
		bson.M{"$set": bson.M{"password_hash": newHash, "updated_at": dt(now)}})
	if err != nil {
		return mapErr(op, err)
	}
	if res.MatchedCount == 1 {
		return nil
	}
	// Whether it exists says why the update refused (a user deleted meanwhile, a
	// tombstone included, is found by _id: the hash it has no more is a conflict).
	return s.classify(ctx, op, s.users, bson.M{"_id": userID})
}

// CreateSession inserts sess. store.ErrConflict on a duplicate ID.
func (s *Store) CreateSession(ctx context.Context, sess store.Session) error {
	const op = "create session"
	if err := s.checkOpen(op); err != nil {
		return err
	}
	err := s.sessions.insertOne(ctx, toSessionDoc(sess))
	return mapErr(op, err)
}

// SessionByID returns the session whatever its state, or store.ErrNotFound.
func (s *Store) SessionByID(ctx context.Context, id string) (store.Session, error) {
	const op = "session by id"
	if err := s.checkOpen(op); err != nil {
		return store.Session{}, err
	}
	var d sessionDoc
	if err := s.sessions.findOne(ctx, bson.M{"_id": id}, &d); err != nil {
		return store.Session{}, mapErr(op, err)
	}
	return d.session(), nil
}

// AdvanceSession rotates the session from counter from in one conditional FindOneAndUpdate
// whose filter holds the whole refresh decision (counter, revocation, both expiries), so of
// any number of concurrent rotations from one counter exactly one matches.
//
// The new idle expiry is capped at the absolute one. Without pipeline updates (which not
// every server has) an update cannot compute that minimum, so the common case, a new idle
// expiry within the absolute one, is a filter condition of the first update; when the
// absolute expiry comes first, a second conditional update sets it, filtered on the
// absolute expiry read (it never changes) and on the same counter. store.ErrConflict when
// the session exists but is not rotatable from from at now; store.ErrNotFound when it does
// not exist.
func (s *Store) AdvanceSession(ctx context.Context, id string, from int64, now, idleExpiresAt time.Time) (store.Session, error) {
	const op = "advance session"
	if err := s.checkOpen(op); err != nil {
		return store.Session{}, err
	}
	rotate := func(absolute bson.M, idle bson.DateTime) (store.Session, error) {
		filter := bson.M{
			"_id":                 id,
			"counter":             from,
			"revoked_at":          nil,
			"idle_expires_at":     bson.M{"$gt": dt(now)},
			"absolute_expires_at": absolute,
		}
		update := bson.M{"$set": bson.M{
			"counter":         from + 1,
			"rotated_at":      dt(now),
			"last_used_at":    dt(now),
			"idle_expires_at": idle,
			"purge_at":        idle, // not revoked, and idle <= absolute
		}}
		var d sessionDoc
		if err := s.sessions.findOneAndUpdate(ctx, filter, update, &d, afterUpdate()); err != nil {
			return store.Session{}, err
		}
		return d.session(), nil
	}

	idle := dt(idleExpiresAt)
	sess, err := rotate(bson.M{"$gt": dt(now), "$gte": idle}, idle)
	if !errors.Is(err, mongo.ErrNoDocuments) {
		return sess, mapErr(op, err)
	}
	// Refused: sessions are deleted only long after they are over, so reading it tells
	// why, and whether the cap is the reason.
	var cur sessionDoc
	if err := s.sessions.findOne(ctx, bson.M{"_id": id}, &cur); err != nil {
		return store.Session{}, mapErr(op, err)
	}
	abs := cur.AbsoluteExpiresAt
	if cur.Counter != from || !cur.session().Live(now.Truncate(time.Millisecond)) || abs >= idle {
		return store.Session{}, errConflict(op)
	}
	sess, err = rotate(bson.M{"$eq": abs, "$gt": dt(now)}, abs)
	if errors.Is(err, mongo.ErrNoDocuments) {
		// Another rotation (or a revocation) got there in between.
		return store.Session{}, errConflict(op)
	}
	return sess, mapErr(op, err)
}

// ListLiveSessions returns userID's sessions live at now, newest first (by CreatedAt, then
// ID descending so the order is total).
func (s *Store) ListLiveSessions(ctx context.Context, userID string, now time.Time) ([]store.Session, error) {
	const op = "list live sessions"
	if err := s.checkOpen(op); err != nil {
		return nil, err
	}
	var docs []sessionDoc
	err := s.sessions.findAll(ctx, bson.M{
		"user_id":             userID,
		"revoked_at":          nil,
		"idle_expires_at":     bson.M{"$gt": dt(now)},
		"absolute_expires_at": bson.M{"$gt": dt(now)},
	}, &docs, options.Find().SetSort(bson.D{{Key: "created_at", Value: -1}, {Key: "_id", Value: -1}}))
	if err != nil {
		return nil, mapErr(op, err)
	}
	out := make([]store.Session, len(docs))
	for i, d := range docs {
		out[i] = d.session()
	}
	return out, nil
}

// CountLiveSessions counts the live sessions with from <= _id < to (no upper bound when to
// is ""), at most limit of them when limit > 0: a range of the _id index.
func (s *Store) CountLiveSessions(ctx context.Context, from, to string, now time.Time, limit int) (int, error) {
	const op = "count live sessions"
	if err := s.checkOpen(op); err != nil {
		return 0, err
	}
	ids := bson.M{"$gte": from}
	if to != "" {
		ids["$lt"] = to
	}
	opts := options.Count().SetHint(bson.D{{Key: "_id", Value: 1}})
	if limit > 0 {
		opts.SetLimit(int64(limit))
	}
	n, err := s.sessions.c.CountDocuments(ctx, bson.M{
		"_id":                 ids,
		"revoked_at":          nil,
		"idle_expires_at":     bson.M{"$gt": dt(now)},
		"absolute_expires_at": bson.M{"$gt": dt(now)},
	}, opts)
	return int(n), mapErr(op, err)
}

// RevokeSession revokes the session if it belongs to userID (any owner when userID is
// empty) and is not revoked yet, in one conditional update, reporting whether this call
// revoked it. store.ErrNotFound when no such session belongs to userID.
func (s *Store) RevokeSession(ctx context.Context, id, userID string, now time.Time, reason string) (bool, error) {
	const op = "revoke session"
	if err := s.checkOpen(op); err != nil {
		return false, err
	}
	owned := bson.M{"_id": id}
	if userID != "" {
		owned["user_id"] = userID
	}
	filter := bson.M{"revoked_at": nil}
	for k, v := range owned {
		filter[k] = v
	}
	res, err := s.sessions.updateOne(ctx, filter, revokeUpdate(now, reason))
	if err != nil {
		return false, mapErr(op, err)
	}
	if res.MatchedCount == 1 {
		return true, nil
	}
	// Not revoked by us: either it was already revoked (false) or it is not userID's.
	if err := s.classify(ctx, op, s.sessions, owned); !errors.Is(err, store.ErrConflict) {
		return false, err
	}
	return false, nil
}

// revokeUpdate marks a session revoked at now; it is over from then on at the latest.
func revokeUpdate(now time.Time, reason string) bson.M {
	return bson.M{
		"$set": bson.M{"revoked_at": dt(now), "revoked_reason": reason},
		"$min": bson.M{"purge_at": dt(now)},
	}
}

// RevokeUserSessions revokes every unrevoked session of userID but exceptID, expired ones
// included, and returns how many it revoked. Each session's revocation is atomic; the
// count is of those this call revoked.
func (s *Store) RevokeUserSessions(ctx context.Context, userID, exceptID string, now time.Time, reason string) (int, error) {
	const op = "revoke user sessions"
	if err := s.checkOpen(op); err != nil {
		return 0, err
	}
	res, err := s.sessions.updateMany(ctx,
		bson.M{"user_id": userID, "_id": bson.M{"$ne": exceptID}, "revoked_at": nil},
		revokeUpdate(now, reason))
	if err != nil {
		return 0, mapErr(op, err)
	}
	return int(res.ModifiedCount), nil
}

// AppendAudit records e. store.ErrConflict on a duplicate ID.
func (s *Store) AppendAudit(ctx context.Context, e store.AuditEvent) error {
	const op = "append audit"
	if err := s.checkOpen(op); err != nil {
		return err
	}
	err := s.audit.insertOne(ctx, auditDoc{
		ID: e.ID, At: dt(e.At), Type: e.Type, Outcome: e.Outcome, UserID: e.UserID,
		ActorID: e.ActorID, IP: e.IP, Detail: e.Detail,
	})
	return mapErr(op, err)
}

// AuditEvents returns up to limit events, newest first with ties broken by ID descending,
// only userID's when it is not empty. A limit of zero or less returns nothing.
// PurgeAudit deletes the events older than before and returns how many.
func (s *Store) PurgeAudit(ctx context.Context, before time.Time) (int, error) {
	const op = "purge audit"
	if err := s.checkOpen(op); err != nil {
		return 0, err
	}
	res, err := s.audit.deleteMany(ctx, bson.M{"at": bson.M{"$lt": dt(before)}})
	if err != nil {
		return 0, mapErr(op, err)
	}
	return int(res.DeletedCount), nil
}

func (s *Store) AuditEvents(ctx context.Context, userID string, limit int) ([]store.AuditEvent, error) {
	const op = "audit events"
	if err := s.checkOpen(op); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, nil // a zero limit means "no limit" to the server
	}
	filter := bson.M{}
	if userID != "" {
		filter["user_id"] = userID
	}
	var docs []auditDoc
	err := s.audit.findAll(ctx, filter, &docs, options.Find().
		SetSort(bson.D{{Key: "at", Value: -1}, {Key: "_id", Value: -1}}).
		SetLimit(int64(limit)))
	if err != nil {
		return nil, mapErr(op, err)
	}
	var out []store.AuditEvent
	for _, d := range docs {
		out = append(out, store.AuditEvent{
			ID: d.ID, At: fromDT(d.At), Type: d.Type, Outcome: d.Outcome, UserID: d.UserID,
			ActorID: d.ActorID, IP: d.IP, Detail: d.Detail,
		})
	}
	return out, nil
}
