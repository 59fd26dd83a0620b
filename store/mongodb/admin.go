package mongodb

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/toktok/toktok/store"
)

// The staff API's listings. Indexes (mongodb.go): users by creation (created) and after
// each filter's equality (role_created, disabled_created, confirmed_created), so a page
// reads an index range in order; the query's prefix is a range on email (email_unique) or
// on name_fold, surname_fold, pseudo_fold, the folded copies every user document carries.
//
// The folded copies exist because neither a collation index (FerretDB v1 implements no
// collation) nor a case-insensitive regular expression (which no index bounds) gives an
// index range: every write of name, surname or pseudo must set its copy, to
// foldName(value) ("" when absent), as toUserDoc does. Documents stored before the copies
// existed get them at Open (backfillFolds).

// foldName is the stored folded copy of an optional name: store.FoldName of it, "" when
// absent (which no query prefix matches: an empty query is no filter).
func foldName(p *string) string {
	if p == nil {
		return ""
	}
	return store.FoldName(*p)
}

// prefixRange is the condition "field starts with p" as an index range.
func prefixRange(field, p string) bson.D {
	r := bson.D{{Key: "$gte", Value: p}}
	if end, ok := store.PrefixEnd(p); ok {
		r = append(r, bson.E{Key: "$lt", Value: end})
	}
	return bson.D{{Key: field, Value: r}}
}

// and combines conditions: {} for none.
func and(conds []bson.D) bson.D {
	switch len(conds) {
	case 0:
		return bson.D{}
	case 1:
		return conds[0]
	}
	a := make(bson.A, len(conds))
	for i, c := range conds {
		a[i] = c
	}
	return bson.D{{Key: "$and", Value: a}}
}

// userConds are f's conditions. Every value is a typed BSON value in a field's
// comparison, never an operator the caller's text could choose: a query of "$ne" is the
// string "$ne".
func userConds(f store.UserFilter) []bson.D {
	// A tombstone (deletion.go) is no user.
	conds := []bson.D{{{Key: "deleted_at", Value: bson.D{{Key: "$exists", Value: false}}}}}
	if f.Role != nil {
		conds = append(conds, bson.D{{Key: "role", Value: string(*f.Role)}})
	}
	if f.EmailConfirmed != nil {
		conds = append(conds, bson.D{{Key: "email_confirmed", Value: *f.EmailConfirmed}})
	}
	if f.Disabled != nil {
		conds = append(conds, bson.D{{Key: "disabled", Value: *f.Disabled}})
	}
	email, name := store.EmailPrefix(f.Query), store.NamePrefix(f.Query)
	if email != "" || name != "" {
		conds = append(conds, bson.D{{Key: "$or", Value: bson.A{
			prefixRange("email", email),
			prefixRange("name_fold", name),
			prefixRange("surname_fold", name),
			prefixRange("pseudo_fold", name),
		}}})
	}
	return conds
}

// ListUsers returns up to limit users matching f after the key after, by creation.
func (s *Store) ListUsers(ctx context.Context, f store.UserFilter, after *store.UserKey, limit int) ([]store.User, error) {
	const op = "list users"
	if err := s.checkOpen(op); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, nil // a zero limit means "no limit" to the server
	}
	conds := userConds(f)
	if after != nil {
		// (created_at, _id) > after: the first condition bounds the index range, the
		// second only sorts out the users created in after's millisecond.
		c := dt(after.CreatedAt)
		conds = append(conds,
			bson.D{{Key: "created_at", Value: bson.D{{Key: "$gte", Value: c}}}},
			bson.D{{Key: "$or", Value: bson.A{
				bson.D{{Key: "created_at", Value: bson.D{{Key: "$gt", Value: c}}}},
				bson.D{{Key: "_id", Value: bson.D{{Key: "$gt", Value: after.ID}}}},
			}}})
	}
	var docs []userDoc
	err := s.users.findAll(ctx, and(conds), &docs, options.Find().
		SetSort(bson.D{{Key: "created_at", Value: 1}, {Key: "_id", Value: 1}}).
		SetLimit(int64(limit)))
	if err != nil {
		return nil, mapErr(op, err)
	}
	out := make([]store.User, len(docs))
	for i, d := range docs {
		out[i] = d.user()
	}
	return out, nil
}

// CountUsers returns how many users match f.
func (s *Store) CountUsers(ctx context.Context, f store.UserFilter) (int, error) {
	const op = "count users"
	if err := s.checkOpen(op); err != nil {
		return 0, err
	}
	n, err := s.users.count(ctx, and(userConds(f)))
	if err != nil {
		return 0, mapErr(op, err)
	}
	return int(n), nil
}

