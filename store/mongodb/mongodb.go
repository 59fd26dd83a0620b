// Package mongodb is TokTok's shared store.Store backend: MongoDB, or a server that speaks its
// wire protocol, through go.mongodb.org/mongo-driver/v2. It exists for deployments that run
// several instances against one database (a replica set scales it out); the embedded sqlite
// backend serves a single instance.
//
// Every check-then-act of the store.Store contract is one single-document operation: a
// FindOneAndUpdate or UpdateOne whose filter states the expected state, or an insert against
// a unique index (the _id of each collection, users.email, mfa_factors.cred_key). No
// multi-document transaction is used, because many MongoDB-compatible servers lack them;
// where a fact spans two documents (User.MFAEnabled and the factors, mfa.go), the writes
// are ordered so that a crash between them leaves the safe side. When such an operation is refused,
// a follow-up read may explain why (ErrNotFound or ErrConflict), as in the sqlite backend; it
// never decides.
//
// Expiry never depends on TTL indexes: every query filters on expiry times and PurgeExpired
// deletes what is over. TTL indexes are created where the server supports them, only to keep
// collections small between purges.
//
// IDs are the application's strings, stored as string _id (never ObjectID). Times are BSON
// datetimes (milliseconds, UTC by definition) and come back as UTC.
//
// FerretDB v1, which the package's tests run on, applies an update by reading the document,
// changing it in its own process and writing it back by _id: concurrent conditional updates
// of one document can all succeed and $inc loses increments. On such a server (detected at
// Open from buildInfo) the store serialises its writes per collection through a WriteGate,
// which makes each single-document operation atomic again among the Stores sharing that gate
// within one process; several processes sharing that database are not safe. MongoDB and
// later FerretDB versions apply each single-document update atomically and run without a
// gate. The package keeps no state of its own: what Stores share, they share through the
// Options their caller gives them.
package mongodb

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/topology"

	"github.com/toktok/toktok/store"
)

var _ store.Store = (*Store)(nil)

// DefaultDatabase is the database used when neither Options.Database nor the URI names one.
const DefaultDatabase = "toktok"

// Defaults applied unless the URI sets them (serverSelectionTimeoutMS, connectTimeoutMS):
// the driver's own 30 s server selection would hold every request that long while the
// database is down, where the contract wants a quick ErrUnavailable.
const (
	defaultServerSelectionTimeout = 5 * time.Second
	defaultConnectTimeout         = 5 * time.Second
)

// closeTimeout bounds Close's wait for the driver to return its connections.
const closeTimeout = 10 * time.Second

// The collections.
const (
	usersColl      = "users"
	sessionsColl   = "sessions"
	auditColl      = "audit"
	linkTokensColl = "link_tokens"
	mailsColl      = "mails"
	countersColl   = "counters"
	factorsColl    = "mfa_factors"
	recoveryColl   = "mfa_recovery_codes"
	challengesColl = "webauthn_challenges"
)

// Options configures Open. The zero value is valid.
type Options struct {
	// Database is the database to use. Empty means the one named in the URI's path, and
	// DefaultDatabase when the URI names none.
	Database string
	// Log receives operational messages (an index the server cannot build, whether the
	// server's writes have to be serialised). Nil discards them.
	Log *slog.Logger
	// WriteGate serialises writes on a server whose single-document updates are not
	// atomic (FerretDB v1), among every Store of this process given the same gate: pass
	// one to each Store that shares a database in one process. Nil gives such a store a
	// gate of its own, which serialises only its own writes. Unused (and logged at debug
	// level) on a server that applies updates atomically, such as MongoDB.
	WriteGate *WriteGate
	// NoTTLIndexes creates the indexes on expiry dates without their TTL expiry, so the
	// server never deletes documents by its own clock; PurgeExpired still removes them.
	// Correctness never depends on TTL; tests whose fixed clock lies before the server's
	// clock set it so that the server does not delete their fixtures. Changing it for an
	// existing database makes Open fail on the index whose options differ.
	NoTTLIndexes bool

	// monitor sees every command the driver sends (explain_test.go).
	monitor *event.CommandMonitor
}

