package mongodb

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/topology"

	"github.com/toktok/toktok/store"
	"github.com/toktok/toktok/store/mongodb/mongotest"
	"github.com/toktok/toktok/store/storetest"
)

// The tests run against the server named by TOKTOK_TEST_MONGODB_URI (a real MongoDB or
// replica set) when it is set, and otherwise against FerretDB v1 started in this process
// on a loopback port over SQLite in a temporary directory, so a plain `go test ./...` needs
// nothing installed. Each test gets a database of its own, dropped when it ends.

// testSrv is this test binary's server, started and closed by TestMain. Only
// TestOutageAndRecovery runs a server of its own, which it stops and starts again.
var testSrv *mongotest.Server

func TestMain(m *testing.M) {
	os.Exit(func() int {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		srv, err := mongotest.Start(ctx)
		cancel()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer func() {
			if err := srv.Close(); err != nil {
				fmt.Fprintln(os.Stderr, err)
			}
		}()
		testSrv = srv
		return m.Run()
	}())
}

// openTest opens a store on the test server, on a fresh database (dropped when the test
// ends) unless opts names one, and closes the store when the test ends.
func openTest(t testing.TB, opts Options) *Store {
	t.Helper()
	uri := testSrv.URI()
	if opts.Database == "" {
		_, opts.Database = testSrv.NewDatabase(t)
	}
	s, err := Open(t.Context(), uri, opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", opts.Database, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		// Every subtest has a database of its own, so they can overlap: FerretDB v1 scans a
		// collection for every conditional write, and the outbox and link-token races
		// alone take most of the suite's time.
		t.Parallel()
		// The suite's fixed clock lies months before a real server's: TTL indexes would
		// let the server delete its fixtures.
		return openTest(t, Options{NoTTLIndexes: true})
	})
}

var testTime = time.Date(2026, time.January, 2, 3, 4, 5, 0, time.UTC)

func testUser(id string) store.User {
	return store.User{
		ID: id, Email: id + "@example.com", PasswordHash: "h", Role: store.RoleUser, Lang: "en",
		CreatedAt: testTime, UpdatedAt: testTime,
	}
}

// logBuffer collects a store's log lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// indexSpecs lists a collection's indexes by name.
func indexSpecs(t *testing.T, c coll) map[string]bson.Raw {
	t.Helper()
	cur, err := c.c.Indexes().List(t.Context())
	if err != nil {
		t.Fatalf("list indexes of %s: %v", c.c.Name(), err)
	}
	var specs []bson.Raw
	if err := cur.All(t.Context(), &specs); err != nil {
		t.Fatalf("list indexes of %s: %v", c.c.Name(), err)
	}
	out := map[string]bson.Raw{}
	for _, spec := range specs {
		out[spec.Lookup("name").StringValue()] = spec
	}
	return out
}

// Opening a database that is already set up creates nothing twice and fails on nothing,
// and the indexes are the ones the store relies on.
func TestOpenTwiceKeepsIndexesAndData(t *testing.T) {
	logs := &logBuffer{}
	_, db := testSrv.NewDatabase(t)
	opts := Options{Database: db, Log: slog.New(slog.NewTextHandler(logs, nil))}
	s1 := openTest(t, opts)
	if err := s1.CreateUser(t.Context(), testUser("u1")); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(t.Context(), testSrv.URI(), opts)
	if err != nil {
		t.Fatalf("second Open: %v", err)
	}
	defer s2.Close()
	if _, err := s2.UserByID(t.Context(), "u1"); err != nil {
		t.Errorf("UserByID through the second store: %v", err)
	}
	dup := testUser("u2")
	dup.Email = "u1@example.com"
	if err := s2.CreateUser(t.Context(), dup); !errors.Is(err, store.ErrConflict) {
		t.Errorf("CreateUser(duplicate email) after reopening: %v, want ErrConflict", err)
	}

	ttlRefused := strings.Contains(logs.String(), "does not support TTL indexes")
	for _, ix := range s2.indexes() {
		spec, ok := indexSpecs(t, ix.coll)[ix.name]
		if !ok {
			t.Errorf("index %s.%s missing", ix.coll.c.Name(), ix.name)
			continue
		}
		if ix.unique && !spec.Lookup("unique").Boolean() {
			t.Errorf("index %s.%s is not unique: %s", ix.coll.c.Name(), ix.name, spec)
		}
		expiry, hasExpiry := spec.Lookup("expireAfterSeconds").AsInt64OK()
		switch {
		case ix.ttl == nil || ttlRefused:
			if hasExpiry {
				t.Errorf("index %s.%s has expireAfterSeconds %d, want none", ix.coll.c.Name(), ix.name, expiry)
			}
		case !hasExpiry || expiry != int64(*ix.ttl):
			t.Errorf("index %s.%s: expireAfterSeconds %v, want %d", ix.coll.c.Name(), ix.name, spec.Lookup("expireAfterSeconds"), *ix.ttl)
		}
	}
	if testSrv.InProcess() && !ttlRefused {
		t.Errorf("FerretDB v1 has no TTL indexes, but no log line says so; log:\n%s", logs)
	}
}

