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

// How long PurgeExpired keeps what is over: used or expired link tokens and ended sessions
// for a day, sent and failed mails for a week.
const (
	purgeGrace     = 24 * time.Hour
	mailsRetention = 7 * 24 * time.Hour
)

// maxHitRounds bounds Hit's rounds. A round fails only when another caller changed the
// counter between its two steps, each time making progress, so running out means a key
// hammered far beyond what a rate limit sees.
const maxHitRounds = 16

// upsertAfter inserts when nothing matches and returns the document as updated. A new
// builder each call: options builders are mutable, so none is shared.
func upsertAfter() *options.FindOneAndUpdateOptionsBuilder {
	return options.FindOneAndUpdate().SetUpsert(true).SetReturnDocument(options.After)
}

// Hit counts one event for key in its fixed window and returns the counter after it.
//
// Without pipeline updates an update cannot choose between "count in the window" and
// "start a new one", so each is its own single-document atomic step, conditional on the
// window's state: first an upsert that counts in a live window (and inserts a new key
// with Count 1); when the key exists with an ended window, the upsert collides with it on
// _id, and a conditional update restarts the window. If another caller changed the
// counter in between, the round starts again. Of concurrent hits each sees a different
// Count, as each step is atomic on the one document.
func (s *Store) Hit(ctx context.Context, key string, window time.Duration, now time.Time) (store.Counter, error) {
	const op = "hit"
	if err := s.checkOpen(op); err != nil {
		return store.Counter{}, err
	}
	reset := dt(now.Add(window))
	for range maxHitRounds {
		var d counterDoc
		err := s.counters.findOneAndUpdate(ctx,
			bson.M{"_id": key, "reset_at": bson.M{"$gt": dt(now)}},
			bson.M{"$inc": bson.M{"count": 1}, "$setOnInsert": bson.M{"reset_at": reset}},
			&d, upsertAfter())
		if err == nil {
			return d.counter(), nil
		}
		if !isDuplicate(err) {
			return store.Counter{}, mapErr(op, err)
		}
		err = s.counters.findOneAndUpdate(ctx,
			bson.M{"_id": key, "reset_at": bson.M{"$lte": dt(now)}},
			bson.M{"$set": bson.M{"count": 1, "reset_at": reset}},
			&d, afterUpdate())
		if err == nil {
			return d.counter(), nil
		}
		if !errors.Is(err, mongo.ErrNoDocuments) {
			return store.Counter{}, mapErr(op, err)
		}
		// Someone started a new window (or deleted the key) in between: count again.
	}
	return store.Counter{}, fmt.Errorf("mongodb: %s: key %q changed under every attempt: %w", op, key, store.ErrUnavailable)
}

// PeekCounter returns key's counter as of now without counting: the zero Counter when the
// key is absent or its window has ended.
func (s *Store) PeekCounter(ctx context.Context, key string, now time.Time) (store.Counter, error) {
	const op = "peek counter"
	if err := s.checkOpen(op); err != nil {
		return store.Counter{}, err
	}
	var d counterDoc
	err := s.counters.findOne(ctx, bson.M{"_id": key, "reset_at": bson.M{"$gt": dt(now)}}, &d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return store.Counter{}, nil
	}
	if err != nil {
		return store.Counter{}, mapErr(op, err)
	}
	return d.counter(), nil
}

// HoldCounter moves key's ResetAt to until when that is later ($max), creating the key with
// Count 0 when absent, in one upsert.
func (s *Store) HoldCounter(ctx context.Context, key string, until time.Time) error {
	const op = "hold counter"
	if err := s.checkOpen(op); err != nil {
		return err
	}
	var err error
	// Two upserts of a new key can collide on _id; the loser's retry updates.
	for range 3 {
		_, err = s.counters.updateOne(ctx, bson.M{"_id": key},
			bson.M{"$max": bson.M{"reset_at": dt(until)}, "$setOnInsert": bson.M{"count": int64(0)}},
			options.UpdateOne().SetUpsert(true))
		if !isDuplicate(err) {
			break
		}
	}
	return mapErr(op, err)
}

// ResetCounter deletes key; deleting an absent key is not an error.
func (s *Store) ResetCounter(ctx context.Context, key string) error {
	const op = "reset counter"
	if err := s.checkOpen(op); err != nil {
		return err
	}
	_, err := s.counters.deleteOne(ctx, bson.M{"_id": key})
	return mapErr(op, err)
}

// ReleaseHit takes back one counted event while the key is in c's window, in one
// conditional update of the key's document.
func (s *Store) ReleaseHit(ctx context.Context, key string, c store.Counter) error {
	const op = "release hit"
	if err := s.checkOpen(op); err != nil {
		return err
	}
	_, err := s.counters.updateOne(ctx,
		bson.M{"_id": key, "reset_at": dt(c.ResetAt), "count": bson.M{"$gt": 0}},
		bson.M{"$inc": bson.M{"count": -1}})
	return mapErr(op, err)
}

// PurgeExpired deletes the counters, link tokens, sessions, final mails, WebAuthn
// challenges and pending factors that can no longer matter at now, and returns how many
// documents it removed. Each collection is one DeleteMany filtered on a date the
// documents keep, through the index on it; the TTL expiry of those indexes is never
// needed. A failure part way leaves the earlier deletions
// done; the next run does the rest.
func (s *Store) PurgeExpired(ctx context.Context, now time.Time) (int, error) {
	const op = "purge expired"
	if err := s.checkOpen(op); err != nil {
		return 0, err
	}
	cutoff := dt(now.Add(-purgeGrace))
	total := 0
	for _, p := range []struct {
		coll   coll
		filter bson.M
	}{
		{s.counters, bson.M{"reset_at": bson.M{"$lte": dt(now)}}},
		// purge_at is the earlier of a token's expiry and its use, and the earliest of
		// a session's expiries and its revocation; each write that moves one of those
		// moves it, and its index serves this query.
		{s.linkTokens, bson.M{"purge_at": bson.M{"$lt": cutoff}}},
		{s.sessions, bson.M{"purge_at": bson.M{"$lt": cutoff}}},
		{s.mails, bson.M{
			"state":       bson.M{"$in": bson.A{string(store.MailSent), string(store.MailFailed)}},
			"finished_at": bson.M{"$lt": dt(now.Add(-mailsRetention))},
		}},
		{s.challenges, bson.M{"expires_at": bson.M{"$lt": dt(now)}}},
		// A confirmed factor is never purged, whatever expiry it was stored with.
		{s.factors, bson.M{"confirmed": false, "expires_at": bson.M{"$lt": cutoff}}},
	} {
		res, err := p.coll.deleteMany(ctx, p.filter)
		if err != nil {
			return total, mapErr(op, err)
		}
		total += int(res.DeletedCount)
	}
	return total, nil
}