// Store is a store.Store on one MongoDB database. It is safe for concurrent use, and survives
// the database going away: calls then fail with store.ErrUnavailable, and succeed again once
// the driver reconnects, without reopening.
type Store struct {
	client *mongo.Client
	db     *mongo.Database
	log    *slog.Logger
	closed atomic.Bool

	// gate serialises the writes of every collection when the server does not apply
	// single-document updates atomically; nil when it does.
	gate *WriteGate

	users, sessions, audit, linkTokens, mails, counters coll
	factors, recoveryCodes, challenges                  coll // mfa.go
}

// coll is a collection and, on servers whose updates are not atomic, the gate its writes
// pass one at a time. The store reaches its collections only through coll's methods, so no
// update or delete can bypass the gate.
type coll struct {
	c    *mongo.Collection
	gate chan struct{} // the WriteGate's semaphore for c; nil when the store has no gate
}

// Open connects to the database at uri (mongodb:// or mongodb+srv://; timeouts, pool size,
// TLS and credentials are the URI's options, as the driver reads them), checks what the
// server is, and creates the indexes, idempotently. ctx bounds this opening only. The
// error wraps store.ErrUnavailable when the server could not be reached; its text, one
// line, then names the hosts tried, the cause in short and what to check, and never the
// URI's credentials.
func Open(ctx context.Context, uri string, opts Options) (*Store, error) {
	if !strings.HasPrefix(uri, "mongodb://") && !strings.HasPrefix(uri, "mongodb+srv://") {
		return nil, errors.New("mongodb: open: the URI must start with mongodb:// or mongodb+srv://")
	}
	dbName := opts.Database
	if dbName == "" {
		name, err := uriDatabase(uri)
		if err != nil {
			return nil, fmt.Errorf("mongodb: open: %w", err)
		}
		dbName = name
	}
	if dbName == "" {
		dbName = DefaultDatabase
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}

	// Defaults first: ApplyURI only overrides what the URI sets.
	copts := options.Client().
		SetServerSelectionTimeout(defaultServerSelectionTimeout).
		SetConnectTimeout(defaultConnectTimeout).
		ApplyURI(uri)
	if opts.monitor != nil {
		copts.SetMonitor(opts.monitor)
	}
	client, err := mongo.Connect(copts)
	if err != nil {
		// Connect does no I/O but a mongodb+srv:// URI's DNS lookup: this is a malformed
		// URI or option, not an outage, or a failed lookup (openerr.go).
		if derr := dnsFailure(err); derr != nil {
			return nil, derr
		}
		return nil, malformed(uri, err)
	}
	s := &Store{client: client, db: client.Database(dbName), log: log}
	if err := s.init(ctx, opts); err != nil {
		_ = s.Close()
		if errors.Is(err, store.ErrUnavailable) && ctx.Err() == nil {
			// Which hosts, why in short and what to check, instead of the driver's
			// topology dump (openerr.go).
			err = unreachable(err, copts)
		}
		return nil, err
	}
	return s, nil
}

// uriDatabase returns the database named in a MongoDB URI's path, without resolving
// anything (a mongodb+srv URI would otherwise cost a DNS lookup here and another in the
// driver). The driver validates the rest of the URI.
func uriDatabase(uri string) (string, error) {
	_, rest, _ := strings.Cut(uri, "://")
	rest, _, _ = strings.Cut(rest, "?")
	_, path, found := strings.Cut(rest, "/")
	if !found {
		return "", nil
	}
	name, err := url.PathUnescape(path)
	if err != nil {
		return "", fmt.Errorf("database name in the URI: %w", err)
	}
	return name, nil
}