// FerretDB v1 applies updates by reading and rewriting documents in its own process, so
// the store must detect it and serialise its writes: through the caller's WriteGate when
// there is one, else through a gate of its own, with a warning that says how far that
// protects. A real MongoDB needs no gate and leaves a given one unused. Open logs which
// case applies.
func TestDetectsNonAtomicServer(t *testing.T) {
	for _, tc := range []struct {
		name string
		gate *WriteGate
		// wantLog is what the log must say on FerretDB v1 and on MongoDB.
		wantFerret, wantMongo []string
	}{
		{"no gate given", nil,
			[]string{"does not apply updates atomically", "serialises its own writes, in this process only", "several processes"},
			[]string{"applies single-document updates atomically"}},
		{"gate given", NewWriteGate(),
			[]string{"does not apply updates atomically", "stores sharing this WriteGate, in this process only", "several processes"},
			[]string{"applies single-document updates atomically", "level=DEBUG", "WriteGate is unused"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs := &logBuffer{}
			log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			s := openTest(t, Options{WriteGate: tc.gate, Log: log})
			t.Logf("server: %s, in process: %t, gate: %p", testSrv.URI(), testSrv.InProcess(), s.gate)
			want := tc.wantMongo
			switch {
			case !testSrv.InProcess():
				// TOKTOK_TEST_MONGODB_URI names a real MongoDB.
				for _, c := range s.colls() {
					if c.gate != nil {
						t.Errorf("%s has a write gate on a server with atomic updates", c.c.Name())
					}
				}
			case s.gate == nil:
				t.Fatal("in-process FerretDB v1 not detected: writes are not serialised")
			case tc.gate != nil && s.gate != tc.gate:
				t.Error("the store ignores the WriteGate it was given")
			default:
				want = tc.wantFerret
				for _, c := range s.colls() {
					if c.gate == nil {
						t.Errorf("%s has no write gate on FerretDB v1", c.c.Name())
					}
				}
			}
			for _, w := range want {
				if !strings.Contains(logs.String(), w) {
					t.Errorf("the log does not say %q; log:\n%s", w, logs)
				}
			}
		})
	}
}

// colls lists every collection of the store.
func (s *Store) colls() []coll {
	return []coll{s.users, s.sessions, s.audit, s.linkTokens, s.mails, s.counters}
}

// Stores given one WriteGate take the same gate for each collection, so that they serialise
// against each other; a store given none serialises only with itself.
func TestStoresShareTheirWriteGate(t *testing.T) {
	if !testSrv.InProcess() {
		t.Skip("a server with atomic updates uses no write gate")
	}
	gate := NewWriteGate()
	_, db := testSrv.NewDatabase(t)
	opts := Options{Database: db, WriteGate: gate}
	s1, s2 := openTest(t, opts), openTest(t, opts)
	own := openTest(t, Options{Database: db})
	for i, c := range s1.colls() {
		if c.gate == nil || c.gate != s2.colls()[i].gate {
			t.Errorf("%s: the two stores given one WriteGate take different gates", c.c.Name())
		}
		if c.gate == own.colls()[i].gate {
			t.Errorf("%s: a store given no WriteGate takes the shared one", c.c.Name())
		}
	}
}

