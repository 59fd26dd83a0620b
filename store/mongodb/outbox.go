package mongodb

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/toktok/toktok/store"
)

// EnqueueMail inserts m as a pending mail, whatever m.State says. store.ErrConflict on a
// duplicate ID.
func (s *Store) EnqueueMail(ctx context.Context, m store.Mail) error {
	const op = "enqueue mail"
	if err := s.checkOpen(op); err != nil {
		return err
	}
	err := s.mails.insertOne(ctx, mailDoc{
		ID: m.ID, Kind: m.Kind, To: m.To, Subject: m.Subject, Text: m.Text, HTML: m.HTML,
		State: string(store.MailPending), Attempts: int64(m.Attempts), CreatedAt: dt(m.CreatedAt),
		NextAttemptAt: dt(m.NextAttemptAt), LeaseOwner: m.LeaseOwner, LeaseUntil: dtOrNull(m.LeaseUntil),
		SentAt: dtPtr(m.SentAt), LastError: store.TruncateLastError(m.LastError),
	})
	return mapErr(op, err)
}

// claimOrder takes the mail due first, ties by ID, and returns it as updated.
func claimOrder() *options.FindOneAndUpdateOptionsBuilder {
	return options.FindOneAndUpdate().
		SetSort(bson.D{{Key: "next_attempt_at", Value: 1}, {Key: "_id", Value: 1}}).
		SetReturnDocument(options.After)
}