// init chooses the write gate, makes the collections and creates the indexes.
func (s *Store) init(ctx context.Context, opts Options) error {
	gate, err := s.chooseGate(ctx, opts.WriteGate)
	if err != nil {
		return err
	}
	s.gate = gate
	mk := func(name string) coll {
		c := coll{c: s.db.Collection(name)}
		if gate != nil {
			c.gate = gate.collection(name)
		}
		return c
	}
	s.users, s.sessions, s.audit = mk(usersColl), mk(sessionsColl), mk(auditColl)
	s.linkTokens, s.mails, s.counters = mk(linkTokensColl), mk(mailsColl), mk(countersColl)
	s.factors, s.recoveryCodes, s.challenges = mk(factorsColl), mk(recoveryColl), mk(challengesColl)
	if err := s.ensureIndexes(ctx, !opts.NoTTLIndexes); err != nil {
		return err
	}
	return s.backfillFolds(ctx) // admin.go
}

// index is one index to create at Open.
type index struct {
	coll   coll
	name   string
	keys   bson.D
	unique bool
	// ttl, when set, makes it a TTL index: documents go once the key's date is this
	// many seconds past. Servers without TTL support get the index without it.
	ttl *int32
}

func (s *Store) indexes() []index {
	key := func(kv ...any) bson.D {
		d := make(bson.D, 0, len(kv)/2)
		for i := 0; i < len(kv); i += 2 {
			d = append(d, bson.E{Key: kv[i].(string), Value: kv[i+1]})
		}
		return d
	}
	secs := func(d time.Duration) *int32 { n := int32(d / time.Second); return &n }
	return []index{
		// The canonical email is unique: this index, not a lookup, makes two concurrent
		// registrations (or email changes) to one address end in one account. Plain
		// binary comparison, no collation: callers canonicalise.
		{coll: s.users, name: "email_unique", keys: key("email", 1), unique: true},
		// ListLiveSessions and RevokeUserSessions select by user, newest first.
		{coll: s.sessions, name: "user_created", keys: key("user_id", 1, "created_at", -1, "_id", -1)},
		// AuditEvents reads newest first, ties by ID descending, optionally for one user.
		{coll: s.audit, name: "at", keys: key("at", -1, "_id", -1)},
		{coll: s.audit, name: "user_at", keys: key("user_id", 1, "at", -1, "_id", -1)},
		// ListUsers (admin.go): users by creation, alone or after one filter's equality;
		// the query's ranges on the email (email_unique) and on the folded name, surname
		// and pseudo.
		{coll: s.users, name: "created", keys: key("created_at", 1, "_id", 1)},
		{coll: s.users, name: "role_created", keys: key("role", 1, "created_at", 1, "_id", 1)},
		{coll: s.users, name: "disabled_created", keys: key("disabled", 1, "created_at", 1, "_id", 1)},
		// BeginUnconfirmedDeletions finds the old unconfirmed accounts by the same one.
		{coll: s.users, name: "confirmed_created", keys: key("email_confirmed", 1, "created_at", 1, "_id", 1)},
		{coll: s.users, name: "name_fold", keys: key("name_fold", 1)},
		{coll: s.users, name: "surname_fold", keys: key("surname_fold", 1)},
		{coll: s.users, name: "pseudo_fold", keys: key("pseudo_fold", 1)},
		// VoidLinkTokens selects a user's tokens of one purpose.
		{coll: s.linkTokens, name: "user_purpose", keys: key("user_id", 1, "purpose", 1)},
		// ClaimMails takes the pending mails that are due, oldest first.
		{coll: s.mails, name: "due", keys: key("state", 1, "next_attempt_at", 1, "_id", 1)},
		// MailsTo lists one recipient's mails, oldest first.
		{coll: s.mails, name: "to_created", keys: key("to", 1, "created_at", 1, "_id", 1)},
		// A credential is one factor's, whoever's (mfa.go: cred_key is the factor's _id
		// when it has no credential, since FerretDB v1 ignores sparse and refuses partial
		// indexes); FactorByCredentialID reads by it.
		{coll: s.factors, name: "credential_unique", keys: key("cred_key", 1), unique: true},
		// Factors lists a user's factors oldest first; DeleteUserFactors and
		// FinishUserDeletion select by user.
		{coll: s.factors, name: "user_created", keys: key("user_id", 1, "created_at", 1, "_id", 1)},
		// FinishUserDeletion removes a user's challenges.
		{coll: s.challenges, name: "user", keys: key("user_id", 1)},

		// PurgeExpired's indexes, TTL indexes by the same rules where the server has
		// them, on a date each document keeps: purge_at is when a session or link token
		// is over (its earliest expiry, use or revocation), finished_at when a mail became
		// sent or failed, reset_at when a counter's window ends.
		{coll: s.sessions, name: "purge", keys: key("purge_at", 1), ttl: secs(purgeGrace)},
		{coll: s.linkTokens, name: "purge", keys: key("purge_at", 1), ttl: secs(purgeGrace)},
		{coll: s.mails, name: "finished", keys: key("finished_at", 1), ttl: secs(mailsRetention)},
		{coll: s.counters, name: "reset", keys: key("reset_at", 1), ttl: secs(0)},
		// A challenge is over at its expiry. Pending factors go a day after theirs, by
		// PurgeExpired only: a TTL index would also take a confirmed factor stored with an
		// expiry, which CreateFactor stores as given.
		{coll: s.challenges, name: "expires", keys: key("expires_at", 1), ttl: secs(0)},
		{coll: s.factors, name: "pending", keys: key("confirmed", 1, "expires_at", 1)},
	}
}