// The conformance suite's races, run through two Stores on one database that share a
// WriteGate, as two instances of the service in one process: on FerretDB v1 the gate keeps
// the conditional updates atomic across the stores, as it does within one (given a gate
// each, the stores fail most of these races there: counts lost, tokens used twice). The
// outbox race is left to TestConformance: on FerretDB v1 it takes a minute, through the
// same gates.
func TestConformanceTwoStoresOneGate(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		name := t.Name()[strings.LastIndex(t.Name(), "/")+1:]
		if !strings.Contains(name, "Concurrent") || name == "ClaimMailsConcurrent" {
			t.Skip("not a race through two stores here; TestConformance runs it")
		}
		t.Parallel()
		_, db := testSrv.NewDatabase(t)
		opts := Options{Database: db, NoTTLIndexes: true, WriteGate: NewWriteGate()}
		return &twoStores{Store: openTest(t, opts), other: openTest(t, opts)}
	})
}

// twoStores is one database seen through two Stores: the calls that the conformance suite
// races alternate between them; the others go to the first.
type twoStores struct {
	*Store
	other *Store
	calls atomic.Uint64
}

func (s *twoStores) next() *Store {
	if s.calls.Add(1)%2 == 0 {
		return s.Store
	}
	return s.other
}

func (s *twoStores) CreateUser(ctx context.Context, u store.User) error {
	return s.next().CreateUser(ctx, u)
}

func (s *twoStores) RecordLogin(ctx context.Context, userID string, now time.Time) (store.User, error) {
	return s.next().RecordLogin(ctx, userID, now)
}

func (s *twoStores) SetPasswordHash(ctx context.Context, userID, oldHash, newHash string, now time.Time) error {
	return s.next().SetPasswordHash(ctx, userID, oldHash, newHash, now)
}

func (s *twoStores) AdvanceSession(ctx context.Context, id string, from int64, now, idle time.Time) (store.Session, error) {
	return s.next().AdvanceSession(ctx, id, from, now, idle)
}

func (s *twoStores) RevokeSession(ctx context.Context, id, userID string, now time.Time, reason string) (bool, error) {
	return s.next().RevokeSession(ctx, id, userID, now, reason)
}

func (s *twoStores) ApplyEmailChange(ctx context.Context, userID, newEmail string, now time.Time) (store.User, error) {
	return s.next().ApplyEmailChange(ctx, userID, newEmail, now)
}

func (s *twoStores) ConsumeLinkToken(ctx context.Context, hash string, purpose store.LinkPurpose, now time.Time) (store.LinkToken, error) {
	return s.next().ConsumeLinkToken(ctx, hash, purpose, now)
}

func (s *twoStores) Hit(ctx context.Context, key string, window time.Duration, now time.Time) (store.Counter, error) {
	return s.next().Hit(ctx, key, window, now)
}

func (s *twoStores) UseTotpStep(ctx context.Context, userID, id string, step int64, now time.Time) error {
	return s.next().UseTotpStep(ctx, userID, id, step, now)
}

func (s *twoStores) UseWebAuthn(ctx context.Context, userID, id string, count uint32, now time.Time) error {
	return s.next().UseWebAuthn(ctx, userID, id, count, now)
}

func (s *twoStores) UseRecoveryCode(ctx context.Context, userID, hash string, now time.Time) (int, error) {
	return s.next().UseRecoveryCode(ctx, userID, hash, now)
}

func (s *twoStores) TakeChallenge(ctx context.Context, id string, kind store.ChallengeKind, now time.Time) (store.Challenge, error) {
	return s.next().TakeChallenge(ctx, id, kind, now)
}