// ClaimMails leases up to n due pending mails to worker and returns them oldest
// NextAttemptAt first (ties by ID). n <= 0 claims nothing.
//
// Each mail is claimed by its own conditional FindOneAndUpdate (pending, due, lease free or
// expired), so concurrent claimers never get the same mail; a batch is a loop of such claims
// that stops when none is left. If a claim fails after others succeeded, the mails already
// leased are returned without the error (the next call meets it again) rather than left
// leased to a worker that does not know it has them.
func (s *Store) ClaimMails(ctx context.Context, worker string, now, leaseUntil time.Time, n int) ([]store.Mail, error) {
	const op = "claim mails"
	if err := s.checkOpen(op); err != nil {
		return nil, err
	}
	filter := bson.M{
		"state":           string(store.MailPending),
		"next_attempt_at": bson.M{"$lte": dt(now)},
		"$or": bson.A{
			bson.M{"lease_until": nil},
			bson.M{"lease_until": bson.M{"$lte": dt(now)}},
		},
	}
	update := bson.M{
		"$set": bson.M{"lease_owner": worker, "lease_until": dt(leaseUntil)},
		"$inc": bson.M{"attempts": 1},
	}
	var out []store.Mail
	for len(out) < n {
		var d mailDoc
		err := s.mails.findOneAndUpdate(ctx, filter, update, &d, claimOrder())
		if errors.Is(err, mongo.ErrNoDocuments) {
			break
		}
		if err != nil {
			if len(out) > 0 {
				s.log.Warn("mongodb: claim mails: stopped after a failed claim", "claimed", len(out), "err", err)
				break
			}
			return nil, mapErr(op, err)
		}
		out = append(out, d.mail())
	}
	// Each claim took the first due mail, but a retry released meanwhile may be due
	// before an earlier pick.
	slices.SortFunc(out, func(a, b store.Mail) int {
		return cmp.Or(a.NextAttemptAt.Compare(b.NextAttemptAt), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

// leasedBy is the filter of a mail that worker holds: pending and leased to worker, whether
// or not the lease has passed. An empty worker holds nothing; leaseOK tells the caller so.
func leasedBy(id, worker string) (filter bson.M, leaseOK bool) {
	return bson.M{"_id": id, "state": string(store.MailPending), "lease_owner": worker}, worker != ""
}

// releaseLease clears the lease.
func releaseLease(set bson.M) bson.M {
	set["lease_owner"] = ""
	set["lease_until"] = nil
	return bson.M{"$set": set}
}

// MarkMailSent records the delivery and scrubs the body, if worker holds the lease.
func (s *Store) MarkMailSent(ctx context.Context, id, worker string, now time.Time) error {
	return s.markMail(ctx, "mark mail sent", id, worker, bson.M{
		"state": string(store.MailSent), "sent_at": dt(now), "finished_at": dt(now),
		"text": "", "html": "",
	})
}

// MarkMailRetry releases the lease and makes the mail due again at next, if worker holds
// the lease.
func (s *Store) MarkMailRetry(ctx context.Context, id, worker string, next time.Time, lastErr string) error {
	return s.markMail(ctx, "mark mail retry", id, worker, bson.M{
		"next_attempt_at": dt(next), "last_error": store.TruncateLastError(lastErr),
	})
}

// MarkMailFailed records a final failure and scrubs the body, if worker holds the lease.
func (s *Store) MarkMailFailed(ctx context.Context, id, worker string, now time.Time, lastErr string) error {
	return s.markMail(ctx, "mark mail failed", id, worker, bson.M{
		"state": string(store.MailFailed), "last_error": store.TruncateLastError(lastErr), "finished_at": dt(now),
		"text": "", "html": "",
	})
}

// markMail applies set and releases the lease in one conditional update on a mail worker
// holds. store.ErrConflict when the mail exists but worker does not hold it (another
// worker took it over, or it is final); store.ErrNotFound when it does not exist.
func (s *Store) markMail(ctx context.Context, op, id, worker string, set bson.M) error {
	if err := s.checkOpen(op); err != nil {
		return err
	}
	filter, ok := leasedBy(id, worker)
	if ok {
		res, err := s.mails.updateOne(ctx, filter, releaseLease(set))
		if err != nil {
			return mapErr(op, err)
		}
		if res.MatchedCount == 1 {
			return nil
		}
	}
	return s.classify(ctx, op, s.mails, bson.M{"_id": id})
}

// MailByID returns the mail or store.ErrNotFound.
func (s *Store) MailByID(ctx context.Context, id string) (store.Mail, error) {
	const op = "mail by id"
	if err := s.checkOpen(op); err != nil {
		return store.Mail{}, err
	}
	var d mailDoc
	if err := s.mails.findOne(ctx, bson.M{"_id": id}, &d); err != nil {
		return store.Mail{}, mapErr(op, err)
	}
	return d.mail(), nil
}

// MailsTo returns every mail to the address to, oldest first (ties by ID), as stored. The
// "to_created" index serves both the filter and the order.
func (s *Store) MailsTo(ctx context.Context, to string) ([]store.Mail, error) {
	const op = "mails to"
	if err := s.checkOpen(op); err != nil {
		return nil, err
	}
	var docs []mailDoc
	err := s.mails.findAll(ctx, bson.M{"to": to}, &docs,
		options.Find().SetSort(bson.D{{Key: "created_at", Value: 1}, {Key: "_id", Value: 1}}))
	if err != nil {
		return nil, mapErr(op, err)
	}
	out := make([]store.Mail, len(docs))
	for i, d := range docs {
		out[i] = d.mail()
	}
	return out, nil
}

// OutboxStats reads the outbox's depth, due and failed counts and oldest pending mail at
// now. FerretDB v1 has neither $min nor $cond, so one aggregation cannot give them all:
// it takes three reads, each selecting by the "due" index (state, next_attempt_at), so
// none touches a sent mail (the oldest pending mail is then a top-1 sort of the pending
// ones). They are not a snapshot, so the last one squares the result: a backlog that
// drained between the counts and the oldest read is reported as drained.
func (s *Store) OutboxStats(ctx context.Context, now time.Time) (store.OutboxStats, error) {
	const op = "outbox stats"
	if err := s.checkOpen(op); err != nil {
		return store.OutboxStats{}, err
	}
	var st store.OutboxStats
	if err := s.countMailStates(ctx, &st); err != nil {
		return store.OutboxStats{}, mapErr(op, err)
	}
	if st.Pending == 0 {
		return st, nil
	}
	due, err := s.mails.c.CountDocuments(ctx, bson.M{
		"state": string(store.MailPending), "next_attempt_at": bson.M{"$lte": dt(now)},
	})
	if err != nil {
		return store.OutboxStats{}, mapErr(op, err)
	}
	st.Due = min(int(due), st.Pending)
	var oldest struct {
		CreatedAt bson.DateTime `bson:"created_at"`
	}
	err = s.mails.findOne(ctx, bson.M{"state": string(store.MailPending)}, &oldest, options.FindOne().
		SetSort(bson.D{{Key: "created_at", Value: 1}}).SetProjection(bson.M{"created_at": 1}))
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		st.Pending, st.Due = 0, 0
	case err != nil:
		return store.OutboxStats{}, mapErr(op, err)
	default:
		st.OldestCreatedAt = fromDT(oldest.CreatedAt)
	}
	return st, nil
}

// countMailStates sets st's Pending and Failed with one aggregation, grouped by state.
func (s *Store) countMailStates(ctx context.Context, st *store.OutboxStats) error {
	cur, err := s.mails.c.Aggregate(ctx, mongo.Pipeline{
		{{Key: "$match", Value: bson.M{"state": bson.M{"$in": bson.A{string(store.MailPending), string(store.MailFailed)}}}}},
		{{Key: "$group", Value: bson.M{"_id": "$state", "n": bson.M{"$sum": 1}}}},
	})
	if err != nil {
		return err
	}
	var groups []struct {
		State string `bson:"_id"`
		N     int64  `bson:"n"`
	}
	if err := cur.All(ctx, &groups); err != nil {
		return err
	}
	for _, g := range groups {
		switch store.MailState(g.State) {
		case store.MailPending:
			st.Pending = int(g.N)
		case store.MailFailed:
			st.Failed = int(g.N)
		}
	}
	return nil
}