// ensureIndexes creates the indexes. Creating an index that exists with the same keys and
// options is a no-op for the server, so every Open runs it. The expiry of a TTL index is
// left out when withTTL is false, or when the server does not implement TTL indexes (which
// is logged): the index then only serves PurgeExpired's queries.
func (s *Store) ensureIndexes(ctx context.Context, withTTL bool) error {
	var noTTL []string
	for _, ix := range s.indexes() {
		create := func(ttl bool) error {
			o := options.Index().SetName(ix.name)
			if ix.unique {
				o.SetUnique(true)
			}
			if ttl {
				o.SetExpireAfterSeconds(*ix.ttl)
			}
			_, err := ix.coll.c.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: ix.keys, Options: o})
			return err
		}
		name := ix.coll.c.Name() + "." + ix.name
		ttl := ix.ttl != nil && withTTL
		err := create(ttl)
		if err != nil && ttl && isNotImplemented(err) {
			noTTL = append(noTTL, name)
			err = create(false)
		}
		if err != nil {
			return mapErr("open: create index "+name, err)
		}
	}
	if len(noTTL) > 0 {
		s.log.Warn("mongodb: the server does not support TTL indexes; expired records are removed by the periodic purge only",
			"indexes", noTTL)
	}
	return nil
}

// Close disconnects from the server. Calls made after Close fail with
// store.ErrUnavailable. Closing twice is a no-op.
func (s *Store) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	if err := s.client.Disconnect(ctx); err != nil && !errors.Is(err, mongo.ErrClientDisconnected) {
		return fmt.Errorf("mongodb: close: %w", err)
	}
	return nil
}

// Ping reports whether the primary can be reached.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.checkOpen("ping"); err != nil {
		return err
	}
	return mapErr("ping", s.client.Ping(ctx, readpref.Primary()))
}

// checkOpen fails fast after Close, whatever the driver would say.
func (s *Store) checkOpen(op string) error {
	if s.closed.Load() {
		return fmt.Errorf("mongodb: %s: store closed: %w", op, store.ErrUnavailable)
	}
	return nil
}

// Reads and inserts need no gate: a reader sees a document before or after a write, never
// half of it, and a unique index decides an insert whatever the server.

func (c coll) findOne(ctx context.Context, filter any, out any, opts ...options.Lister[options.FindOneOptions]) error {
	return c.c.FindOne(ctx, filter, opts...).Decode(out)
}