// What is stored is what the API exposes: string IDs (never ObjectIDs), BSON datetimes at
// millisecond precision, binary data, nulls for absent values.
func TestStoredForm(t *testing.T) {
	s := openTest(t, Options{})
	u := testUser("u1")
	u.Data = []byte(`{"a":1}`)
	u.CreatedAt = testTime.Add(123_456_789 * time.Nanosecond)
	if err := s.CreateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	var raw bson.Raw
	err := s.users.findOne(t.Context(), bson.M{"_id": "u1"}, &raw)
	if err != nil {
		t.Fatal(err)
	}
	for field, want := range map[string]bson.Type{
		"_id": bson.TypeString, "email": bson.TypeString, "created_at": bson.TypeDateTime,
		"data": bson.TypeBinary, "pending_email": bson.TypeNull, "last_login_at": bson.TypeNull,
		"login_count": bson.TypeInt64,
	} {
		if got := raw.Lookup(field).Type; got != want {
			t.Errorf("stored %s is %v, want %v", field, got, want)
		}
	}
	if got, want := raw.Lookup("created_at").DateTime(), u.CreatedAt.UnixMilli(); got != want {
		t.Errorf("stored created_at = %d ms, want %d", got, want)
	}

	// Empty data is a value, not an absence.
	e := testUser("u2")
	e.Data = []byte{}
	if err := s.CreateUser(t.Context(), e); err != nil {
		t.Fatal(err)
	}
	if got, err := s.UserByID(t.Context(), "u2"); err != nil || got.Data == nil || len(got.Data) != 0 {
		t.Errorf("UserByID(empty data) = %q (nil: %t), %v; want empty, not nil", got.Data, got.Data == nil, err)
	}
}

// The unique email index decides an email change to a taken address, whichever way the
// server reports the violation on an update (real MongoDB: E11000; FerretDB v1: an
// internal error, code 1).
func TestApplyEmailChangeTakenIsConflict(t *testing.T) {
	s := openTest(t, Options{})
	u := testUser("u1")
	u.PendingEmail = ptr("taken@example.com")
	other := testUser("u2")
	other.Email = "taken@example.com"
	for _, x := range []store.User{u, other} {
		if err := s.CreateUser(t.Context(), x); err != nil {
			t.Fatal(err)
		}
	}
	_, err := s.ApplyEmailChange(t.Context(), "u1", "taken@example.com", testTime.Add(time.Hour))
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("ApplyEmailChange(taken address) = %v, want ErrConflict", err)
	}
	if got, err := s.UserByID(t.Context(), "u1"); err != nil || got.Email != u.Email || got.PendingEmail == nil {
		t.Errorf("u1 after the refused change = %+v, %v; want unchanged", got, err)
	}

	// The same violation straight from the collection, as the server reports it.
	_, err = s.users.updateOne(t.Context(), bson.M{"_id": "u1"}, bson.M{"$set": bson.M{"email": "taken@example.com"}})
	if err == nil {
		t.Fatal("update to a taken email: no error")
	}
	if !isDuplicate(err) {
		t.Errorf("isDuplicate(%v) = false", err)
	}
	t.Logf("the server reports a duplicate on update as: %v", err)
}

func ptr[T any](v T) *T { return &v }

