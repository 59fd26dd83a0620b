package mongodb

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/toktok/toktok/store"
)

// WriteGate serialises the updates and deletes of the Stores it is given to, collection by
// collection. It exists for servers that do not apply a single-document update atomically
// (FerretDB v1 reads the document, changes it in its own process and writes it back): there
// a conditional update is atomic only while no other write to its collection runs, so every
// Store writing to one database must take the same gate.
//
// A gate only holds back writes that pass through it, so it serialises Stores of one
// process: give one WriteGate to every Store of the process that shares a database (two
// instances of the service in one test binary, say). Nothing serialises separate processes;
// several processes must not share a FerretDB v1 database.
//
// On a server whose single-document updates are atomic (MongoDB, FerretDB v2) a WriteGate
// is not used, and Open says so at debug level. Sharing one gate among Stores on different
// databases is correct, only slower: their writes to like-named collections wait for each
// other.
//
// A WriteGate is safe for concurrent use. It must not be copied after first use.
type WriteGate struct {
	mu    sync.Mutex
	colls map[string]chan struct{} // collection name -> a semaphore of one
}

// NewWriteGate returns a gate to pass, as Options.WriteGate, to every Store of this process
// that opens the same database. The zero WriteGate is ready to use too.
func NewWriteGate() *WriteGate { return &WriteGate{} }

// collection returns the named collection's semaphore: the same channel to every Store
// given this gate.
func (g *WriteGate) collection(name string) chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.colls == nil {
		g.colls = map[string]chan struct{}{}
	}
	c, ok := g.colls[name]
	if !ok {
		c = make(chan struct{}, 1)
		g.colls[name] = c
	}
	return c
}

// chooseGate decides, once at Open, which gate the store's writes take, and logs which case
// applies: a server that applies updates atomically needs none (a given gate is unused); on
// FerretDB v1 the writes take the given gate, or else one of the store's own, which
// serialises this Store's writes and nothing else.
func (s *Store) chooseGate(ctx context.Context, given *WriteGate) (*WriteGate, error) {
	atomicUpdates, err := s.atomicUpdates(ctx)
	if err != nil {
		return nil, err
	}
	db := s.db.Name()
	switch {
	case atomicUpdates:
		s.log.Info("mongodb: the server applies single-document updates atomically; writes run without a gate",
			"database", db)
		if given != nil {
			s.log.Debug("mongodb: Options.WriteGate is unused: this server needs no write gate", "database", db)
		}
		return nil, nil
	case given != nil:
		s.log.Warn("mongodb: the server (FerretDB v1) does not apply updates atomically; "+
			"writes are serialised with the stores sharing this WriteGate, in this process only: "+
			"several processes sharing this database can lose updates", "database", db)
		return given, nil
	default:
		s.log.Warn("mongodb: the server (FerretDB v1) does not apply updates atomically; "+
			"this store serialises its own writes, in this process only: several processes "+
			"(or stores without a shared WriteGate) sharing this database can lose updates", "database", db)
		return NewWriteGate(), nil
	}
}

// atomicUpdates asks the server what it is. FerretDB reports its own version in buildInfo;
// before version 2 its updates are read-modify-write in FerretDB's process, not atomic.
// Every other server is taken at its word as MongoDB.
func (s *Store) atomicUpdates(ctx context.Context) (bool, error) {
	var info struct {
		FerretDBVersion *string `bson:"ferretdbVersion"`
	}
	err := s.client.Database("admin").RunCommand(ctx, bson.D{{Key: "buildInfo", Value: 1}}).Decode(&info)
	if err != nil {
		if err := mapErr("open: buildInfo", err); errors.Is(err, store.ErrUnavailable) {
			return false, err
		}
		// A server that refuses buildInfo is not FerretDB, which answers it.
		s.log.Info("mongodb: buildInfo refused; assuming atomic single-document updates", "err", err)
		return true, nil
	}
	if info.FerretDBVersion == nil {
		return true, nil
	}
	v := strings.TrimPrefix(*info.FerretDBVersion, "v")
	major, _, _ := strings.Cut(v, ".")
	n, err := strconv.Atoi(major)
	// The embedded FerretDB v1 reports "unknown".
	return err == nil && n >= 2, nil
}

// enter takes the collection's write gate, if it has one, and returns its release.
func (c coll) enter(ctx context.Context) (func(), error) {
	if c.gate == nil {
		return func() {}, nil
	}
	select {
	case c.gate <- struct{}{}:
		return func() { <-c.gate }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