// findAll decodes every document of a Find into out, a pointer to a slice.
func (c coll) findAll(ctx context.Context, filter any, out any, opts ...options.Lister[options.FindOptions]) error {
	cur, err := c.c.Find(ctx, filter, opts...)
	if err != nil {
		return err
	}
	return cur.All(ctx, out)
}

func (c coll) insertOne(ctx context.Context, doc any) error {
	_, err := c.c.InsertOne(ctx, doc)
	return err
}

// The updates and deletes, each through the gate.

// findOneAndUpdate runs a FindOneAndUpdate and decodes the document it returns into out.
// mongo.ErrNoDocuments when nothing matched.
func (c coll) findOneAndUpdate(ctx context.Context, filter, update, out any, opts ...options.Lister[options.FindOneAndUpdateOptions]) error {
	release, err := c.enter(ctx)
	if err != nil {
		return err
	}
	defer release()
	return c.c.FindOneAndUpdate(ctx, filter, update, opts...).Decode(out)
}

func (c coll) updateOne(ctx context.Context, filter, update any, opts ...options.Lister[options.UpdateOneOptions]) (*mongo.UpdateResult, error) {
	release, err := c.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	return c.c.UpdateOne(ctx, filter, update, opts...)
}

func (c coll) updateMany(ctx context.Context, filter, update any) (*mongo.UpdateResult, error) {
	release, err := c.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	return c.c.UpdateMany(ctx, filter, update)
}

func (c coll) deleteOne(ctx context.Context, filter any) (*mongo.DeleteResult, error) {
	release, err := c.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	return c.c.DeleteOne(ctx, filter)
}

// findOneAndDelete deletes the document filter matches and decodes it into out.
// mongo.ErrNoDocuments when nothing matched.
func (c coll) findOneAndDelete(ctx context.Context, filter, out any) error {
	release, err := c.enter(ctx)
	if err != nil {
		return err
	}
	defer release()
	return c.c.FindOneAndDelete(ctx, filter).Decode(out)
}

func (c coll) deleteMany(ctx context.Context, filter any) (*mongo.DeleteResult, error) {
	release, err := c.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	return c.c.DeleteMany(ctx, filter)
}

// afterUpdate makes FindOneAndUpdate return the document as updated. A new builder each
// call: options builders are mutable, so the package shares none.
func afterUpdate() *options.FindOneAndUpdateOptionsBuilder {
	return options.FindOneAndUpdate().SetReturnDocument(options.After)
}

// classify explains why a conditional update matched nothing: a document that matches
// filter (its _id, and owner where it matters) exists, so the condition failed
// (store.ErrConflict), or it does not (store.ErrNotFound). The update already decided; this
// read only tells why.
func (s *Store) classify(ctx context.Context, op string, c coll, filter bson.M) error {
	var id bson.Raw
	err := c.findOne(ctx, filter, &id, options.FindOne().SetProjection(bson.M{"_id": 1}))
	switch {
	case err == nil:
		return errConflict(op)
	case errors.Is(err, mongo.ErrNoDocuments):
		return errNotFound(op)
	}
	return mapErr(op, err)
}

func errConflict(op string) error { return fmt.Errorf("mongodb: %s: %w", op, store.ErrConflict) }

func errConflictCause(op string, cause error) error {
	return fmt.Errorf("mongodb: %s: %w: %w", op, store.ErrConflict, cause)
}

func errNotFound(op string) error { return fmt.Errorf("mongodb: %s: %w", op, store.ErrNotFound) }

// mapErr wraps err with op and the store sentinel it means, so callers can use errors.Is
// without knowing the driver. nil stays nil.
func mapErr(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, mongo.ErrNoDocuments):
		return errNotFound(op)
	case isDuplicate(err):
		return fmt.Errorf("mongodb: %s: %w: %w", op, store.ErrConflict, err)
	case isUnavailable(err):
		return fmt.Errorf("mongodb: %s: %w: %w", op, store.ErrUnavailable, err)
	}
	return fmt.Errorf("mongodb: %s: %w", op, err)
}