func TestMapErr(t *testing.T) {
	ferretDup := mongo.CommandError{Code: 1, Name: "InternalError",
		Message: "[msg_update.go:133 handler.(*Handler).updateDocument] constraint failed: UNIQUE constraint failed: index 'users_x_email_unique' (2067)"}
	for _, tc := range []struct {
		name string
		err  error
		want error
	}{
		{"no documents", mongo.ErrNoDocuments, store.ErrNotFound},
		{"E11000 write", mongo.WriteException{WriteErrors: mongo.WriteErrors{{Code: 11000, Message: "E11000 duplicate key error"}}}, store.ErrConflict},
		{"E11000 command", mongo.CommandError{Code: 11000, Name: "DuplicateKey"}, store.ErrConflict},
		{"FerretDB v1 duplicate on update", ferretDup, store.ErrConflict},
		{"server selection", topology.ServerSelectionError{Wrapped: errors.New("server selection timeout")}, store.ErrUnavailable},
		{"connection", topology.ConnectionError{Wrapped: errors.New("connection refused")}, store.ErrUnavailable},
		{"deadline", fmt.Errorf("op: %w", context.DeadlineExceeded), store.ErrUnavailable},
		{"canceled", context.Canceled, store.ErrUnavailable},
		{"disconnected", mongo.ErrClientDisconnected, store.ErrUnavailable},
		{"network label", mongo.CommandError{Code: 9999, Labels: []string{"NetworkError"}}, store.ErrUnavailable},
		{"stepped down", mongo.CommandError{Code: 189, Name: "PrimarySteppedDown"}, store.ErrUnavailable},
		{"not writable primary", mongo.WriteException{WriteErrors: mongo.WriteErrors{{Code: 10107}}}, store.ErrUnavailable},
		{"FerretDB v1 shutting down", mongo.CommandError{Code: 1, Name: "InternalError",
			Message: "[fsql.(*DB).InTransaction] context canceled"}, store.ErrUnavailable},
		{"FerretDB v1 rolled back at shutdown", mongo.CommandError{Code: 1, Name: "InternalError",
			Message: "[db.go:167 fsql.(*DB).InTransaction] sql: transaction has already been committed or rolled back"}, store.ErrUnavailable},
	} {
		got := mapErr("op", tc.err)
		if !errors.Is(got, tc.want) {
			t.Errorf("%s: mapErr = %v, want it to wrap %v", tc.name, got, tc.want)
		}
		for _, other := range []error{store.ErrNotFound, store.ErrConflict, store.ErrUnavailable} {
			if other != tc.want && errors.Is(got, other) {
				t.Errorf("%s: mapErr = %v also wraps %v", tc.name, got, other)
			}
		}
	}
	// Other internal errors are not conflicts, nor anything else.
	other := mapErr("op", mongo.CommandError{Code: 1, Message: "something else broke"})
	for _, sentinel := range []error{store.ErrNotFound, store.ErrConflict, store.ErrUnavailable} {
		if errors.Is(other, sentinel) {
			t.Errorf("mapErr(internal error) = %v, wraps %v", other, sentinel)
		}
	}
	if mapErr("op", nil) != nil {
		t.Error("mapErr(nil) != nil")
	}
}

func TestURIDatabase(t *testing.T) {
	for uri, want := range map[string]string{
		"mongodb://h":                   "",
		"mongodb://h/":                  "",
		"mongodb://h:27017/toktok_prod": "toktok_prod",
		"mongodb://u:p%2Fq@h1:1,h2:2/db?replicaSet=r":    "db",
		"mongodb+srv://cluster.example.com/app?tls=true": "app",
		"mongodb://h/?serverSelectionTimeoutMS=100":      "",
		"mongodb://h/my%20db":                            "my db",
	} {
		got, err := uriDatabase(uri)
		if err != nil || got != want {
			t.Errorf("uriDatabase(%q) = %q, %v; want %q", uri, got, err, want)
		}
	}
}

func TestOpenChoosesDatabase(t *testing.T) {
	if !testSrv.InProcess() {
		t.Skip("needs the in-process server, whose URI has no database of its own")
	}
	uri, name := testSrv.NewDatabase(t)
	withDB := strings.TrimSuffix(uri, "/") + "/" + name
	for _, tc := range []struct {
		uri, option, want string
	}{
		{withDB, "", name},
		{withDB, name + "_opt", name + "_opt"},
		{uri, "", DefaultDatabase},
	} {
		s, err := Open(t.Context(), tc.uri, Options{Database: tc.option, NoTTLIndexes: true})
		if err != nil {
			t.Fatalf("Open(%q, %q): %v", tc.uri, tc.option, err)
		}
		if got := s.db.Name(); got != tc.want {
			t.Errorf("Open(%q, Database %q) uses %q, want %q", tc.uri, tc.option, got, tc.want)
		}
		if err := s.db.Drop(t.Context()); err != nil {
			t.Errorf("drop: %v", err)
		}
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	}
}