// AuditEventsAfter returns up to limit events older than after, newest first, only
// userID's when it is not empty: a range of the at or user_at index, which hold the order.
func (s *Store) AuditEventsAfter(ctx context.Context, userID string, after *store.AuditKey, limit int) ([]store.AuditEvent, error) {
	const op = "audit events after"
	if err := s.checkOpen(op); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, nil
	}
	var conds []bson.D
	if userID != "" {
		conds = append(conds, bson.D{{Key: "user_id", Value: userID}})
	}
	if after != nil {
		at := dt(after.At)
		conds = append(conds,
			bson.D{{Key: "at", Value: bson.D{{Key: "$lte", Value: at}}}},
			bson.D{{Key: "$or", Value: bson.A{
				bson.D{{Key: "at", Value: bson.D{{Key: "$lt", Value: at}}}},
				bson.D{{Key: "_id", Value: bson.D{{Key: "$lt", Value: after.ID}}}},
			}}})
	}
	var docs []auditDoc
	err := s.audit.findAll(ctx, and(conds), &docs, options.Find().
		SetSort(bson.D{{Key: "at", Value: -1}, {Key: "_id", Value: -1}}).
		SetLimit(int64(limit)))
	if err != nil {
		return nil, mapErr(op, err)
	}
	out := make([]store.AuditEvent, len(docs))
	for i, d := range docs {
		out[i] = store.AuditEvent{
			ID: d.ID, At: fromDT(d.At), Type: d.Type, Outcome: d.Outcome, UserID: d.UserID,
			ActorID: d.ActorID, IP: d.IP, Detail: d.Detail,
		}
	}
	return out, nil
}

// SetRole sets the user's role. store.ErrNotFound for an unknown user (or a tombstone).
func (s *Store) SetRole(ctx context.Context, userID string, role store.Role, now time.Time) error {
	return s.setUserFields(ctx, "set role", userID, bson.D{{Key: "role", Value: string(role)}, {Key: "updated_at", Value: dt(now)}})
}

// SetDisabled sets the user's disabled flag. store.ErrNotFound for an unknown user (or a
// tombstone).
func (s *Store) SetDisabled(ctx context.Context, userID string, disabled bool, now time.Time) error {
	return s.setUserFields(ctx, "set disabled", userID, bson.D{{Key: "disabled", Value: disabled}, {Key: "updated_at", Value: dt(now)}})
}

func (s *Store) setUserFields(ctx context.Context, op, userID string, set bson.D) error {
	if err := s.checkOpen(op); err != nil {
		return err
	}
	res, err := s.users.updateOne(ctx, liveUser(userID), bson.D{{Key: "$set", Value: set}})
	if err != nil {
		return mapErr(op, err)
	}
	if res.MatchedCount == 0 {
		return errNotFound(op)
	}
	return nil
}

// backfillBatch is how many users backfillFolds updates per round trip.
const backfillBatch = 500

// backfillFolds gives the folded name copies to the users stored without them (by a
// version before the users listing), so the listing's query finds them. Every user
// written since has them, so after the first Open this finds nothing: name_fold's index
// holds the documents without the field under null, which no written document has
// (foldName is "" for no name). Each update is conditional on the names read, so a
// profile change in between is not overwritten with stale copies (that change wrote its
// own).
func (s *Store) backfillFolds(ctx context.Context) error {
	const op = "open: fold the names of earlier users"
	cur, err := s.users.c.Find(ctx, bson.D{{Key: "name_fold", Value: bson.D{{Key: "$exists", Value: false}}}},
		options.Find().SetProjection(bson.D{{Key: "name", Value: 1}, {Key: "surname", Value: 1}, {Key: "pseudo", Value: 1}}))
	if err != nil {
		return mapErr(op, err)
	}
	defer cur.Close(ctx)
	var (
		batch []mongo.WriteModel
		total int
	)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := s.users.bulkWrite(ctx, batch); err != nil {
			return mapErr(op, err)
		}
		total += len(batch)
		batch = batch[:0]
		return nil
	}
	for cur.Next(ctx) {
		var d struct {
			ID      string  `bson:"_id"`
			Name    *string `bson:"name"`
			Surname *string `bson:"surname"`
			Pseudo  *string `bson:"pseudo"`
		}
		if err := cur.Decode(&d); err != nil {
			return mapErr(op, err)
		}
		batch = append(batch, mongo.NewUpdateOneModel().
			SetFilter(bson.D{{Key: "_id", Value: d.ID}, {Key: "name", Value: d.Name}, {Key: "surname", Value: d.Surname}, {Key: "pseudo", Value: d.Pseudo}}).
			SetUpdate(bson.D{{Key: "$set", Value: bson.D{
				{Key: "name_fold", Value: foldName(d.Name)},
				{Key: "surname_fold", Value: foldName(d.Surname)},
				{Key: "pseudo_fold", Value: foldName(d.Pseudo)},
			}}}))
		if len(batch) == backfillBatch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := cur.Err(); err != nil {
		return mapErr(op, err)
	}
	if err := flush(); err != nil {
		return err
	}
	if total > 0 {
		s.log.Info("mongodb: folded copies of names written for the users listing", "users", total)
	}
	return nil
}

// count counts the documents matching filter (a read: no gate).
func (c coll) count(ctx context.Context, filter any) (int64, error) {
	return c.c.CountDocuments(ctx, filter)
}

// bulkWrite runs unordered single-document writes through the gate.
func (c coll) bulkWrite(ctx context.Context, models []mongo.WriteModel) error {
	release, err := c.enter(ctx)
	if err != nil {
		return err
	}
	defer release()
	_, err = c.c.BulkWrite(ctx, models, options.BulkWrite().SetOrdered(false))
	return err
}
