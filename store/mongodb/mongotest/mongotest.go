// Package mongotest gives tests a MongoDB-wire server with nothing installed: the server
// named by TOKTOK_TEST_MONGODB_URI (a real MongoDB or replica set) when it is set, and
// otherwise FerretDB v1 started in the test process over SQLite in a temporary directory.
// Only tests import it, so the service binary never carries FerretDB.
//
// The package keeps no state: the test binary that needs a server starts one with Start,
// keeps it (in a variable of its own test files), and closes it when its tests are over,
// typically from TestMain. A test binary that never calls Start never runs FerretDB.
package mongotest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"
)

// URIEnv names a MongoDB server for the tests instead of the in-process FerretDB.
const URIEnv = "TOKTOK_TEST_MONGODB_URI"

// dropTimeout bounds the drop of a test's database, which runs after the test's context
// has ended.
const dropTimeout = 10 * time.Second

// Server is the MongoDB-wire server of one test binary, shared by its tests, each on
// databases of its own (NewDatabase). It is safe for concurrent use.
type Server struct {
	uri    string
	ferret *Ferret // nil when the server is URIEnv's
	dir    string  // FerretDB's files; "" when the server is URIEnv's
	client *mongo.Client
	runID  string       // tells this run's databases from other runs' on a shared server
	seq    atomic.Int64 // numbers this run's databases
}

// Start returns the server the tests use: the one URIEnv names, or else FerretDB v1 started
// in this process on a loopback port, over SQLite in a new temporary directory. ctx bounds
// the start only (a first ping, so that a wrong URIEnv fails here, once); the server runs
// until Close.
func Start(ctx context.Context) (*Server, error) {
	s := &Server{uri: os.Getenv(URIEnv)}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	s.runID = hex.EncodeToString(b)
	if s.uri == "" {
		dir, err := os.MkdirTemp("", "toktok-ferretdb-")
		if err != nil {
			return nil, fmt.Errorf("mongotest: %w", err)
		}
		s.dir = dir
		f, err := StartFerret(dir, "127.0.0.1:0")
		if err != nil {
			_ = s.Close()
			return nil, fmt.Errorf("mongotest: start FerretDB: %w", err)
		}
		s.ferret, s.uri = f, f.URI()
	}
	c, err := mongo.Connect(options.Client().ApplyURI(s.uri))
	if err == nil {
		s.client = c
		err = c.Ping(ctx, readpref.Primary())
	}
	if err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("mongotest: server %s: %w", redact(s.uri), err)
	}
	return s, nil
}

// redact leaves the password out of a URI that goes into an error.
func redact(uri string) string {
	if u, err := url.Parse(uri); err == nil {
		return u.Redacted()
	}
	return "(" + URIEnv + ")"
}

// URI is the mongodb:// URI of the server; it names no database.
func (s *Server) URI() string { return s.uri }

// InProcess reports whether the server is FerretDB running in this process, rather than
// the server URIEnv names.
func (s *Server) InProcess() bool { return s.ferret != nil }

// NewDatabase returns the server's URI and the name of a database that no other test of any
// run uses, and drops that database when t ends (after the cleanups t registers later, such
// as closing a store), so runs against an external server leave nothing behind.
func (s *Server) NewDatabase(t testing.TB) (uri, db string) {
	t.Helper()
	db = fmt.Sprintf("tt_%s_%d", s.runID, s.seq.Add(1))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), dropTimeout)
		defer cancel()
		if err := s.client.Database(db).Drop(ctx); err != nil {
			t.Errorf("mongotest: drop test database %s: %v", db, err)
		}
	})
	return s.uri, db
}

// Close stops the in-process FerretDB, if it was started, and removes its files. Tests
// still using the server fail after it.
func (s *Server) Close() error {
	var errs []error
	if s.client != nil {
		ctx, cancel := context.WithTimeout(context.Background(), dropTimeout)
		errs = append(errs, s.client.Disconnect(ctx))
		cancel()
	}
	if s.ferret != nil {
		s.ferret.Stop()
	}
	if s.dir != "" {
		errs = append(errs, os.RemoveAll(s.dir))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("mongotest: close: %w", err)
	}
	return nil
}

// Ferret is FerretDB v1 running in this process. Server uses one; tests that stop and
// restart a server (an outage) start their own.
type Ferret struct {
	uri    string
	addr   string
	cancel context.CancelFunc
	done   chan struct{}
}

// StartFerret starts FerretDB with its SQLite databases in dir, listening on addr
// ("127.0.0.1:0" for a free port). Starting it again on the same dir and address after
// Stop brings back the same server, data included.
func StartFerret(dir, addr string) (*Ferret, error) {
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: addr},
		Handler:   "sqlite",
		SQLiteURL: "file:" + dir + "/",
		Logger:    slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv := &Ferret{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(srv.done)
		_ = f.Run(ctx)
	}()
	srv.uri = f.MongoDBURI() // the listener is bound by New
	u, err := url.Parse(srv.uri)
	if err != nil {
		srv.Stop()
		return nil, err
	}
	srv.addr = u.Host
	return srv, nil
}

// URI is the mongodb:// URI of the server.
func (f *Ferret) URI() string { return f.uri }

// Addr is the host:port it listens on.
func (f *Ferret) Addr() string { return f.addr }

// Stop stops the server once it has closed every connection.
func (f *Ferret) Stop() {
	f.cancel()
	<-f.done
}