func TestOpenRejectsOtherSchemes(t *testing.T) {
	for _, uri := range []string{"", "sqlite:/tmp/x.db", "http://localhost:27017", "mongodb:/h", "mongodb://h/?connectTimeoutMS=notanumber"} {
		s, err := Open(t.Context(), uri, Options{})
		if err == nil {
			s.Close()
			t.Errorf("Open(%q): no error", uri)
			continue
		}
		if errors.Is(err, store.ErrUnavailable) {
			t.Errorf("Open(%q) = %v: a bad URI is not an outage", uri, err)
		}
	}
}

func TestClosedStoreIsUnavailable(t *testing.T) {
	uri, db := testSrv.NewDatabase(t)
	s, err := Open(t.Context(), uri, Options{Database: db, NoTTLIndexes: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	for name, call := range everyKindOfCall(t.Context(), s) {
		if err := call(); !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("%s after Close: %v, want ErrUnavailable", name, err)
		}
	}
}

func TestCanceledContextIsUnavailable(t *testing.T) {
	s := openTest(t, Options{})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := s.UserByID(ctx, "u1")
	if !errors.Is(err, store.ErrUnavailable) || errors.Is(err, store.ErrNotFound) {
		t.Errorf("UserByID with a canceled context: %v, want ErrUnavailable and not ErrNotFound", err)
	}
	if _, err := s.RecordLogin(ctx, "u1", testTime); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("RecordLogin with a canceled context: %v, want ErrUnavailable", err)
	}
}

// everyKindOfCall is one call of each kind the store makes: reads, inserts, conditional
// updates, upserts, batches and deletes.
func everyKindOfCall(ctx context.Context, s *Store) map[string]func() error {
	now := testTime.Add(time.Minute)
	return map[string]func() error{
		"Ping":        func() error { return s.Ping(ctx) },
		"UserByID":    func() error { _, err := s.UserByID(ctx, "u1"); return err },
		"UserByEmail": func() error { _, err := s.UserByEmail(ctx, "u1@example.com"); return err },
		"CreateUser":  func() error { return s.CreateUser(ctx, testUser("u9")) },
		"RecordLogin": func() error { _, err := s.RecordLogin(ctx, "u1", now); return err },
		"SetPasswordHash": func() error {
			return s.SetPasswordHash(ctx, "u1", "h", "h2", now)
		},
		"SessionByID": func() error { _, err := s.SessionByID(ctx, "s1"); return err },
		"AdvanceSession": func() error {
			_, err := s.AdvanceSession(ctx, "s1", 0, now, now.Add(time.Hour))
			return err
		},
		"ListLiveSessions": func() error { _, err := s.ListLiveSessions(ctx, "u1", now); return err },
		"RevokeSession": func() error {
			_, err := s.RevokeSession(ctx, "s1", "u1", now, "logout")
			return err
		},
		"RevokeUserSessions": func() error {
			_, err := s.RevokeUserSessions(ctx, "u1", "", now, "admin")
			return err
		},
		"AuditEvents": func() error { _, err := s.AuditEvents(ctx, "", 10); return err },
		"ConfirmEmail": func() error {
			_, err := s.ConfirmEmail(ctx, "u1", "u1@example.com", now)
			return err
		},
		"ApplyEmailChange": func() error {
			_, err := s.ApplyEmailChange(ctx, "u1", "x@example.com", now)
			return err
		},
		"ConsumeLinkToken": func() error {
			_, err := s.ConsumeLinkToken(ctx, "h", store.LinkConfirm, now)
			return err
		},
		"VoidLinkTokens": func() error {
			_, err := s.VoidLinkTokens(ctx, "u1", store.LinkConfirm, now)
			return err
		},
		"ClaimMails": func() error {
			_, err := s.ClaimMails(ctx, "w", now, now.Add(time.Minute), 10)
			return err
		},
		"MarkMailSent": func() error { return s.MarkMailSent(ctx, "m1", "w", now) },
		"MailsTo":      func() error { _, err := s.MailsTo(ctx, "u1@example.com"); return err },
		"Hit":          func() error { _, err := s.Hit(ctx, "k", time.Minute, now); return err },
		"PeekCounter":  func() error { _, err := s.PeekCounter(ctx, "k", now); return err },
		"HoldCounter":  func() error { return s.HoldCounter(ctx, "k", now.Add(time.Hour)) },
		"ResetCounter": func() error { return s.ResetCounter(ctx, "k") },
		"PurgeExpired": func() error { _, err := s.PurgeExpired(ctx, now); return err },
	}
}