// isDuplicate reports a unique index violation: E11000 and its relatives, and the report
// of FerretDB v1, which answers a violation by an update with an internal error (code 1)
// carrying SQLite's "UNIQUE constraint failed".
func isDuplicate(err error) bool {
	if mongo.IsDuplicateKeyError(err) {
		return true
	}
	var se mongo.ServerError
	if !errors.As(err, &se) || !se.HasErrorCode(1) {
		return false
	}
	msg := strings.ToLower(err.Error())
	return strings.Contains(msg, "unique constraint failed") || strings.Contains(msg, "duplicate key")
}

// unavailableCode reports the server errors that say the server cannot serve now (stepping
// down, shutting down, unreachable peers, time limits), not anything about the data.
func unavailableCode(se mongo.ServerError) bool {
	for _, code := range [...]int{
		6,     // HostUnreachable
		7,     // HostNotFound
		50,    // MaxTimeMSExpired
		64,    // WriteConcernFailed
		89,    // NetworkTimeout
		91,    // ShutdownInProgress
		133,   // FailedToSatisfyReadPreference
		189,   // PrimarySteppedDown
		262,   // ExceededTimeLimit
		9001,  // SocketException
		10107, // NotWritablePrimary
		11600, // InterruptedAtShutdown
		11602, // InterruptedDueToReplStateChange
		13435, // NotPrimaryNoSecondaryOk
		13436, // NotPrimaryOrSecondary
	} {
		if se.HasErrorCode(code) {
			return true
		}
	}
	return false
}

// isUnavailable reports errors that mean the server could not be reached or did not answer
// in time: timeouts, network errors, failed server selection, a closed client or pool, a
// context that ended, and the server's own "not now" answers.
func isUnavailable(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, mongo.ErrClientDisconnected) || errors.Is(err, topology.ErrPoolClosed) ||
		mongo.IsTimeout(err) || mongo.IsNetworkError(err) {
		return true
	}
	var (
		sse topology.ServerSelectionError
		ce  topology.ConnectionError
		wqe topology.WaitQueueTimeoutError
		rpe driver.RetryablePoolError // the pool was cleared after a network error
	)
	if errors.As(err, &sse) || errors.As(err, &ce) || errors.As(err, &wqe) ||
		(errors.As(err, &rpe) && rpe.Retryable()) {
		return true
	}
	var se mongo.ServerError
	if errors.As(err, &se) {
		return se.HasErrorLabel("RetryableWriteError") || se.HasErrorLabel("NetworkError") ||
			unavailableCode(se) || interruptedByShutdown(se)
	}
	return false
}

// interruptedByShutdown reports FerretDB v1 cancelling a command because it is shutting
// down: it answers InternalError (code 1) carrying its context's error, or database/sql's
// "transaction has already been committed or rolled back" for a transaction its shutdown
// rolled back, where MongoDB answers InterruptedAtShutdown (11600). The server is going
// away: an outage, not a fault in the data (found by the store-lost drill,
// drills.TestStoreMongoLostUnderLoad).
func interruptedByShutdown(se mongo.ServerError) bool {
	if !se.HasErrorCode(1) {
		return false
	}
	msg := se.Error()
	return strings.Contains(msg, context.Canceled.Error()) || strings.Contains(msg, "transaction has already been committed or rolled back")
}

// isNotImplemented reports a server saying it does not implement what was asked (FerretDB
// v1 for TTL indexes: NotImplemented, 238).
func isNotImplemented(err error) bool {
	var se mongo.ServerError
	if !errors.As(err, &se) {
		return false
	}
	if se.HasErrorCode(238) || se.HasErrorCode(115) { // NotImplemented, CommandNotSupported
		return true
	}
	msg := strings.ToLower(err.Error())
	return strings.Contains(msg, "not implemented") || strings.Contains(msg, "not supported")
}
