// Package mongotest gives tests a MongoDB-wire server with nothing installed: the server
// named by TOKTOK_TEST_MONGODB_URI (a real MongoDB or replica set) when it is set, and
// otherwise FerretDB v1 started in the test process over SQLite in a temporary directory.
// Only tests import it, so the service binary never carries FerretDB.
package mongotest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// URIEnv names a MongoDB server for the tests instead of the in-process FerretDB.
const URIEnv = "TOKTOK_TEST_MONGODB_URI"

// Ferret is FerretDB v1 running in this process.
type Ferret struct {
	uri    string
	addr   string
	cancel context.CancelFunc
	done   chan struct{}
}

// StartFerret starts FerretDB with its SQLite databases in dir, listening on addr
// ("127.0.0.1:0" for a free port).
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

var (
	sharedMu     sync.Mutex
	sharedURI    string
	sharedFerret *Ferret
	sharedDir    string
)

// SharedURI returns the URI of one server for the whole test process, starting FerretDB
// the first time when TOKTOK_TEST_MONGODB_URI is not set. Call Cleanup from TestMain.
func SharedURI() (string, error) {
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if sharedURI != "" {
		return sharedURI, nil
	}
	if uri := os.Getenv(URIEnv); uri != "" {
		sharedURI = uri
		return uri, nil
	}
	dir, err := os.MkdirTemp("", "toktok-ferretdb-")
	if err != nil {
		return "", err
	}
	f, err := StartFerret(dir, "127.0.0.1:0")
	if err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	sharedURI, sharedFerret, sharedDir = f.URI(), f, dir
	return sharedURI, nil
}

// Cleanup stops the shared FerretDB, if one was started, and removes its files.
func Cleanup() {
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if sharedFerret != nil {
		sharedFerret.Stop()
		os.RemoveAll(sharedDir)
		sharedFerret, sharedURI = nil, ""
	}
}

var (
	runID = func() string {
		b := make([]byte, 4)
		_, _ = rand.Read(b)
		return hex.EncodeToString(b)
	}()
	seq atomic.Int64
)

// NewDBName returns a database name no other test of any run uses.
func NewDBName() string { return fmt.Sprintf("tt_%s_%d", runID, seq.Add(1)) }

// DropDatabase drops a test database, so runs against an external server leave nothing.
func DropDatabase(uri, name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := mongo.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		return err
	}
	defer c.Disconnect(ctx)
	return c.Database(name).Drop(ctx)
}