// With the database down every call fails with ErrUnavailable within the server selection
// timeout, and once a server is back on the same address the same store serves again,
// without being reopened. The outage is real: a FerretDB of this test's own, stopped and
// started again on its port (with the same data), whichever server the other tests use.
func TestOutageAndRecovery(t *testing.T) {
	dir := t.TempDir()
	srv, err := mongotest.StartFerret(dir, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if srv != nil {
			srv.Stop()
		}
	}()

	// A short server selection timeout, as a deployment that wants quick failures sets it.
	const selection = 300 * time.Millisecond
	uri := fmt.Sprintf("mongodb://%s/?serverSelectionTimeoutMS=%d&connectTimeoutMS=%d",
		srv.Addr(), selection.Milliseconds(), selection.Milliseconds())
	s, err := Open(t.Context(), uri, Options{Database: "outage"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.CreateUser(t.Context(), testUser("u1")); err != nil {
		t.Fatal(err)
	}

	srv.Stop()

	// Every kind of call, at once: each fails on its own server selection timeout (writes
	// to one collection queue on the FerretDB gate, one timeout each). "Quickly" is
	// relative to the driver's default of 30 s per call: every call must answer before a
	// deadline well under it, which leaves room for a slow machine, the race detector and
	// the gate's queue. A call the deadline cut short fails with ErrUnavailable too (a
	// context that ends is an outage to the store), so each goroutine notes whether the
	// deadline had passed when its call returned.
	const quick = 15 * time.Second
	ctx, cancel := context.WithTimeout(t.Context(), quick)
	defer cancel()
	calls := everyKindOfCall(ctx, s)
	type outcome struct {
		err  error
		late bool // the deadline had passed when the call returned
	}
	var (
		mu       sync.Mutex
		outcomes = map[string]outcome{}
		wg       sync.WaitGroup
	)
	for name, call := range calls {
		wg.Go(func() {
			err := call()
			late := ctx.Err() != nil
			mu.Lock()
			outcomes[name] = outcome{err, late}
			mu.Unlock()
		})
	}
	wg.Wait()
	for name, o := range outcomes {
		if o.late {
			t.Errorf("%s with the server down did not answer before the %v deadline (%v)", name, quick, o.err)
			continue
		}
		if !errors.Is(o.err, store.ErrUnavailable) {
			t.Errorf("%s with the server down: %v, want ErrUnavailable", name, o.err)
		}
	}
	if _, err := Open(t.Context(), uri, Options{Database: "outage"}); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Open with the server down: %v, want ErrUnavailable", err)
	}

	// The server comes back on the same address, with its data.
	addr := srv.Addr()
	srv, err = mongotest.StartFerret(dir, addr)
	if err != nil {
		t.Fatalf("restart FerretDB on %s: %v", addr, err)
	}
	// The driver reconnects by itself; ping (bounded) until the store answers.
	back := time.NewTimer(30 * time.Second)
	defer back.Stop()
	poll := time.NewTicker(100 * time.Millisecond)
	defer poll.Stop()
	for {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		err := s.Ping(ctx)
		cancel()
		if err == nil {
			break
		}
		select {
		case <-back.C:
			t.Fatalf("store still failing 30 s after the server came back: %v", err)
		case <-poll.C:
		}
	}
	if _, err := s.UserByID(t.Context(), "u1"); err != nil {
		t.Errorf("UserByID after the server came back: %v", err)
	}
	if err := s.CreateUser(t.Context(), testUser("u2")); err != nil {
		t.Errorf("CreateUser after the server came back: %v", err)
	}
	if c, err := s.Hit(t.Context(), "k", time.Minute, testTime); err != nil || c.Count < 1 {
		t.Errorf("Hit after the server came back = %+v, %v", c, err)
	}
}
